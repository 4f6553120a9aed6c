"""Normals in Zarr stores: layout, per-target writes and checks, and the pipeline writing them."""

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climaflow.normals import NormalsConfig, Region, Status, run_normals
from climaflow.normals.output import NormalMetadata, normal_dataset
from climaflow.normals.zarr_output import (
    check_target,
    normals_store_path,
    prepare_normals_store,
    write_target,
)
from tests.normals.test_pipeline import MODEL, PERIODS, archive, config, output_path  # noqa: F401

LAT = xr.DataArray([10.0, 10.25, 10.5], dims="lat", attrs={"units": "degrees_north"})
LON = xr.DataArray([200.0, 200.25, 200.5, 200.75], dims="lon", attrs={"units": "degrees_east"})
EXPECTED = {"inputs_fingerprint": "0123456789abcdef42", "min_years": 25, "window": 30}


def metadata(target: int, fingerprint: str = "0123456789abcdef42") -> NormalMetadata:
    return NormalMetadata(
        variable="tas",
        target_year=target,
        period="historical",
        scenario="historical",
        model=MODEL,
        calendar="noleap",
        region=Region("BOX", 200, 201, 10, 11),
        window=30,
        min_years=25,
        inputs_fingerprint=fingerprint,
        source_years=tuple(y for y in range(target - 29, target + 1) if y != target - 3),
        source_scenarios=("historical",) * 29,
        variable_attrs={"units": "K", "standard_name": "air_temperature"},
    )


def dataset(target: int) -> xr.Dataset:
    values = np.random.default_rng(target).normal(280, 5, (365, 3, 4)).astype(np.float32)
    return normal_dataset(values, LAT, LON, metadata(target))


def write(store: Path, targets: list[int]) -> None:
    for target in targets:
        write_target(store, dataset(target), metadata(target))


def test_a_store_holds_what_the_files_of_its_target_years_hold(tmp_path):
    store = tmp_path / "normals.zarr"
    prepare_normals_store(store, [2000, 2001, 2002], dataset(2000), "tas")
    write(store, [2002, 2000, 2001])  # any order, as parallel tasks finish

    stored = xr.open_zarr(store).load()
    files = xr.combine_by_coords(
        [dataset(t) for t in (2000, 2001, 2002)], combine_attrs="drop_conflicts"
    )
    for name in ("tas", "time", "climatology_bnds", "lat", "lon", "dayofyear"):
        xr.testing.assert_identical(stored[name], files[name])
    assert stored["tas"].encoding["shards"] == (1, 365, 3, 4)  # one target year, one shard
    np.testing.assert_array_equal(stored["min_years"], [25, 25, 25])
    years = stored["source_years"].sel(target_year=2001).values
    assert tuple(years[:29].tolist()) == metadata(2001).source_years and years[29] == 0
    assert stored.attrs["model"] == MODEL and stored.attrs["window"] == 30
    assert "target_year" not in stored.attrs and "inputs_fingerprint" not in stored.attrs


def test_a_shard_is_whole_chunks_covering_the_region(tmp_path):
    """CONUS at 0.25°: 104 x 240 cells in chunks of 73 days x 64 x 64."""
    lat = xr.DataArray(np.arange(104) * 0.25, dims="lat")
    lon = xr.DataArray(np.arange(240) * 0.25, dims="lon")
    values = np.arange(365 * 104 * 240, dtype=np.float32).reshape(365, 104, 240)
    sample = normal_dataset(values, lat, lon, metadata(2000))
    store = tmp_path / "conus.zarr"
    prepare_normals_store(store, [2000], sample, "tas")
    write_target(store, sample, metadata(2000))

    stored = xr.open_zarr(store)["tas"]
    assert stored.encoding["chunks"] == (1, 73, 64, 64)
    assert stored.encoding["shards"] == (1, 365, 128, 256)
    np.testing.assert_array_equal(stored.values[0], values)
    assert len([p for p in (store / "tas" / "c").rglob("*") if p.is_file()]) == 1


def test_checks_tell_written_missing_stale_and_damaged_targets(tmp_path):
    store = tmp_path / "normals.zarr"
    prepare_normals_store(store, [2000, 2001, 2002, 2003], dataset(2000), "tas")
    write(store, [2000, 2001, 2002])
    shard = store / "tas" / "c" / "2" / "0" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])

    def check(target: int, **changes: object):
        return check_target(store, target, variable="tas", expected={**EXPECTED, **changes})

    assert check(2000).valid
    assert check(2001, min_years=20).reason == "min_years is 25, not 20"
    assert not check(2001, inputs_fingerprint="ffff" * 5).valid
    assert check(2002).exists and check(2002).reason.startswith("unreadable")
    assert (check(2003).exists, check(2003).valid) == (False, False)  # prepared, never written
    assert check(2004).reason == "missing"  # a target year the store does not hold yet
    assert not check_target(tmp_path / "none.zarr", 2000, variable="tas", expected=EXPECTED).exists


def test_target_years_are_appended_and_never_inserted(tmp_path):
    store = tmp_path / "normals.zarr"
    prepare_normals_store(store, [2000, 2001], dataset(2000), "tas")
    write(store, [2000, 2001])
    written = {p: p.stat().st_mtime_ns for p in (store / "tas" / "c").rglob("*") if p.is_file()}

    prepare_normals_store(store, [2001, 2002, 2003], dataset(2000), "tas")
    write(store, [2002])
    stored = xr.open_zarr(store)
    assert stored["target_year"].values.tolist() == [2000, 2001, 2002, 2003]
    assert {p: p.stat().st_mtime_ns for p in written} == written  # shards untouched
    xr.testing.assert_identical(stored["tas"].sel(target_year=[2002]).load(), dataset(2002)["tas"])
    assert np.isnan(stored["tas"].sel(target_year=2003).values).all()

    listing = sorted(store.rglob("*"))
    with pytest.raises(ValueError, match=r"target years 1999 would go before its last one"):
        prepare_normals_store(store, [1999, 2004], dataset(2000), "tas")
    assert sorted(store.rglob("*")) == listing  # nothing written


def test_a_store_of_another_region_is_refused(tmp_path):
    store = tmp_path / "normals.zarr"
    prepare_normals_store(store, [2000], dataset(2000), "tas")
    other = dataset(2001).assign_coords(lat=LAT.values + 1)
    with pytest.raises(ValueError, match="normals store of another lat"):
        prepare_normals_store(store, [2001], other, "tas")


def test_store_names_cannot_leave_the_output(tmp_path):
    assert normals_store_path(tmp_path, MODEL, "tas", "ssp245", "AK", 30) == (
        tmp_path / MODEL / "tas" / "ssp245" / "AK" / f"tas_{MODEL}_AK_ssp245_30yr_normals.zarr"
    )
    with pytest.raises(ValueError):
        normals_store_path(tmp_path, "..", "tas", "ssp245", "AK")


def test_pipeline_writes_the_same_normals_as_netcdf_and_skips_valid_targets(
    archive,  # noqa: F811
    tmp_path,
    client,
):
    targets = tuple(range(2012, 2019))  # historical, hybrid and future targets
    netcdf: NormalsConfig = config(archive, tmp_path / "nc", target_years=targets)
    zarr_run = config(archive, tmp_path / "zarr", target_years=targets, output_format="zarr")
    run_normals(netcdf, client)
    first = run_normals(zarr_run, client)
    assert first.counts()[Status.WRITTEN] == len(targets)

    for scenario, years in (
        ("historical", [2012, 2013, 2014]),
        ("ssp245", [2015, 2016, 2017, 2018]),
    ):
        store = normals_store_path(tmp_path / "zarr", MODEL, "tas", scenario, "AK", 5)
        stored = xr.open_zarr(store).load()
        assert stored["target_year"].values.tolist() == years
        files = xr.open_mfdataset(
            [output_path(tmp_path / "nc", "tas", scenario, year) for year in years],
            combine="by_coords",
        ).load()
        for name in ("tas", "time", "climatology_bnds"):
            xr.testing.assert_identical(stored[name], files[name])
        assert stored.attrs["scenario"] == scenario

    store = normals_store_path(tmp_path / "zarr", MODEL, "tas", "ssp245", "AK", 5)
    shards = sorted((store / "tas" / "c").rglob("*"))
    mtimes = {p: p.stat().st_mtime_ns for p in shards if p.is_file()}
    again = run_normals(zarr_run, client)
    assert again.counts()[Status.SKIPPED_VALID] == len(targets)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    damaged = store / "tas" / "c" / "1" / "0" / "0" / "0"  # target 2016
    damaged.write_bytes(b"not a shard")
    os.utime(damaged, ns=(0, 0))
    third = run_normals(zarr_run, client)
    statuses = {o.target_year: o.status for o in third.outcomes}
    assert statuses[2016] == Status.RECOMPUTED
    assert {s for year, s in statuses.items() if year != 2016} == {Status.SKIPPED_VALID}
    repaired = xr.open_zarr(store)["tas"].sel(target_year=[2016]).load()
    files = xr.open_dataset(output_path(tmp_path / "nc", "tas", "ssp245", 2016)).load()
    xr.testing.assert_identical(repaired, files["tas"])
