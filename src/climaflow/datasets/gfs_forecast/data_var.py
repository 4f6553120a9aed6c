"""``GfsDataVar``: a ``gfs-forecast`` variable and how to find its GRIB message in a GFS file.

The inventory (``.idx``) line is chosen by element, level and forecast field
(:meth:`GfsDataVar.matches_forecast`), the decoded message checked against eccodes keys
(:meth:`GfsDataVar.grib_keys`). Statistics (accumulations, averages, extremes) also name the
time window they cover (:class:`StatisticWindow`), since a GFS file holds two per lead.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from climaflow.reformat.forecast_time import ForecastTime
from climaflow.reformat.grib_read import MessageKeys
from climaflow.reformat.template import DataVar


class StatisticWindow(StrEnum):
    """Which window a GFS statistical message (accumulation, average, extreme) covers.

    A GFS file at lead ``L > 0`` holds its statistics over two windows, e.g. at lead 7:
    ``APCP:surface:6-7 hour acc fcst`` and ``APCP:surface:0-7 hour acc fcst``.
    """

    SINCE_RESET = "since_reset"
    """From the last reset (a multiple of the bucket length below ``L``) to ``L``: 6-7 h at
    lead 7, 0-6 h at lead 6. Accumulations over it deaccumulate with a ``reset_frequency``
    of the bucket length."""
    SINCE_START = "since_start"
    """From the initialisation to ``L``: 0-7 h at lead 7. Accumulations over it deaccumulate
    with ``reset_frequency=None``."""


#: GFS resets its accumulations, averages and extremes every 6 forecast hours.
GFS_STATISTIC_BUCKET_HOURS = 6

#: eccodes ``stepType`` of each GFS statistic and wgrib2's name for it in ``.idx`` inventories.
IDX_STATISTICS: Mapping[str, str] = {"accum": "acc", "avg": "ave", "max": "max", "min": "min"}


@dataclass(frozen=True, kw_only=True)
class GfsDataVar(DataVar):
    """A GFS variable and the GRIB messages it comes from.

    Attributes
    ----------
    grib_element, grib_level
        The message's variable and level as NOAA ``.idx`` inventories spell them
        (``TMP``, ``2 m above ground``).
    grib_short_name, grib_type_of_level, grib_level_value, grib_step_type
        The eccodes/cfgrib keys the message must have (``2t``, ``heightAboveGround``, 2,
        ``instant``); ``grib_step_type`` is ``"instant"`` or a statistic of
        :data:`IDX_STATISTICS` (``"accum"``, ``"avg"``, ``"max"``, ``"min"``).
    grib_window
        For a statistic, which of the file's windows the variable takes (ignored for
        instantaneous variables). ``None`` leaves it open: only for sources holding one
        window per lead, since selecting from a GFS file at leads above the first bucket
        then matches two different messages and fails.
    grib_bucket_hours
        Length of the reset cycle of :attr:`StatisticWindow.SINCE_RESET`.

    Raises
    ------
    ValueError
        On construction, for an unknown ``grib_step_type``, or a variable deaccumulated to a
        rate whose window does not agree with ``processing.reset_frequency`` (the bucket length
        for ``SINCE_RESET``, ``None`` for ``SINCE_START``).
    """

    grib_element: str
    grib_level: str
    grib_short_name: str
    grib_type_of_level: str
    grib_level_value: int
    grib_step_type: str = "instant"
    grib_window: StatisticWindow | None = StatisticWindow.SINCE_RESET
    grib_bucket_hours: int = GFS_STATISTIC_BUCKET_HOURS

    def __post_init__(self) -> None:
        if self.grib_step_type != "instant" and self.grib_step_type not in IDX_STATISTICS:
            raise ValueError(
                f"{self.name}: grib_step_type {self.grib_step_type!r} is not 'instant' or one "
                f"of {sorted(IDX_STATISTICS)}"
            )
        if self.processing.deaccumulate_to_rate:
            self._check_deaccumulation()

    def _check_deaccumulation(self) -> None:
        if self.grib_step_type != "accum" or self.grib_window is None:
            raise ValueError(
                f"{self.name}: only an accumulation over a declared window can be "
                f"deaccumulated to a rate (grib_step_type {self.grib_step_type!r}, "
                f"grib_window {self.grib_window})"
            )
        reset = self.processing.reset_frequency
        if self.grib_window is StatisticWindow.SINCE_START:
            consistent, expected = reset is None, "None"
        else:
            bucket = np.timedelta64(self.grib_bucket_hours, "h")
            consistent, expected = reset is not None and reset == bucket, str(bucket)
        if not consistent:
            raise ValueError(
                f"{self.name}: accumulations {self.grib_window} need reset_frequency "
                f"{expected}, got {reset}"
            )

    @property
    def is_statistic(self) -> bool:
        """Whether the message is a statistic over a time window rather than a point in time."""
        return self.grib_step_type != "instant"

    def present_at(self, lead_hours: int) -> bool:
        """Whether GFS files at this lead hold the variable (no statistics at lead 0)."""
        return not self.is_statistic or lead_hours > 0

    def window_start(self, lead_hours: int) -> int | None:
        """First forecast hour of the message at this lead (``lead_hours`` for instantaneous
        variables); ``None`` when the window is left open."""
        if not self.is_statistic:
            return lead_hours
        if self.grib_window is StatisticWindow.SINCE_RESET:
            return (lead_hours - 1) // self.grib_bucket_hours * self.grib_bucket_hours
        if self.grib_window is StatisticWindow.SINCE_START:
            return 0
        return None

    def matches_forecast(self, forecast: ForecastTime, lead_hours: int) -> bool:
        """Whether an inventory line with this forecast field is the variable's at this lead.

        Times are compared as numbers, so ``0-1 day acc fcst`` is the 0-24 h window.
        """
        if forecast.end_hours != lead_hours:
            return False
        if not self.is_statistic:
            return forecast.statistic is None
        start = self.window_start(lead_hours)
        return forecast.statistic == IDX_STATISTICS[self.grib_step_type] and (
            start is None or forecast.start_hours == start
        )

    def describe_forecast(self, lead_hours: int) -> str:
        """The wanted forecast field at this lead, for messages: ``"6-7 hour acc fcst"``."""
        if not self.is_statistic:
            return str(ForecastTime(lead_hours, lead_hours))
        start = self.window_start(lead_hours)
        window = f"{start}-{lead_hours}" if start is not None else f"(any)-{lead_hours}"
        return f"{window} hour {IDX_STATISTICS[self.grib_step_type]} fcst"

    def grib_keys(self, lead_hours: int) -> MessageKeys:
        """The keys the variable's GRIB message must have at this lead; ``stepRange`` is
        pinned (``"7"``, ``"6-7"``) unless the window is left open."""
        start = self.window_start(lead_hours)
        if start is None:
            step_range = None
        elif self.is_statistic:
            step_range = f"{start}-{lead_hours}"
        else:
            step_range = str(lead_hours)
        return MessageKeys(
            self.grib_short_name,
            self.grib_type_of_level,
            self.grib_level_value,
            self.grib_step_type,
            step_range,
        )
