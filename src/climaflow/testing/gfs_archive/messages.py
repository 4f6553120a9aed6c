"""Which messages each synthetic GFS file holds, and how its inventory spells them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from climaflow.datasets.gfs_forecast.source_file_coord import gfs_file_path
from climaflow.testing.gfs_archive.variables import (
    DEFAULT_VARIABLES,
    DISTRACTOR_VARIABLES,
    PRECIPITATION_BUCKET_HOURS,
    VARIABLES,
    SyntheticVariable,
)


@dataclass(frozen=True)
class SyntheticMessage:
    """One GRIB message of a synthetic file, as planned by :func:`messages_for_lead`.

    Attributes
    ----------
    variable
        The :class:`SyntheticVariable` it encodes.
    start_step, end_step
        Forecast hours: equal for instantaneous fields; the accumulation window otherwise.
    idx_forecast
        The wgrib2 forecast string, e.g. ``"anl"``, ``"7 hour fcst"``, ``"6-7 hour acc fcst"``.
    """

    variable: SyntheticVariable
    start_step: int
    end_step: int
    idx_forecast: str

    @property
    def step_range(self) -> str:
        """eccodes ``stepRange``: ``"7"`` or ``"6-7"``."""
        if self.variable.step_type == "instant":
            return str(self.end_step)
        return f"{self.start_step}-{self.end_step}"

    @property
    def idx_line(self) -> str:
        """The inventory line without its number and offset: ``"APCP:surface:6-7 hour acc fcst:"``."""
        return f"{self.variable.idx_variable}:{self.variable.idx_level}:{self.idx_forecast}:"


def to_datetime(value: datetime | np.datetime64 | str) -> datetime:
    """Naive UTC datetime from a datetime (aware ones are converted), datetime64 or ISO string."""
    if isinstance(value, np.datetime64):
        seconds = value.astype("datetime64[s]").astype(np.int64)
        return datetime(1970, 1, 1) + timedelta(seconds=int(seconds))
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or numpy.datetime64, got {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def init_datetime(value: datetime | np.datetime64 | str) -> datetime:
    init = to_datetime(value)
    if (init.minute, init.second, init.microsecond) != (0, 0, 0):
        raise ValueError(f"init time must be a whole hour, got {init.isoformat()}")
    return init


def lead_hours_of(value: int | np.integer | np.timedelta64 | timedelta) -> int:
    if isinstance(value, np.timedelta64):
        seconds = int(value.astype("timedelta64[s]").astype(np.int64))
    elif isinstance(value, timedelta):
        seconds = int(value.total_seconds())
    else:
        if int(value) != value:
            raise ValueError(f"lead time must be a whole number of hours, got {value}")
        seconds = int(value) * 3600
    if seconds % 3600 or seconds < 0:
        raise ValueError(f"lead time must be a non-negative whole number of hours: {value}")
    return seconds // 3600


def variable_named(name: str) -> SyntheticVariable:
    try:
        return VARIABLES[name]
    except KeyError:
        for variable in VARIABLES.values():
            if variable.short_name == name:
                return variable
        raise KeyError(f"unknown variable {name!r}; expected one of {list(VARIABLES)}") from None


def gfs_relative_path(
    init_time: datetime | np.datetime64, lead_time_hours: int, *, product: str = "pgrb2.0p25"
) -> str:
    """NOAA's path of a GFS file below the archive root.

    Returns
    -------
    str
        ``"gfs.{YYYYMMDD}/{HH}/atmos/gfs.t{HH}z.{product}.f{FFF}"``, e.g.
        ``"gfs.20240101/00/atmos/gfs.t00z.pgrb2.0p25.f006"``.
    """
    init = np.datetime64(init_datetime(init_time).replace(tzinfo=None), "h")
    lead = np.timedelta64(lead_hours_of(lead_time_hours), "h")
    return gfs_file_path(init, lead, product=product)


def precipitation_bucket_start(lead_time_hours: int) -> int:
    """Start hour of the 6-hour bucket (of APCP, ACPCP, PRATE averages) ending at
    ``lead_time_hours`` (>= 1)."""
    lead = lead_hours_of(lead_time_hours)
    if lead < 1:
        raise ValueError("there is no precipitation accumulation at lead 0")
    return PRECIPITATION_BUCKET_HOURS * ((lead - 1) // PRECIPITATION_BUCKET_HOURS)


IDX_STATISTICS = {"accum": "acc", "avg": "ave"}


def wgrib2_forecast(start: int, end: int, step_type: str) -> str:
    """The forecast string wgrib2 prints for an instantaneous field or a statistic: in days
    when both the start and the length of the window are whole days, else in hours."""
    if step_type == "instant":
        return "anl" if end == 0 else f"{end} hour fcst"
    statistic = IDX_STATISTICS[step_type]
    if start % 24 == 0 and (end - start) % 24 == 0:
        return f"{start // 24}-{end // 24} day {statistic} fcst"
    return f"{start}-{end} hour {statistic} fcst"


def messages_for_lead(
    lead_time_hours: int,
    variables: Iterable[str] | None = None,
    *,
    include_distractors: bool = True,
) -> list[SyntheticMessage]:
    """The messages of a synthetic file at one lead time, in file order.

    Parameters
    ----------
    lead_time_hours
        Forecast hour of the file.
    variables
        Variable names (keys of :data:`VARIABLES`, or their cfgrib shortNames); ``None`` for
        :data:`DEFAULT_VARIABLES`. Order does not matter: files always follow GFS order.
    include_distractors
        Also plan the unrelated :data:`DISTRACTOR_VARIABLES` messages.

    Returns
    -------
    list of SyntheticMessage
        No statistic at lead 0. At lead ``L >= 1``, averages over the bucket ``b-L``, and
        accumulations twice: over ``b-L`` then ``0-L`` (the same window at leads 1..6).
    """
    lead = lead_hours_of(lead_time_hours)
    wanted = {
        variable_named(v).name for v in (DEFAULT_VARIABLES if variables is None else variables)
    }
    if include_distractors:
        wanted.update(DISTRACTOR_VARIABLES)
    messages: list[SyntheticMessage] = []
    for variable in VARIABLES.values():
        if variable.name not in wanted:
            continue
        if variable.step_type == "instant":
            messages.append(
                SyntheticMessage(variable, lead, lead, wgrib2_forecast(lead, lead, "instant"))
            )
            continue
        if lead == 0:
            continue
        windows = [(precipitation_bucket_start(lead), lead)]
        if variable.since_start:
            windows.append((0, lead))
        messages.extend(
            SyntheticMessage(variable, start, end, wgrib2_forecast(start, end, variable.step_type))
            for start, end in windows
        )
    return messages
