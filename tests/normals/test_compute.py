"""The public API on xarray objects, against plain-numpy references."""

import warnings
from pathlib import Path

import dask.array
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from climaflow.normals import (
    MissingYearsWarning,
    TooFewYearsWarning,
    UnsupportedCalendarError,
    daily_normals,
    dayofyear_sums,
)
from climaflow.normals.compute import validate_window
from climaflow.normals.window import WindowAccumulator


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
    assert (
        normals.attrs["units"] == "K" and normals.attrs["cell_methods"] == "time: mean over years"
    )
    assert (normals.attrs["window"], normals.attrs["min_years"]) == (5, 4)


def test_default_30_year_window():
    data = noleap_data(range(1971, 2001), shape=(1, 2))
    normals = daily_normals(data, [2000])  # no warning: the window is complete
    np.testing.assert_allclose(
        normals.sel(target_year=2000), reference_normal(data, list(range(1971, 2001))), rtol=1e-6
    )
    with (
        pytest.warns(TooFewYearsWarning, match=r"fewer than 25 of 30.*1994 \(24 years\)"),
        pytest.warns(MissingYearsWarning, match=r"1995 \(without 1966-1970\)") as caught,
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
    assert normals["pr"].attrs["cell_methods"] == "time: mean time: mean over years"
    assert normals["tas"].attrs["units"] == "K"
    np.testing.assert_allclose(
        normals["pr"].sel(target_year=1995),
        reference_normal(pr, list(range(1991, 1996))),
        rtol=1e-6,
    )


def test_a_cell_day_is_nan_only_if_every_window_year_is():
    data = noleap_data(range(1990, 1995), shape=(2, 2))
    values = data.values
    values[data.time.dt.year.values != 1992, 0, 0] = np.nan  # only 1992 valid at (0, 0)
    values[:, 1, 1] = np.nan  # never valid at (1, 1)
    values[10, 0, 1] = np.nan  # one missing day of 1990 at (0, 1)
    normal = daily_normals(data, [1994], window=5, min_years=5).sel(target_year=1994)
    np.testing.assert_allclose(normal[:, 0, 0], data.sel(time="1992")[:, 0, 0], rtol=1e-6)
    assert np.isnan(normal[:, 1, 1]).all()
    day11 = data.isel(time=[365 * k + 10 for k in range(1, 5)])[:, 0, 1]
    np.testing.assert_allclose(normal[10, 0, 1], day11.astype(np.float64).mean(), rtol=1e-6)
    assert not np.isnan(normal[:, :, 0]).any()


def test_missing_years_are_skipped_and_named():
    data = noleap_data(range(1990, 2001))
    gappy = data.sel(time=~data.time.dt.year.isin([1995, 1996]))
    with pytest.warns(MissingYearsWarning, match=r"1997 \(without 1995-1996\)"):
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


def test_360_day_input_is_refused():
    time = xr.date_range("2000-01-01", periods=720, freq="D", calendar="360_day", use_cftime=True)
    data = xr.DataArray(np.zeros(720), dims="time", coords={"time": time})
    with pytest.raises(UnsupportedCalendarError, match="360_day"):
        daily_normals(data, [2001], window=2, min_years=2)


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


def test_window_accumulator_matches_direct_sums():
    rng = np.random.default_rng(3)
    per_year = {}
    for year in range(2000, 2010):
        values = rng.normal(size=(365, 2)).astype(np.float32)
        values[rng.random(values.shape) < 0.2] = np.nan
        if year % 2:
            per_year[year] = (values, None)  # compact: NaN where no value
        else:
            per_year[year] = (
                np.nan_to_num(values).astype(np.float64),
                (~np.isnan(values)).astype(np.uint16),
            )
    accumulator = WindowAccumulator((365, 2))
    for target in (2004, 2005, 2009, 2006):
        window = range(target - 4, target + 1)
        accumulator.move_to(window, per_year)
        stacked = [
            sums if counts is None else np.where(counts > 0, sums, np.nan)
            for sums, counts in (per_year[year] for year in window)
        ]
        with np.errstate(invalid="ignore"):
            expected = np.nanmean(np.stack(stacked).astype(np.float64), axis=0)
        np.testing.assert_allclose(accumulator.mean(np.float64), expected, rtol=1e-12)


@pytest.mark.parametrize(("window", "min_years"), [(0, 0), (5, 0), (5, 6)])
def test_invalid_windows_are_refused(window, min_years):
    with pytest.raises(ValueError):
        validate_window(window, min_years)


def test_an_outlier_only_affects_the_windows_that_contain_it():
    data = noleap_data(range(1990, 1996), shape=(1, 1))
    data.loc[{"time": data.time.dt.year == 1991}] = np.float32(9.97e36)  # an undeclared fill value
    normals = daily_normals(data, [1992, 1995], window=2, min_years=2)
    np.testing.assert_allclose(
        normals.sel(target_year=1995), reference_normal(data, [1994, 1995]), rtol=1e-6
    )
    per_year = {
        1990: (np.array([236.0]), None),
        1991: (np.array([9.97e36]), None),
        1992: (np.array([240.0]), None),
    }
    accumulator = WindowAccumulator((1,))
    accumulator.move_to([1990, 1991], per_year)
    accumulator.move_to([1990, 1992], per_year)  # 1991 leaves: summed afresh, not subtracted
    assert accumulator.mean(np.float64) == 238.0
