"""Day of year on a 365-day axis: 29 February dropped, 360_day refused."""

import cftime
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from climaflow.normals.calendar import (
    UnsupportedCalendarError,
    check_calendar,
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


def test_360_day_calendar_is_refused_with_a_way_out():
    with pytest.raises(
        UnsupportedCalendarError, match=r"file.nc: calendar '360_day'.*convert_calendar"
    ):
        check_calendar("360_day", "file.nc")
