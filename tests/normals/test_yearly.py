"""Per-year, per-day sums: in-memory daily data placed, everything else reduced with flox."""

import numpy as np
import pytest
import xarray as xr
from flox.xarray import xarray_reduce

from climaflow.normals import dayofyear_sums
from climaflow.normals.calendar import days_of_year, years_and_days


def daily(calendar: str, years: list[int], shape=(2, 3), seed=0) -> xr.DataArray:
    """Daily float32 values of ``years`` (gaps allowed), with a few NaN and a non-index
    coordinate along lat."""
    time = xr.concat(
        [
            xr.DataArray(
                xr.date_range(
                    f"{y}-01-01",
                    periods=360 if calendar == "360_day" else None,
                    end=None if calendar == "360_day" else f"{y}-12-31",
                    freq="D",
                    calendar=calendar,
                    use_cftime=True,
                ),
                dims="time",
            )
            for y in years
        ],
        dim="time",
    )
    rng = np.random.default_rng(seed)
    values = rng.normal(280, 10, (time.size, *shape)).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={
            "time": time.values,
            "lat": np.arange(shape[0]) + 40.5,
            "lon": np.arange(shape[1]) + 250.5,
            "lat_name": ("lat", [f"row{i}" for i in range(shape[0])]),
        },
        name="tas",
        attrs={"units": "K"},
    )


def flox_sums(data: xr.DataArray | xr.Dataset, calendar: str) -> xr.DataArray | xr.Dataset:
    """What a flox nansum by (year, day of year) gives, every year and day expected."""
    years, dayofyear = years_and_days(data["time"], calendar)
    kept = dayofyear > 0
    data, years, dayofyear = data.isel(time=kept), years[kept], dayofyear[kept]
    return xarray_reduce(
        data,
        xr.DataArray(years, dims="time", name="year"),
        xr.DataArray(dayofyear, dims="time", name="dayofyear"),
        func="nansum",
        expected_groups=(np.arange(years.min(), years.max() + 1), days_of_year(calendar)),
        min_count=1,
        engine="numpy",
    ).transpose("year", "dayofyear", ...)


CASES = {
    "noleap": ("noleap", [2001, 2002]),
    "standard, a leap year": ("standard", [2003, 2004]),
    "360_day": ("360_day", [1990, 1991]),
    "a year missing between two": ("noleap", [1990, 1992]),
}


@pytest.mark.parametrize("calendar, years", CASES.values(), ids=CASES.keys())
def test_daily_values_are_placed_as_flox_sums_them(calendar, years):
    data = daily(calendar, years)
    yearly = dayofyear_sums(data)
    assert yearly.valid_counts is None and yearly.values_per_day == 1
    assert yearly.sums.dtype == np.float32
    xr.testing.assert_identical(yearly.sums, flox_sums(data, calendar))
    days = years_and_days(data["time"], calendar)[1]
    expected_counts = np.isfinite(data.values[days > 0]).sum()
    assert int(yearly.counts.sum()) == expected_counts


def test_unsorted_time_and_datasets_are_placed_too():
    data = daily("noleap", [2001, 2002])
    shuffled = data.isel(time=np.random.default_rng(1).permutation(data.sizes["time"]))
    dataset = xr.Dataset({"tas": shuffled, "pr": shuffled * 2}, attrs={"source": "test"})
    yearly = dayofyear_sums(dataset)
    xr.testing.assert_identical(yearly.sums, flox_sums(dataset, "noleap"))
    np.testing.assert_array_equal(
        yearly.sums["tas"].sel(year=2002).values, data.sel(time=slice("2002", "2002")).values
    )


def test_lazy_daily_data_gives_the_same_sums():
    data = daily("noleap", [2001, 2002, 2003])
    lazy = dayofyear_sums(data.chunk(time=365))
    assert lazy.sums.chunks is not None
    xr.testing.assert_identical(lazy.sums.compute(), dayofyear_sums(data).sums)


def test_undeclared_fills_are_masked_and_counted_as_placed():
    data = daily("noleap", [2001, 2002])
    data[3, 0, 0] = 1e20
    data[400, 1, 2] = -np.inf
    data[500, 1, 1] = 9.96921e36
    yearly = dayofyear_sums(data)
    assert yearly.masked_fills == 3
    expected = flox_sums(data.where(np.abs(data) < 1e20), "noleap")
    xr.testing.assert_identical(yearly.sums, expected)
    assert data[3, 0, 0] == 1e20, "the input is left as it was"


OVERWRITE_CASES = {
    "whole noleap years in order: shared": ("noleap", [2001, 2002], True),
    "360_day years in order: shared": ("360_day", [1990, 1991], True),
    "a leap day to drop: copied": ("standard", [2004], False),
    "a year missing between two: copied": ("noleap", [1990, 1992], False),
}


@pytest.mark.parametrize("calendar, years, shared", OVERWRITE_CASES.values(), ids=OVERWRITE_CASES)
def test_overwrite_input_shares_memory_only_where_the_layout_allows(calendar, years, shared):
    data = daily(calendar, years)
    data[3, 0, 0] = 1e20
    expected = dayofyear_sums(data.copy(deep=True))
    yearly = dayofyear_sums(data, overwrite_input=True)
    xr.testing.assert_identical(yearly.sums, expected.sums)
    assert yearly.masked_fills == expected.masked_fills == 1
    assert np.shares_memory(yearly.sums.values, data.values) is shared
    assert bool(np.isnan(data.values[3, 0, 0])) is shared, "only a shared input is masked"
