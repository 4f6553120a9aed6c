"""The synthetic NEX-GDDP-CMIP6 archive: real NetCDF4 files with the archive's layout and metadata."""

import cftime
import netCDF4
import numpy as np
import pytest

from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile, parse_filename
from climaflow.testing.nex_gddp_archive import (
    daily_dates,
    expected_value,
    nex_gddp_grid,
    write_synthetic_nex_gddp_archive,
)


def test_grid_is_the_real_quarter_degree_grid():
    lat, lon = nex_gddp_grid()
    assert lat.size == 600 and lon.size == 1440
    assert (lat[0], lat[-1], lon[0], lon[-1]) == (-59.875, 89.875, 0.125, 359.875)
    lat, lon = nex_gddp_grid(1.0, lat_bounds=(24, 50), lon_bounds=(234, 294))
    assert (lat[0], lat[-1], lon[0], lon[-1]) == (24.5, 49.5, 234.5, 293.5)
    with pytest.raises(ValueError, match="no grid cell"):
        nex_gddp_grid(1.0, lat_bounds=(10.1, 10.2))


def test_files_look_like_nex_gddp(tmp_path):
    paths = write_synthetic_nex_gddp_archive(
        tmp_path,
        model="NorESM2-LM",
        scenario="ssp245",
        variables=["tas", "pr"],
        years=[2050, 2051],
        resolution_degrees=2.0,
        lat_bounds=(20, 30),
        lon_bounds=(200, 210),
    )
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"NorESM2-LM/ssp245/r1i1p1f1/{var}/{var}_day_NorESM2-LM_ssp245_r1i1p1f1_gn_{year}.nc"
        for var in ("tas", "pr")
        for year in (2050, 2051)
    ]
    with netCDF4.Dataset(paths[0]) as nc:
        assert nc.data_model == "NETCDF4"
        assert nc.Conventions == "CF-1.7" and nc.frequency == "day"
        assert nc.activity == "NEX-GDDP-CMIP6" and "Nemani" in nc.contact
        assert (nc.model_id, nc.scenario, nc.variant_label) == ("NorESM2-LM", "ssp245", "r1i1p1f1")
        time = nc["time"]
        assert (time.units, time.calendar) == ("days since 1950-01-01 00:00:00", "noleap")
        assert time.size == 365 and time.bounds == "time_bnds"
        first = cftime.num2date(time[0], time.units, time.calendar)
        assert (first.year, first.month, first.day, first.hour) == (2050, 1, 1, 12)
        np.testing.assert_array_equal(nc["time_bnds"][:, 1] - nc["time_bnds"][:, 0], 1.0)
        assert nc["lat"].bounds == "lat_bnds" and nc["lon"].units == "degrees_east"
        np.testing.assert_array_equal(nc["lat_bnds"][:, 1] - nc["lat_bnds"][:, 0], 2.0)
        tas = nc["tas"]
        assert tas.dimensions == ("time", "lat", "lon") and tas.dtype == np.float32
        assert (tas.units, tas.standard_name) == ("K", "air_temperature")
        assert tas.long_name == "Daily Near-Surface Air Temperature"
        filters = tas.filters()
        assert filters["zlib"] and filters["shuffle"]
        assert tas.chunking() == [1, nc["lat"].size, nc["lon"].size]
        expected = expected_value("tas", "ssp245", daily_dates(2050), nc["lat"][:], nc["lon"][:])
        np.testing.assert_array_equal(tas[:], expected)
    with netCDF4.Dataset(paths[2]) as nc:
        assert (nc["pr"].units, nc["pr"].standard_name) == ("kg m-2 s-1", "precipitation_flux")
        assert (nc["pr"][:] > 0).all()


def test_standard_calendar_has_29_february_and_same_season_on_calendar_days(tmp_path):
    (leap,) = write_synthetic_nex_gddp_archive(
        tmp_path, years=[2000], resolution_degrees=30.0, calendar="standard"
    )
    with netCDF4.Dataset(leap) as nc:
        assert nc["time"].calendar == "standard" and nc["time"].size == 366
    lat, lon = np.array([45.0]), np.array([10.0])
    march_first = [cftime.datetime(y, 3, 1, calendar="standard") for y in (2000, 2001)]
    values = expected_value("tas", "historical", march_first, lat, lon)
    # Only the warming trend (0.01 K/year) separates 1 March of consecutive years.
    assert values[1, 0, 0] - values[0, 0, 0] == pytest.approx(0.01, abs=1e-4)
    assert daily_dates(2001, "360_day").size == 360


def test_seeded_noise_is_reproducible_and_pr_stays_positive(tmp_path):
    kwargs = {"variables": ["tas", "pr"], "years": [1990], "resolution_degrees": 20.0, "seed": 7}
    first = write_synthetic_nex_gddp_archive(tmp_path / "a", **kwargs)
    again = write_synthetic_nex_gddp_archive(tmp_path / "b", **kwargs)
    other = write_synthetic_nex_gddp_archive(tmp_path / "c", **{**kwargs, "seed": 8})
    with (
        netCDF4.Dataset(first[0]) as a,
        netCDF4.Dataset(again[0]) as b,
        netCDF4.Dataset(other[0]) as c,
    ):
        np.testing.assert_array_equal(a["tas"][:], b["tas"][:])
        assert not np.array_equal(a["tas"][:], c["tas"][:])
        noise = a["tas"][:] - expected_value(
            "tas", "historical", daily_dates(1990), a["lat"][:], a["lon"][:]
        )
        assert 1.5 < noise.std() < 2.5
    with netCDF4.Dataset(first[1]) as nc:
        assert (nc["pr"][:] > 0).all()


def test_revisions_are_written_next_to_the_original_with_revised_values(tmp_path):
    paths = write_synthetic_nex_gddp_archive(
        tmp_path, years=[2000, 2001], resolution_degrees=30.0, revisions=[(2001, "tas")]
    )
    assert [parse_filename(p.name).version for p in paths] == [None, None, "v1.1"]
    with netCDF4.Dataset(paths[1]) as original, netCDF4.Dataset(paths[2]) as revised:
        assert revised.version == "1.1" and original.version == "1.0"
        np.testing.assert_allclose(revised["tas"][:] - original["tas"][:], 0.5, atol=1e-4)


def test_explicit_longitudes_in_minus_180_to_180(tmp_path):
    lon = np.array([-179.5, -178.5, 178.5, 179.5])
    (path,) = write_synthetic_nex_gddp_archive(tmp_path, years=[2000], lat=[60.5, 61.5], lon=lon)
    with netCDF4.Dataset(path) as nc:
        np.testing.assert_array_equal(nc["lon"][:], lon)
        assert nc["tas"].shape == (365, 2, 4)
    assert NexGddpFile("NorESM2-LM", "historical", "tas", 2000).path(tmp_path) == path
    with pytest.raises(ValueError, match="both lat and lon"):
        write_synthetic_nex_gddp_archive(tmp_path, years=[2000], lat=[1.0])
