"""Templates write Zarr v3 metadata and coordinates first, extend, and refuse other changes."""

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr
import zarr

from climaflow.reformat.template import Encoding, StoreStructureError
from tests.reformat.example_dataset import DAY, LATITUDES, START, ExampleTemplate

END = START + 8 * DAY


def test_metadata_and_coordinates_only(tmp_path):
    store = tmp_path / "out.zarr"
    ExampleTemplate().write_metadata(store, END)

    meta = json.loads((store / "temperature" / "zarr.json").read_text())
    assert meta["zarr_format"] == 3
    assert meta["shape"] == [8, 3, 4]
    (sharding,) = meta["codecs"]
    assert sharding["name"] == "sharding_indexed"
    assert sharding["configuration"]["chunk_shape"] == [2, 3, 2]
    blosc = sharding["configuration"]["codecs"][1]
    assert blosc["configuration"]["cname"] == "zstd"
    assert blosc["configuration"]["clevel"] == 3
    assert blosc["configuration"]["shuffle"] == "shuffle"
    assert not (store / "temperature" / "c").exists()  # no data written

    ds = xr.open_zarr(store)
    np.testing.assert_array_equal(ds["time"].values, np.arange(START, END, DAY))
    np.testing.assert_array_equal(ds["latitude"].values, LATITUDES)
    assert np.isnan(ds["temperature"].values).all()  # fill value until written


def test_the_template_dataset_is_one_dask_chunk_per_variable_however_long():
    """Writing metadata builds a graph over the template's dask chunks: one per variable
    keeps it as cheap for decades of data as for a day (the store's chunks and shards come
    from the encoding)."""
    template = ExampleTemplate()
    for days in (8, 8 * 365 * 40):
        ds = template.to_dataset(START + days * DAY)
        for var in template.data_vars:
            assert len(ds[var.name].data.__dask_graph__()) == 1, (var.name, days)
            assert ds[var.name].encoding["shards"] == var.encoding.shards


def test_extension_grows_the_append_dim(tmp_path):
    store = tmp_path / "out.zarr"
    template = ExampleTemplate()
    template.write_metadata(store, END)
    zarr.open_array(store / "temperature", mode="r+")[:4] = 1.0
    template.write_metadata(store, END + 4 * DAY)

    ds = xr.open_zarr(store)
    assert ds.sizes["time"] == 12
    assert (ds["temperature"].values[:4] == 1.0).all()
    assert np.isnan(ds["temperature"].values[4:]).all()


def with_encoding(template: ExampleTemplate, **changes) -> ExampleTemplate:
    data_vars = tuple(
        dataclasses.replace(var, encoding=dataclasses.replace(var.encoding, **changes))
        for var in template.data_vars
    )
    return dataclasses.replace(template, data_vars=data_vars)


@pytest.mark.parametrize(
    ("changed", "end", "message"),
    [
        (
            with_encoding(ExampleTemplate(), chunks=(1, 3, 2)),
            END,
            r"chunks \(2, 3, 2\) in the store",
        ),
        (
            with_encoding(ExampleTemplate(), shards=(8, 3, 2)),
            END,
            r"shards \(4, 3, 2\) in the store",
        ),
        (with_encoding(ExampleTemplate(), dtype="float64"), END, "dtype float32 in the store"),
        (with_encoding(ExampleTemplate(), compression_level=5), END, "codecs differ"),
        (ExampleTemplate(), END - 4 * DAY, "time would shrink from 8 to 4"),
    ],
)
def test_structural_changes_are_refused(tmp_path, changed, end, message):
    store = tmp_path / "out.zarr"
    ExampleTemplate().write_metadata(store, END)
    before = {p: p.read_bytes() for p in store.rglob("zarr.json")}
    with pytest.raises(StoreStructureError, match=message):
        changed.write_metadata(store, end)
    assert {p: p.read_bytes() for p in store.rglob("zarr.json")} == before  # nothing written


def test_shards_must_be_multiples_of_chunks():
    with pytest.raises(ValueError, match="not multiples of chunks"):
        Encoding(dtype="float32", chunks=(2, 3), shards=(3, 3))
