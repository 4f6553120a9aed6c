"""Day of year on a fixed-length axis, whatever the input calendar.

Normals are indexed by ``dayofyear``, where day N is the same calendar day in every year:

- calendars with 365-day years and those with leap days (noleap / 365_day; standard,
  gregorian, proleptic_gregorian, julian, all_leap / 366_day) use days 1..365: 1 = 1 January,
  59 = 28 February, 60 = 1 March, 365 = 31 December; 29 February is dropped;
- the 360_day calendar (twelve 30-day months, e.g. UKESM1-0-LL, HadGEM3-GC31, KACE-1-0-G)
  keeps its own days 1..360: day N is ``30 * (month - 1) + day``. To compare such normals with
  365-day ones, bring them onto 365 days with xarray's
  ``obj.convert_calendar("noleap", dim="time", align_on="year")`` (on the daily inputs) or
  interpolate the 360 days of the normal onto 365.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

DAYS_PER_YEAR = 365
DAYS_PER_360_DAY_YEAR = 360

_DAYS_BEFORE_MONTH = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
_365_DAY_CALENDARS = frozenset(
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
_360_DAY_CALENDARS = frozenset({"360_day"})


class UnsupportedCalendarError(ValueError):
    """The input's calendar is none that climaflow knows how to lay out by day of year."""


def check_calendar(calendar: str, source: str) -> None:
    """Raise :class:`UnsupportedCalendarError` for a calendar without a day-of-year axis.

    ``source`` names the input (a file, a variable) in the message.
    """
    known = _365_DAY_CALENDARS | _360_DAY_CALENDARS
    if calendar.lower() not in known:
        raise UnsupportedCalendarError(
            f"{source}: calendar {calendar!r} is not supported for daily normals "
            f"(supported: {', '.join(sorted(known))})"
        )


def days_per_year(calendar: str) -> int:
    """Length of the normals' day-of-year axis: 360 for 360_day, else 365."""
    check_calendar(calendar, "calendar")
    return DAYS_PER_360_DAY_YEAR if calendar.lower() in _360_DAY_CALENDARS else DAYS_PER_YEAR


def days_of_year(calendar: str) -> np.ndarray:
    """The day-of-year axis ``1..days_per_year(calendar)``."""
    return np.arange(1, days_per_year(calendar) + 1)


def noleap_dayofyear(
    months: Sequence[int] | np.ndarray, days: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Day of year 1..365 of each (month, day), with 0 for 29 February (to be dropped)."""
    months = np.asarray(months)
    days = np.asarray(days)
    dayofyear = _DAYS_BEFORE_MONTH[months - 1] + days
    return np.where((months == 2) & (days == 29), 0, dayofyear)


def years_and_days(times: Any, calendar: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Years and days of year (0 marks a dropped 29 February) of an array of times.

    ``times`` is anything with ``.year``, ``.month`` and ``.day`` per element: a
    ``pandas.DatetimeIndex``, an ``xarray.CFTimeIndex``, an array of ``cftime`` datetimes, or
    an ``xarray`` time coordinate (through its ``.dt`` accessor). ``calendar`` selects the
    360_day layout; ``None`` takes the calendar of cftime times, else a 365-day layout.
    """
    fields = getattr(times, "dt", times)
    if all(hasattr(fields, name) for name in ("year", "month", "day")):
        years, months, days = fields.year, fields.month, fields.day
    else:
        years = [t.year for t in times]
        months = [t.month for t in times]
        days = [t.day for t in times]
    if calendar is None:
        calendar = calendar_of(times)
    years = np.asarray(years, dtype=np.int64)
    if calendar.lower() in _360_DAY_CALENDARS:
        return years, 30 * (np.asarray(months) - 1) + np.asarray(days)
    return years, noleap_dayofyear(months, days)


def calendar_of(times: Any) -> str:
    """The calendar of times: cftime's, xarray's ``.dt.calendar``, else proleptic_gregorian."""
    accessor = getattr(times, "dt", None)
    if accessor is not None and getattr(times, "size", 0) > 0:
        return str(accessor.calendar)
    calendar = getattr(times, "calendar", None)
    if isinstance(calendar, str):
        return calendar
    first = next(iter(np.asarray(times).ravel()), None) if np.size(times) else None
    return str(getattr(first, "calendar", "") or "proleptic_gregorian")


def incomplete_years(years: np.ndarray, dayofyear: np.ndarray, calendar: str) -> list[int]:
    """Years that lack some of their calendar's days (a dropped 29 February aside)."""
    expected = days_per_year(calendar)
    kept = dayofyear > 0
    unique = np.unique(years[kept] * 1000 + dayofyear[kept])
    present_years, days_present = np.unique(unique // 1000, return_counts=True)
    short = [int(y) for y, n in zip(present_years, days_present, strict=True) if n < expected]
    only_dropped = sorted(set(years[~kept].tolist()) - set(present_years.tolist()))
    return sorted(short + only_dropped)
