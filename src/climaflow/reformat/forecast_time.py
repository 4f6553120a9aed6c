"""wgrib2 forecast-time fields (``anl``, ``7 hour fcst``, ``6-7 hour acc fcst``) as numbers.

The forecast field is what wgrib2 prints for a GRIB message's time: ``anl``; ``N hour fcst`` for
a point in time; ``A-B hour acc fcst`` for a statistic (``acc``, ``ave``, ``max``, ``min``) over
forecast hours ``A`` to ``B``, written in days when both ``A`` and ``B - A`` are whole days
(``0-1 day acc fcst`` is 0-24 h, but ``18-24 hour acc fcst``). :func:`parse_forecast` turns it into
numbers (:class:`ForecastTime`, in hours) so that selections compare times, not spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ForecastTime", "parse_forecast"]

_HOURS_PER_UNIT = {"min": 1 / 60, "hour": 1.0, "day": 24.0}
_POINT_IN_TIME = re.compile(r"(\d+) (min|hour|day) fcst")
_STATISTIC = re.compile(r"(\d+)-(\d+) (min|hour|day) ([a-z]+) fcst")


@dataclass(frozen=True)
class ForecastTime:
    """A wgrib2 forecast field as numbers.

    Attributes
    ----------
    start_hours, end_hours
        Forecast hours the message covers: equal for a point in time (0 for ``anl``); the
        window of the statistic otherwise (6 and 7 for ``6-7 hour acc fcst``, 0 and 24 for
        ``0-1 day acc fcst``).
    statistic
        ``None`` for a point in time, else wgrib2's name of the statistic: ``"acc"``,
        ``"ave"``, ``"max"``, ``"min"``...
    """

    start_hours: float
    end_hours: float
    statistic: str | None = None

    def __str__(self) -> str:
        """wgrib2's spelling in hours, e.g. ``"anl"``, ``"7 hour fcst"``, ``"0-24 hour acc fcst"``."""
        if self.statistic is None:
            return "anl" if self.end_hours == 0 else f"{self.end_hours:g} hour fcst"
        return f"{self.start_hours:g}-{self.end_hours:g} hour {self.statistic} fcst"


def parse_forecast(text: str) -> ForecastTime:
    """The numbers of a wgrib2 forecast field, in hours.

    Parameters
    ----------
    text
        ``"anl"``, ``"N UNIT fcst"`` or ``"A-B UNIT STAT fcst"`` with ``UNIT`` one of ``min``,
        ``hour``, ``day`` and ``STAT`` a lowercase word (``acc``, ``ave``, ``max``, ``min``).

    Returns
    -------
    ForecastTime
        E.g. ``ForecastTime(6, 7, "acc")`` for ``"6-7 hour acc fcst"``,
        ``ForecastTime(0, 48, "acc")`` for ``"0-2 day acc fcst"``, ``ForecastTime(7, 7)`` for
        ``"7 hour fcst"`` and ``ForecastTime(0, 0)`` for ``"anl"``.

    Raises
    ------
    ValueError
        For any other form (other units, averages of forecasts ``ave@(fcst,dt=...)``,
        ensemble statistics...), naming the text.
    """
    if text == "anl":
        return ForecastTime(0.0, 0.0)
    if (point := _POINT_IN_TIME.fullmatch(text)) is not None:
        hours = int(point.group(1)) * _HOURS_PER_UNIT[point.group(2)]
        return ForecastTime(hours, hours)
    if (window := _STATISTIC.fullmatch(text)) is not None:
        unit = _HOURS_PER_UNIT[window.group(3)]
        start, end = int(window.group(1)) * unit, int(window.group(2)) * unit
        if end < start:
            raise ValueError(f"forecast field {text!r} ends before it starts")
        return ForecastTime(start, end, window.group(4))
    raise ValueError(f"unsupported forecast field {text!r}")
