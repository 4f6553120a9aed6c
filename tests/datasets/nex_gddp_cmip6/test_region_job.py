"""nex-gddp-cmip6 end to end: a synthetic yearly NetCDF archive served over loopback HTTP."""

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from climaflow.datasets.nex_gddp_cmip6.region_job import NexGddpRegionJob
from climaflow.datasets.nex_gddp_cmip6.template import make_nex_gddp_template
from climaflow.reformat.runner import reformat
from climaflow.reformat.transforms import max_relative_error
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import (
    nex_gddp_grid,
    write_synthetic_nex_gddp_archive,
)

RESOLUTION = 10.0
YEARS = (1950, 1951, 1952)
VARIABLES = ("tas", "pr")


def small_template(variables=VARIABLES, **kwargs):
    """The real template at 10 degrees: one shard per year of the whole grid."""
    lat, lon = nex_gddp_grid(RESOLUTION)
    return make_nex_gddp_template(
        variables=variables,
        resolution_degrees=RESOLUTION,
        chunks=(73, 5, 12),
        shards=(365, lat.size, lon.size),
        **kwargs,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nex")
    write_synthetic_nex_gddp_archive(
        root,
        variables=VARIABLES,
        years=YEARS,
        resolution_degrees=RESOLUTION,
        seed=7,
        revisions=[(1951, "tas")],
    )
    return root


def source_values(archive: Path, variable: str, year: int, suffix: str = "") -> np.ndarray:
    name = f"{variable}_day_NorESM2-LM_historical_r1i1p1f1_gn_{year}{suffix}.nc"
    path = archive / "NorESM2-LM" / "historical" / "r1i1p1f1" / variable / name
    with netCDF4.Dataset(path) as nc:
        return np.asarray(nc.variables[variable][:], dtype="float32")


def test_three_years_over_http(client, archive, tmp_path):
    store = tmp_path / "nex.zarr"
    with serve_directory(archive) as server:
        result = reformat(
            small_template(),
            NexGddpRegionJob,
            store,
            start="1950-01-01",
            end=1953,
            client=client,
            source_url=server.url,
            download_dir=tmp_path / "downloads",
        )
        requested = {r.path.rsplit("/", 1)[-1] for r in server.requests if r.status == 200}

    assert result.status_counts() == {"tas": {"succeeded": 3}, "pr": {"succeeded": 3}}
    # 1951 tas exists as original and _v1.1: only the revision was fetched
    assert "tas_day_NorESM2-LM_historical_r1i1p1f1_gn_1951_v1.1.nc" in requested
    assert "tas_day_NorESM2-LM_historical_r1i1p1f1_gn_1951.nc" not in requested

    ds = xr.open_zarr(store)
    assert ds.sizes["time"] == 3 * 365
    assert ds["time"].encoding["calendar"] == "noleap"
    assert ds["time"].values[0].strftime("%Y-%m-%d %H") == "1950-01-01 12"
    lat, lon = nex_gddp_grid(RESOLUTION)
    np.testing.assert_array_equal(ds["lat"].values, lat)
    np.testing.assert_array_equal(ds["lon"].values, lon)
    for variable, bits in (("tas", 14), ("pr", 12)):
        expected = np.concatenate(
            [
                source_values(archive, variable, 1950),
                source_values(archive, variable, 1951, "_v1.1" if variable == "tas" else ""),
                source_values(archive, variable, 1952),
            ]
        )
        actual = ds[variable].values
        relative = np.abs(actual - expected) / np.abs(expected)
        assert relative.max() <= max_relative_error(bits), variable
        assert ds[variable].attrs["units"] == {"tas": "K", "pr": "kg m-2 s-1"}[variable]
    assert not (tmp_path / "downloads").exists() or not any((tmp_path / "downloads").rglob("*.nc"))


def rename_variable(nc: netCDF4.Dataset) -> None:
    nc.renameVariable("tas", "air_temperature")


def drop_time_axis(nc: netCDF4.Dataset) -> None:
    nc.renameVariable("time", "t")


def set_calendar(nc: netCDF4.Dataset) -> None:
    nc.variables["time"].calendar = "360_day"


def set_units(nc: netCDF4.Dataset) -> None:
    nc.variables["tas"].units = "degC"


def shift_longitudes(nc: netCDF4.Dataset) -> None:
    nc.variables["lon"][:] = nc.variables["lon"][:] + 1.0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (rename_variable, "no variable 'tas'"),
        (drop_time_axis, "no time coordinate"),
        (set_calendar, "calendar '360_day', expected 'noleap'"),
        (set_units, "tas is in 'degC', expected 'K'"),
        (shift_longitudes, "its lon grid"),
    ],
)
def test_a_bad_file_fails_that_year_only(client, tmp_path, damage, message):
    local = tmp_path / "archive"
    write_synthetic_nex_gddp_archive(
        local, variables=("tas",), years=YEARS[:2], resolution_degrees=RESOLUTION
    )
    name = "tas_day_NorESM2-LM_historical_r1i1p1f1_gn_1951.nc"
    with netCDF4.Dataset(local / "NorESM2-LM/historical/r1i1p1f1/tas" / name, "a") as nc:
        damage(nc)
    result = reformat(
        small_template(variables=("tas",)),
        NexGddpRegionJob,
        tmp_path / "nex.zarr",
        start=1950,
        end=1952,
        client=client,
        source_url=str(local),
    )
    (failed,) = result.failed_files
    assert failed["status"] == "read_failed"
    assert name in failed["error"]
    assert message in failed["error"]
    ds = xr.open_zarr(tmp_path / "nex.zarr")
    assert np.isnan(ds["tas"].values[365:]).all()
    assert not np.isnan(ds["tas"].values[:365]).any()


def test_a_360_day_model_with_undeclared_fills_over_http(client, tmp_path):
    """UKESM1-0-LL: r1i1p1f1 is not its variant, 360_day its calendar, 1e20 undeclared fills."""
    archive = tmp_path / "archive"
    lat, lon = nex_gddp_grid(RESOLUTION)
    write_synthetic_nex_gddp_archive(
        archive,
        model="UKESM1-0-LL",
        scenario="ssp245",
        variables=("tas",),
        years=(2015, 2016),
        resolution_degrees=RESOLUTION,
        undeclared_fill_years=(2016,),
    )
    template = make_nex_gddp_template(
        model="UKESM1-0-LL",
        scenario="ssp245",
        variables=("tas",),
        resolution_degrees=RESOLUTION,
        chunks=(72, 5, 12),
        shards=(360, lat.size, lon.size),
    )
    with serve_directory(archive) as server:
        result = reformat(
            template, NexGddpRegionJob, tmp_path / "ukesm.zarr", start=2015, end=2017,
            client=client, source_url=server.url,
        )  # fmt: skip
    assert result.status_counts() == {"tas": {"succeeded": 2}}
    ds = xr.open_zarr(tmp_path / "ukesm.zarr")
    assert ds.sizes["time"] == 720 and ds["time"].encoding["calendar"] == "360_day"
    assert ds.attrs["variant_label"] == "r1i1p1f2"
    folder = archive / "UKESM1-0-LL" / "ssp245" / "r1i1p1f2" / "tas"
    with netCDF4.Dataset(folder / "tas_day_UKESM1-0-LL_ssp245_r1i1p1f2_gn_2016.nc") as nc:
        assert "_FillValue" not in nc["tas"].ncattrs()
        source = np.asarray(nc["tas"][:], dtype=np.float32)
    fills = np.abs(source) >= 1e20
    assert fills.any()
    stored = ds["tas"].values[360:]
    assert np.isnan(stored[fills]).all()
    relative = np.abs(stored[~fills] - source[~fills]) / source[~fills]
    assert relative.max() <= max_relative_error(14)
