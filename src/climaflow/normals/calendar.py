"""Day of year on a 365-day axis, whatever the input calendar (29 February is dropped).

Normals are indexed by ``dayofyear`` 1..365, where day N is the same calendar day in every
year: 1 = 1 January, 59 = 28 February, 60 = 1 March, 365 = 31 December. Calendars with leap
days (standard, gregorian, proleptic_gregorian, julian, all_leap / 366_day) drop 29 February;
noleap / 365_day data map one to one. 360_day data (30-day months) have no such mapping and are
refused: convert them first (e.g. ``xarray``'s ``convert_calendar(..., align_on="year")``).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

DAYS_PER_YEAR = 365
DAYS_OF_YEAR = np.arange(1, DAYS_PER_YEAR + 1)

_DAYS_BEFORE_MONTH = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
_SUPPORTED_CALENDARS = frozenset(
    {
        "noleap",
        "365_day",
        "standard",
        "gregorian",
        "proleptic_gregorian",
        "julian",
        "all_leap",
        "366_day",
    }
)


class UnsupportedCalendarError(ValueError):
    """The input's calendar has no day-for-day mapping onto a 365-day year (e.g. 360_day)."""


def check_calendar(calendar: str, source: str) -> None:
    """Raise :class:`UnsupportedCalendarError` unless ``calendar`` maps onto 365 days.

    ``source`` names the input (a file, a variable) in the message.
    """
    if calendar.lower() not in _SUPPORTED_CALENDARS:
        raise UnsupportedCalendarError(
            f"{source}: calendar {calendar!r} is not supported for daily normals "
            f"(supported: {', '.join(sorted(_SUPPORTED_CALENDARS))}). "
            "360_day data have no day-for-day mapping onto a 365-day year; convert first, "
            "e.g. with xarray's obj.convert_calendar('noleap', align_on='year')."
        )


def noleap_dayofyear(
    months: Sequence[int] | np.ndarray, days: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Day of year 1..365 of each (month, day), with 0 for 29 February (to be dropped)."""
    months = np.asarray(months)
    days = np.asarray(days)
    dayofyear = _DAYS_BEFORE_MONTH[months - 1] + days
    return np.where((months == 2) & (days == 29), 0, dayofyear)


def years_and_days(times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Years and 365-day day-of-year (0 marks 29 February) of an array of times.

    ``times`` is anything with ``.year``, ``.month`` and ``.day`` per element: a
    ``pandas.DatetimeIndex``, an ``xarray.CFTimeIndex``, an array of ``cftime`` datetimes, or
    an ``xarray`` time coordinate (through its ``.dt`` accessor).
    """
    fields = getattr(times, "dt", times)
    if all(hasattr(fields, name) for name in ("year", "month", "day")):
        years, months, days = fields.year, fields.month, fields.day
    else:
        years = [t.year for t in times]
        months = [t.month for t in times]
        days = [t.day for t in times]
    return np.asarray(years, dtype=np.int64), noleap_dayofyear(months, days)
