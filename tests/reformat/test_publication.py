"""Publication order: shards first, metadata last, and no torn reads of a growing store."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from climaflow.reformat.runner import reformat
from climaflow.reformat.template import APPEND_COORDINATE_CHUNK, DataVar
from climaflow.reformat.update import update
from tests.reformat.example_dataset import (
    DAY,
    START,
    ExampleRegionJob,
    ExampleTemplate,
    expected_values,
    write_archive,
)


class SlowRegionJob(ExampleRegionJob):
    """Reads take a while, so a reader polling the store sees the run in progress."""

    def read_data(self, coord, data_var: DataVar) -> np.ndarray:
        time.sleep(0.02)
        return super().read_data(coord, data_var)


class UnpublishableTemplate(ExampleTemplate):
    """Fails where the metadata would be published: a run killed after its shards."""

    def publish_metadata(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("killed before publishing")


def unwritten_times(store: Path) -> list[np.datetime64]:
    """Times the store shows whose temperature is NaN everywhere (none, if it opens)."""
    if not (store / "zarr.json").exists():
        return []
    with xr.open_zarr(store) as ds:
        values = ds["temperature"].load()
    empty = values.isnull().all(dim=("latitude", "longitude"))
    return list(values["time"].values[empty.values])


def test_a_reader_never_sees_times_whose_shards_are_not_written(client, tmp_path):
    archive, store = tmp_path / "archive", tmp_path / "out.zarr"
    write_archive(archive, np.arange(START, START + 40 * DAY, DAY))
    template = ExampleTemplate()
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    reformat(template, SlowRegionJob, store, start=START, end=START + 8 * DAY, **run)

    seen: list[np.datetime64] = []
    lengths: set[int] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            seen.extend(unwritten_times(store))
            with xr.open_zarr(store) as ds:
                lengths.add(ds.sizes["time"])
            time.sleep(0.005)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        reformat(template, SlowRegionJob, store, start=START + 8 * DAY, end=START + 40 * DAY, **run)
    finally:
        done.set()
        reader.join()

    assert seen == []
    assert lengths <= {8, 40}  # the old dataset, then the new one: nothing in between
    assert 8 in lengths
    times = np.arange(START, START + 40 * DAY, DAY)
    np.testing.assert_array_equal(
        xr.open_zarr(store)["temperature"].values, expected_values("temperature", times)
    )


def test_shards_land_before_the_metadata_that_shows_them(client, tmp_path):
    """A run that fails after writing its shards leaves the store as it was."""
    archive, store = tmp_path / "archive", tmp_path / "out.zarr"
    write_archive(archive, np.arange(START, START + 12 * DAY, DAY))
    template = ExampleTemplate()
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    reformat(template, ExampleRegionJob, store, start=START, end=START + 4 * DAY, **run)
    before = (store / "zarr.json").read_bytes()

    with pytest.raises(RuntimeError, match="killed before publishing"):
        reformat(
            UnpublishableTemplate(),
            ExampleRegionJob,
            store,
            start=START + 4 * DAY,
            end=START + 12 * DAY,
            **run,
        )

    assert (store / "zarr.json").read_bytes() == before
    assert xr.open_zarr(store).sizes["time"] == 4
    assert list((store / "temperature" / "c").glob("1/*/*"))  # shards of days 4-7 are there


def test_a_reader_holding_old_metadata_reads_an_extended_coordinate(tmp_path):
    store = tmp_path / "out.zarr"
    template = ExampleTemplate()
    template.write_metadata(store, START + 4 * DAY)
    old_time = zarr.open_array(store, path="time", mode="r")
    assert old_time.chunks == (APPEND_COORDINATE_CHUNK,)

    before = old_time[:]

    template.write_metadata(store, START + 12 * DAY)

    # metadata read before the extension, chunk written by it: the first values are intact
    new_time = zarr.open_array(store, path="time", mode="r")
    assert new_time.shape == (12,)
    np.testing.assert_array_equal(old_time[:], before)
    np.testing.assert_array_equal(new_time[:4], before)
    assert len(set(new_time[:].tolist())) == 12


def test_stop_extends_the_store_only_as_far_as_it_processed(client, tmp_path):
    archive, store = tmp_path / "archive", tmp_path / "out.zarr"
    write_archive(archive, np.arange(START, START + 12 * DAY, DAY))
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    reformat(
        ExampleTemplate(),
        ExampleRegionJob,
        store,
        start=START,
        end=START + 12 * DAY,
        stop=START + 2 * DAY,  # rounded out to the shard: days 0-3
        **run,
    )
    ds = xr.open_zarr(store)
    assert ds.sizes["time"] == 4
    assert not ds["temperature"].isnull().any()


def test_update_ends_the_store_where_the_published_data_end(client, tmp_path):
    """Shards of 4 days, files up to day 10: the store ends at day 10, not 12 or 16."""
    archive, store = tmp_path / "archive", tmp_path / "out.zarr"
    write_archive(archive, np.arange(START, START + 10 * DAY, DAY))
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    template = ExampleTemplate()
    reformat(template, ExampleRegionJob, store, start=START, end=START + 8 * DAY, **run)

    result = update(template, ExampleRegionJob, store, end=START + 16 * DAY, **run)

    assert [(r.start, r.status, r.data_stop) for r in result.regions] == [
        (8, "incomplete", 10),
        (12, "unavailable", None),
    ]
    assert [r.start for r in result.trimmed] == [12]
    assert xr.open_zarr(store).sizes["time"] == 10
    assert unwritten_times(store) == []
