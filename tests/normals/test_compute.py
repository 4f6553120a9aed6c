"""The public API on xarray objects, against plain-numpy references."""

import warnings
from pathlib import Path

import dask.array
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from climaflow.normals import (
    IncompleteYearWarning,
    MissingYearsWarning,
    TooFewYearsWarning,
    UndeclaredFillWarning,
    daily_normals,
    dayofyear_sums,
)
from climaflow.normals.compute import NORMALS_CELL_METHODS, validate_window


def noleap_data(years: range, shape=(3, 4), seed=0, name="tas") -> xr.DataArray:
    """Random daily float32 data on a noleap calendar, dims (time, lat, lon)."""
    time = xr.date_range(
        f"{years.start}-01-01",
        f"{years.stop - 1}-12-31",
        freq="D",
        calendar="noleap",
        use_cftime=True,
    )
    values = np.random.default_rng(seed).normal(280, 10, (time.size, *shape)).astype(np.float32)
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={
            "time": time,
            "lat": np.arange(shape[0]) + 40.5,
            "lon": np.arange(shape[1]) + 250.5,
        },
        name=name,
        attrs={"units": "K", "standard_name": "air_temperature"},
    )


def reference_normal(data: xr.DataArray, years: list[int]) -> np.ndarray:
    """Plain numpy: stack the 365-day years of the window, float64 mean ignoring NaN."""
    stacked = np.stack([data.sel(time=str(year)).values.astype(np.float64) for year in years])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells
        return np.nanmean(stacked, axis=0)


def test_normals_match_a_numpy_reference():
    data = noleap_data(range(1990, 2001))
    normals = daily_normals(data, [1994, 1997, 2000], window=5, min_years=4)
    assert normals.dims == ("target_year", "dayofyear", "lat", "lon")
    assert normals.dtype == np.float32
    np.testing.assert_array_equal(normals.dayofyear, np.arange(1, 366))
    for target in (1994, 1997, 2000):
        expected = reference_normal(data, list(range(target - 4, target + 1)))
        np.testing.assert_allclose(normals.sel(target_year=target), expected, rtol=1e-6)
    assert normals.n_years.values.tolist() == [5, 5, 5]
    assert normals.source_years.values.tolist() == ["1990-1994", "1993-1997", "1996-2000"]
    assert normals.attrs["units"] == "K"
    assert normals.attrs["cell_methods"] == "time: mean within years time: mean over years"
    assert (normals.attrs["window"], normals.attrs["min_years"]) == (5, 4)


def test_default_30_year_window():
    data = noleap_data(range(1971, 2001), shape=(1, 2))
    normals = daily_normals(data, [2000])  # no warning: the window is complete
    np.testing.assert_allclose(
        normals.sel(target_year=2000), reference_normal(data, list(range(1971, 2001))), rtol=1e-6
    )
    with (
        pytest.warns(TooFewYearsWarning, match=r"target years 1994: fewer than 25 of their 30"),
        pytest.warns(
            MissingYearsWarning, match=r"missing from windows: 1966-1970 \(target years 1995"
        ) as caught,
    ):
        assert daily_normals(data, [1994, 1995]).target_year.values.tolist() == [1995]
    assert {Path(w.filename).name for w in caught} == {"test_compute.py"}


def test_lazy_inputs_give_lazy_normals_with_one_chunk_per_target():
    data = noleap_data(range(1990, 2001))
    lazy = daily_normals(data.chunk(time=365), range(1994, 2001), window=5, min_years=4)
    assert isinstance(lazy.data, dask.array.Array)
    assert lazy.chunks[0] == (1,) * 7
    eager = daily_normals(data, range(1994, 2001), window=5, min_years=4)
    xr.testing.assert_allclose(lazy.compute(), eager, rtol=1e-6)


def test_inputs_chunked_by_day_are_reduced_one_year_per_task():
    data = noleap_data(range(1990, 2001), shape=(2, 2)).chunk(time=1)  # as NEX-GDDP files
    yearly = dayofyear_sums(data)
    assert yearly.sums.chunks[0] == (1,) * 11
    normals = daily_normals(data, range(1994, 2001), window=5, min_years=4)
    assert len(normals.data.__dask_graph__()) < 5 * data.sizes["time"]
    eager = daily_normals(data.compute(), range(1994, 2001), window=5, min_years=4)
    xr.testing.assert_allclose(normals.compute(), eager, rtol=1e-6)


def test_datasets_keep_time_variables_and_their_attributes():
    tas = noleap_data(range(1990, 1996))
    pr = noleap_data(range(1990, 1996), seed=1, name="pr").assign_attrs(
        units="kg m-2 s-1", cell_methods="time: mean"
    )
    dataset = xr.Dataset({"tas": tas, "pr": pr, "lat_bnds": (("lat", "nv"), np.zeros((3, 2)))})
    normals = daily_normals(dataset, [1995], window=5, min_years=5)
    assert set(normals.data_vars) == {"tas", "pr"}
    assert normals["pr"].attrs["cell_methods"] == NORMALS_CELL_METHODS
    assert normals["tas"].attrs["units"] == "K"
    np.testing.assert_allclose(
        normals["pr"].sel(target_year=1995),
        reference_normal(pr, list(range(1991, 1996))),
        rtol=1e-6,
    )


def test_a_cell_day_needs_min_years_valid_values():
    data = noleap_data(range(1990, 1995), shape=(2, 2))
    values = data.values
    years = data.time.dt.year.values
    values[years != 1992, 0, 0] = np.nan  # 1 valid year at (0, 0)
    values[np.isin(years, [1990, 1991]), 1, 0] = np.nan  # 3 valid years at (1, 0)
    values[:, 1, 1] = np.nan  # never valid at (1, 1)
    values[10, 0, 1] = np.nan  # 4 valid years on day 11 at (0, 1)
    normal = daily_normals(data, [1994], window=5, min_years=3).sel(target_year=1994)
    assert np.isnan(normal[:, 0, 0]).all()
    assert np.isnan(normal[:, 1, 1]).all()
    np.testing.assert_allclose(
        normal[:, 1, 0], reference_normal(data, [1992, 1993, 1994])[:, 1, 0], rtol=1e-6
    )
    day11 = data.isel(time=[365 * k + 10 for k in range(1, 5)])[:, 0, 1]
    np.testing.assert_allclose(normal[10, 0, 1], day11.astype(np.float64).mean(), rtol=1e-6)
    assert not np.isnan(normal[:, :, 0][:, 1]).any()


def test_missing_years_are_skipped_and_named():
    data = noleap_data(range(1990, 2001))
    gappy = data.sel(time=~data.time.dt.year.isin([1995, 1996]))
    with pytest.warns(MissingYearsWarning, match=r"missing from windows: 1995-1996 \("):
        normals = daily_normals(gappy, [1997, 2000], window=5, min_years=3)
    assert normals.source_years.values.tolist() == ["1993-1994,1997", "1997-2000"]
    assert normals.n_years.values.tolist() == [3, 4]
    np.testing.assert_allclose(
        normals.sel(target_year=1997), reference_normal(data, [1993, 1994, 1997]), rtol=1e-6
    )


def test_no_target_with_enough_years_is_an_error():
    data = noleap_data(range(1990, 1993))
    with (
        pytest.raises(ValueError, match="no target year has 4 of its 5 window years"),
        pytest.warns(TooFewYearsWarning),
    ):
        daily_normals(data, [1994], window=5, min_years=4)


def test_standard_calendar_drops_29_february_and_aligns_days():
    time = pd.date_range("1999-01-01", "2002-12-31", freq="D")  # 2000 is a leap year
    month_day = (time.month * 100 + time.day).to_numpy(dtype=np.float32)
    values = month_day + (time.year.to_numpy() - 1999).astype(np.float32) * 10000
    data = xr.DataArray(values[:, None], dims=("time", "station"), coords={"time": time})
    yearly = dayofyear_sums(data)
    assert yearly.counts.sum().item() == 4 * 365
    normals = daily_normals(data, [2000, 2002], window=2, min_years=2)
    # Day 59 is 28 February and day 60 is 1 March in leap and non-leap years alike.
    for target in (2000, 2002):
        normal = normals.sel(target_year=target, station=0)
        years_mean = 10000 * ((target - 1999) + (target - 2000)) / 2
        assert normal.sel(dayofyear=59) == 228 + years_mean
        assert normal.sel(dayofyear=60) == 301 + years_mean
        assert normal.sel(dayofyear=365) == 1231 + years_mean


def test_360_day_input_gives_360_days_in_its_own_calendar():
    time = xr.date_range("2000-01-01", periods=1080, freq="D", calendar="360_day", use_cftime=True)
    values = np.random.default_rng(4).normal(280, 5, (1080, 2)).astype(np.float32)
    data = xr.DataArray(values, dims=("time", "x"), coords={"time": time})
    normals = daily_normals(data, [2002], window=3, min_years=3)
    np.testing.assert_array_equal(normals.dayofyear, np.arange(1, 361))
    expected = values.astype(np.float64).reshape(3, 360, 2).mean(axis=0)
    np.testing.assert_allclose(normals.sel(target_year=2002), expected, rtol=1e-6)
    assert "360_day" in normals.dayofyear.attrs["long_name"]


def test_sub_daily_values_are_summed_and_counted_per_day():
    time = xr.date_range(
        "2001-01-01", periods=4 * 365 * 2, freq="6h", calendar="noleap", use_cftime=True
    )
    values = np.arange(time.size, dtype=np.float64)
    data = xr.DataArray(values, dims="time", coords={"time": time})
    yearly = dayofyear_sums(data)
    assert yearly.years == (2001, 2002)
    assert (yearly.counts == 4).all()
    assert yearly.sums.sel(year=2001, dayofyear=1) == 0 + 1 + 2 + 3
    normals = daily_normals(data, [2002], window=2, min_years=2, dtype=np.float64)
    assert normals.sel(target_year=2002, dayofyear=1) == (6 + 1460 * 4 + 6) / 8


def test_other_dimensions_pass_through():
    data = noleap_data(range(2000, 2003)).rename(lat="plev", lon="location")
    normals = daily_normals(
        data.transpose("location", "time", "plev"), [2002], window=3, min_years=3
    )
    assert normals.dims == ("target_year", "dayofyear", "location", "plev")


@pytest.mark.parametrize(("window", "min_years"), [(0, 0), (5, 0), (5, 6)])
def test_invalid_windows_are_refused(window, min_years):
    with pytest.raises(ValueError):
        validate_window(window, min_years)


@pytest.mark.parametrize("fill", [1e20, -1e20, 9.96921e36, np.inf, -np.inf])
def test_undeclared_fill_values_are_masked_and_counted(fill):
    data = noleap_data(range(1990, 1996), shape=(2, 2))
    data.values[data.time.dt.year.values == 1991, 0, 1] = np.float32(fill)
    with pytest.warns(UndeclaredFillWarning, match=r"^365 values are non-finite or \|x\| >= 1e"):
        normals = daily_normals(data, [1992, 1995], window=3, min_years=2)
    masked = data.where(np.abs(data) < 1e20)
    for target in (1992, 1995):
        np.testing.assert_allclose(
            normals.sel(target_year=target),
            reference_normal(masked, list(range(target - 2, target + 1))),
            rtol=1e-6,
        )
    assert np.isfinite(normals.sel(target_year=1992)[:, 0, 1]).all()


def test_a_huge_value_only_affects_the_windows_that_contain_it():
    data = noleap_data(range(1990, 1996), shape=(1, 1))
    data.loc[{"time": data.time.dt.year == 1991}] = np.float32(3e19)  # large, not a fill
    normals = daily_normals(data, [1992, 1995], window=2, min_years=2)
    assert (normals.sel(target_year=1992) > 1e19).all()
    np.testing.assert_allclose(
        normals.sel(target_year=1995), reference_normal(data, [1994, 1995]), rtol=1e-6
    )


def test_incomplete_years_are_left_out_unless_allowed():
    data = noleap_data(range(1990, 1995), shape=(1, 2))
    short = data.where(~((data.time.dt.year == 1993) & (data.time.dt.month == 12)), drop=True)
    with (
        pytest.warns(IncompleteYearWarning, match="left out of every window: 1993"),
        pytest.warns(MissingYearsWarning, match=r"missing from windows: 1993 \(target years 1994"),
    ):
        normals = daily_normals(short, [1994], window=5, min_years=4)
    assert normals.source_years.values.tolist() == ["1990-1992,1994"]
    np.testing.assert_allclose(
        normals.sel(target_year=1994), reference_normal(data, [1990, 1991, 1992, 1994]), rtol=1e-6
    )
    with pytest.warns(IncompleteYearWarning, match="kept: 1993"):
        kept = daily_normals(short, [1994], window=5, min_years=4, allow_incomplete_years=True)
    assert kept.source_years.values.tolist() == ["1990-1994"]
    january = kept.sel(target_year=1994, dayofyear=1)
    np.testing.assert_allclose(january, reference_normal(data, range(1990, 1995))[0], rtol=1e-6)
    december = kept.sel(target_year=1994, dayofyear=365)
    np.testing.assert_allclose(
        december, reference_normal(data, [1990, 1991, 1992, 1994])[364], rtol=1e-6
    )
