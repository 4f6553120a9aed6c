"""Output files: names, CF contents, atomic writes, and the validity check behind skipping."""

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from climaflow import __version__
from climaflow.normals import REGIONS, NormalMetadata, check_output, normal_dataset, normal_path
from climaflow.normals.output import write_normal

LAT = xr.DataArray(
    [60.5, 61.5], dims="lat", attrs={"units": "degrees_north", "standard_name": "latitude"}
)
LON = xr.DataArray([170.5, 171.5, 172.5], dims="lon", attrs={"units": "degrees_east"})


def metadata(**changes) -> NormalMetadata:
    fields = {
        "variable": "tas",
        "target_year": 2016,
        "period": "hybrid",
        "scenario": "ssp245",
        "model": "NorESM2-LM",
        "calendar": "noleap",
        "region": REGIONS["AK"],
        "window": 3,
        "min_years": 2,
        "inputs_fingerprint": "abc123",
        "source_years": (2014, 2015, 2016),
        "source_scenarios": ("historical", "ssp245", "ssp245"),
        "variable_attrs": {"units": "K", "standard_name": "air_temperature", "long_name": "T"},
    }
    return NormalMetadata(**{**fields, **changes})


def write_example(path: Path, days: int = 365, **changes) -> Path:
    values = np.arange(days * 6, dtype=np.float64).reshape(days, 2, 3)
    return write_normal(normal_dataset(values, LAT, LON, metadata(**changes)), path)


def test_output_path_names_model_variable_scenario_region_and_target():
    assert normal_path("/out", "CESM2", "pr", "ssp585", "HI", 2071) == Path(
        "/out/CESM2/pr/ssp585/HI/pr_CESM2_HI_ssp585_2071_30yr_normal.nc"
    )
    assert normal_path("/out", "CESM2", "tas", "historical", "AK", 1990, window=20).name == (
        "tas_CESM2_AK_historical_1990_20yr_normal.nc"
    )


def test_file_contents_follow_cf_and_record_how_it_was_made(tmp_path):
    path = write_example(tmp_path / "a" / "normal.nc")
    assert sorted(p.name for p in path.parent.iterdir()) == ["normal.nc"]
    with netCDF4.Dataset(path) as nc:
        tas = nc["tas"]
        assert tas.dimensions == ("target_year", "dayofyear", "lat", "lon")
        assert tas.dtype == np.float32
        assert (
            tas.filters()["zlib"] and tas.filters()["shuffle"] and tas.filters()["complevel"] == 1
        )
        assert tas.chunking() == [1, 73, 2, 3]
        assert (tas.units, tas.standard_name, tas.cell_methods) == (
            "K",
            "air_temperature",
            "time: mean within years time: mean over years",
        )
        assert nc["time"].climatology == "climatology_bnds"
        assert nc["time"].dimensions == ("target_year", "dayofyear")
        assert nc["time"].calendar == "noleap"
        assert list(nc["target_year"][:]) == [2016]
        for name in ("target_year", "dayofyear", "lat", "lon", "time", "climatology_bnds"):
            assert "_FillValue" not in nc[name].ncattrs(), name
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        np.testing.assert_array_equal(ds.dayofyear, np.arange(1, 366))
        np.testing.assert_array_equal(ds.lat, LAT)
        assert ds.lat.attrs == LAT.attrs
        np.testing.assert_array_equal(ds.lon, LON)
        np.testing.assert_array_equal(ds.tas.values, np.arange(365 * 6).reshape(1, 365, 2, 3))
        bounds = ds.climatology_bnds.values[0]
        assert (bounds[0, 0].year, bounds[0, 0].month, bounds[0, 0].day) == (2014, 1, 1)
        assert (bounds[0, 1].year, bounds[0, 1].day) == (2016, 2)
        assert (bounds[364, 1].year, bounds[364, 1].month, bounds[364, 1].day) == (2017, 1, 1)
        middle = ds.time.values[0]
        assert middle[59].month == 3 and middle[59].year == 2015
        attrs = ds.attrs
        assert attrs["target_year"] == 2016 and attrs["period"] == "hybrid"
        assert list(attrs["source_years"]) == [2014, 2015, 2016]
        assert attrs["source_scenarios"] == "historical,ssp245,ssp245"
        assert attrs["scenarios_used"] == "historical,ssp245"
        assert (attrs["model"], attrs["region"]) == ("NorESM2-LM", "AK")
        assert list(attrs["region_bounds"]) == [170.0, 235.0, 50.0, 72.0]
        assert (attrs["window"], attrs["min_years"]) == (3, 2)
        assert attrs["inputs_fingerprint"] == "abc123"
        assert attrs["climaflow_version"] == __version__
        assert "creation_date" in attrs and attrs["Conventions"] == "CF-1.8"


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path, monkeypatch):
    def crash(self, path, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash)
    with pytest.raises(OSError, match="disk full"):
        write_example(tmp_path / "normal.nc")
    assert list(tmp_path.iterdir()) == []


def test_rewriting_replaces_the_file(tmp_path):
    path = write_example(tmp_path / "normal.nc")
    write_example(path, inputs_fingerprint="new")
    with xr.open_dataset(path) as ds:
        assert ds.attrs["inputs_fingerprint"] == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["normal.nc"]


EXPECTED = {"window": 3, "min_years": 2, "inputs_fingerprint": "abc123"}


def test_check_keeps_only_complete_files_with_the_same_parameters(tmp_path):
    path = write_example(tmp_path / "normal.nc")
    check = check_output(path, variable="tas", expected=EXPECTED, shape=(1, 365, 2, 3))
    assert (check.exists, check.valid) == (True, True)

    missing = check_output(
        tmp_path / "none.nc", variable="tas", expected=EXPECTED, shape=(1, 365, 2, 3)
    )
    assert (missing.exists, missing.valid) == (False, False)

    other = check_output(
        path, variable="tas", expected={**EXPECTED, "min_years": 3}, shape=(1, 365, 2, 3)
    )
    assert not other.valid and "min_years" in other.reason
    stale = check_output(
        path, variable="tas", expected={**EXPECTED, "inputs_fingerprint": "x"}, shape=(1, 365, 2, 3)
    )
    assert not stale.valid and "inputs_fingerprint" in stale.reason
    wrong_shape = check_output(path, variable="tas", expected=EXPECTED, shape=(1, 365, 3, 3))
    assert not wrong_shape.valid

    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    truncated = check_output(path, variable="tas", expected=EXPECTED, shape=(1, 365, 2, 3))
    assert (truncated.exists, truncated.valid) == (True, False)
    assert truncated.reason.startswith("unreadable")


def test_target_years_stack_with_open_mfdataset(tmp_path):
    paths = [
        write_example(tmp_path / f"n{target}.nc", target_year=target, source_years=years)
        for target, years in ((2016, (2014, 2015, 2016)), (2017, (2015, 2016, 2017)))
    ]
    with xr.open_mfdataset(
        paths, combine="by_coords", decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)
    ) as ds:
        assert ds.tas.dims == ("target_year", "dayofyear", "lat", "lon")
        np.testing.assert_array_equal(ds.target_year, [2016, 2017])
        assert ds.time.dims == ("target_year", "dayofyear")
        assert [t.year for t in ds.time.values[:, 0]] == [2015, 2016]
        assert [b.year for b in ds.climatology_bnds.values[:, 0, 0]] == [2014, 2015]


def test_360_day_normals_keep_their_calendar(tmp_path):
    path = write_example(tmp_path / "n.nc", days=360, calendar="360_day")
    with netCDF4.Dataset(path) as nc:
        assert nc["time"].calendar == "360_day" and nc.calendar == "360_day"
        assert nc["tas"].shape == (1, 360, 2, 3)
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        np.testing.assert_array_equal(ds.dayofyear, np.arange(1, 361))
        last_end = ds.climatology_bnds.values[0, 359, 1]
        assert (last_end.year, last_end.month, last_end.day) == (2017, 1, 1)
        day_60 = ds.time.values[0, 59]
        assert (day_60.month, day_60.day) == (2, 30)  # 30-day months
