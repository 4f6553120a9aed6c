"""Day of year: 365 days with 29 February dropped, or the 360_day calendar's own 360."""

import cftime
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from climaflow.normals.calendar import (
    UnsupportedCalendarError,
    check_calendar,
    days_per_year,
    incomplete_years,
    noleap_dayofyear,
    years_and_days,
)


def test_calendar_days_map_to_the_same_day_every_year():
    months = [1, 2, 2, 3, 12]
    days = [1, 28, 29, 1, 31]
    np.testing.assert_array_equal(noleap_dayofyear(months, days), [1, 59, 0, 60, 365])


@pytest.mark.parametrize("year", [2000, 2001])
def test_standard_calendar_years_give_365_days(year):
    times = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    years, days = years_and_days(times)
    kept = days[days > 0]
    np.testing.assert_array_equal(kept, np.arange(1, 366))
    assert (years == year).all()
    assert (days == 0).sum() == (1 if year == 2000 else 0)
    assert days[times.get_loc("2000-03-01" if year == 2000 else "2001-03-01")] == 60


def test_cftime_indexes_arrays_and_coordinates_agree():
    index = xr.date_range("1999-12-30", periods=5, freq="D", calendar="noleap", use_cftime=True)
    objects = np.array([cftime.DatetimeNoLeap(1999, 12, 30 + i) for i in range(2)])
    coordinate = xr.DataArray(index, dims="time")
    for times in (index, coordinate):
        years, days = years_and_days(times)
        np.testing.assert_array_equal(years, [1999, 1999, 2000, 2000, 2000])
        np.testing.assert_array_equal(days, [364, 365, 1, 2, 3])
    np.testing.assert_array_equal(years_and_days(objects)[1], [364, 365])


@pytest.mark.parametrize(
    "calendar", ["noleap", "365_day", "standard", "gregorian", "proleptic_gregorian", "julian"]
)
def test_calendars_with_a_365_day_mapping_pass(calendar):
    check_calendar(calendar, "file.nc")


def test_360_day_calendar_keeps_its_own_360_days():
    times = xr.date_range("2001-01-01", periods=720, freq="D", calendar="360_day", use_cftime=True)
    years, days = years_and_days(times)
    np.testing.assert_array_equal(days[:360], np.arange(1, 361))
    np.testing.assert_array_equal(years, np.repeat([2001, 2002], 360))
    assert days_per_year("360_day") == 360
    assert days_per_year("standard") == days_per_year("noleap") == 365


@pytest.mark.parametrize(
    ("calendar", "keep", "incomplete"),
    [
        ("noleap", slice(None), []),
        ("noleap", slice(0, 334), [2004]),  # ends on 30 November
        ("standard", slice(None), []),
        ("360_day", slice(None), []),
        ("360_day", slice(1, None), [2004]),  # no 1 January
    ],
)
def test_incomplete_years_are_those_missing_calendar_days(calendar, keep, incomplete):
    times = xr.date_range("2004-01-01", "2004-12-30", freq="D", calendar=calendar, use_cftime=True)
    if calendar != "360_day":
        times = xr.date_range(
            "2004-01-01", "2004-12-31", freq="D", calendar=calendar, use_cftime=True
        )
    years, days = years_and_days(times[keep])
    assert incomplete_years(years, days, calendar) == incomplete


def test_a_leap_year_without_29_february_is_complete():
    times = pd.date_range("2004-01-01", "2004-12-31", freq="D")
    times = times[~((times.month == 2) & (times.day == 29))]
    years, days = years_and_days(times)
    assert incomplete_years(years, days, "standard") == []


def test_unknown_calendars_are_refused():
    with pytest.raises(UnsupportedCalendarError, match=r"file.nc: calendar 'martian'"):
        check_calendar("martian", "file.nc")
