"""A small, faithful synthetic GFS archive of real GRIB2 files, for tests and the demo.

:func:`write_synthetic_gfs_archive` writes, with eccodes, GRIB2 files laid out like NOAA's GFS
archive (``{root}/gfs.{YYYYMMDD}/{HH}/atmos/gfs.t{HH}z.pgrb2.0p25.f{FFF}``), each with a
wgrib2-format ``.idx`` inventory beside it (``{file}.idx``) whose byte offsets match the GRIB
messages exactly. The messages are encoded the way NCEP encodes them (centre ``kwbc``, GRIB2
tables version 2, regular lat-lon grid from 90°N and 0°E scanning southwards, product definition
template 0 for instantaneous fields and 8 for statistics), so cfgrib and eccodes decode them to
the usual shortNames (``prmsl``, ``2t``, ``2r``, ``10u``, ``10v``, ``tp``).

The values are deterministic, smooth functions of (variable, init time, lead time, latitude,
longitude) with realistic magnitudes, exposed as :func:`expected_field` (instantaneous variables)
and :func:`expected_precipitation_rate` / :func:`expected_accumulation` (precipitation), and
message by message as :func:`expected_values`, so tests can compare anything derived from the
archive with exact expectations, up to GRIB packing precision (see :func:`packing_tolerance`).

Messages in each file, in GFS order, with unrelated messages interleaved so that byte-range
selection matters (compare ``reformatters__gfs.t00z.pgrb2.0p25.f007.idx`` in the real test data):

==================================  =====  =====  =================  ==============  ==========
variable (key)                      short  idx    idx level          d/c/n, surface  units
==================================  =====  =====  =================  ==============  ==========
pressure_reduced_to_mean_sea_level  prmsl  PRMSL  mean sea level     0/3/1, 101      Pa
temperature_2hpa (unrelated)        t      TMP    2 mb               0/0/0, 100      K
geopotential_height_500hpa (unr.)   gh     HGT    500 mb             0/3/5, 100      gpm
temperature_850hpa (unrelated)      t      TMP    850 mb             0/0/0, 100      K
temperature_2m                      2t     TMP    2 m above ground   0/0/0, 103      K
relative_humidity_2m                2r     RH     2 m above ground   0/1/1, 103      %
wind_u_10m                          10u    UGRD   10 m above ground  0/2/2, 103      m s-1
wind_v_10m                          10v    VGRD   10 m above ground  0/2/3, 103      m s-1
precipitation_rate (unrelated)      prate  PRATE  surface            0/1/7, 1        kg m-2 s-1
precipitation_rate_average (unr.)   prate  PRATE  surface            0/1/7, 1        kg m-2 s-1
precipitation_surface               tp     APCP   surface            0/1/8, 1        kg m-2
convective_precipitation (unr.)     acpcp  ACPCP  surface            0/1/10, 1       kg m-2
==================================  =====  =====  =================  ==============  ==========

Statistics follow real GFS, which resets them every 6 hours. At lead 0 there are none (the file
has ``PRATE:surface:anl`` but no ``APCP``, ``ACPCP`` or ``ave`` message). At lead ``L >= 1`` the
average holds the current 6-hour bucket ``b-L`` with ``b = 6 * ((L - 1) // 6)`` (``0-1`` ..
``0-6``, then ``6-7`` .. ``6-12``, ``12-13`` ...), and each accumulation has two messages: the
bucket ``b-L``, then the total ``0-L`` since initialisation. At leads 1-6 both are ``0-L``: the
file holds the same message twice and its inventory the same line twice, as NOAA's do. The idx
forecast strings are what wgrib2 prints: ``anl`` at lead 0, ``L hour fcst``,
``b-L hour acc fcst`` / ``b-L hour ave fcst``, and whole-day windows in days (``0-1 day acc fcst``
for 0-24 h, ``0-2 day acc fcst`` for 0-48 h, but ``18-24 hour acc fcst``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import eccodes
import numpy as np

from climaflow.datasets.gfs_forecast.source_file_coord import gfs_file_path
from climaflow.datasets.gfs_forecast.template import gfs_grid
from climaflow.io import write_atomic

__all__ = [
    "DEFAULT_VARIABLES",
    "DISTRACTOR_VARIABLES",
    "VARIABLES",
    "SyntheticMessage",
    "SyntheticVariable",
    "expected_accumulation",
    "expected_field",
    "expected_precipitation_rate",
    "expected_values",
    "gfs_grid",
    "gfs_relative_path",
    "messages_for_lead",
    "packing_tolerance",
    "precipitation_bucket_start",
    "write_synthetic_gfs_archive",
]

PRECIPITATION_BUCKET_HOURS = 6
"""Length of GFS's resetting buckets of accumulations and averages."""

CONVECTIVE_FRACTION = 0.4
"""The share of the precipitation that ``ACPCP`` (convective precipitation) holds."""

SECONDS_PER_HOUR = 3600.0

_EPOCH = datetime(2000, 1, 1)


@dataclass(frozen=True)
class SyntheticVariable:
    """How one variable is encoded in GRIB2, named in the ``.idx`` and decoded by cfgrib.

    Attributes
    ----------
    name
        Key in :data:`VARIABLES`, e.g. ``"temperature_2m"``.
    idx_variable
        wgrib2 variable abbreviation in the ``.idx``, e.g. ``"TMP"``.
    idx_level
        wgrib2 level string in the ``.idx``, e.g. ``"2 m above ground"``.
    short_name
        eccodes/cfgrib ``shortName``, e.g. ``"2t"``.
    type_of_level
        eccodes/cfgrib ``typeOfLevel``, e.g. ``"heightAboveGround"``.
    level
        eccodes/cfgrib ``level`` (m for heights, hPa for isobaric levels, 0 otherwise).
    discipline, parameter_category, parameter_number
        GRIB2 parameter triple.
    type_of_first_fixed_surface
        GRIB2 code table 4.5 (1 ground, 100 isobaric, 101 mean sea level, 103 height above
        ground).
    scaled_value_of_first_fixed_surface
        Level value in the surface's SI unit (Pa or m), scale factor 0.
    units
        Units of the values.
    step_type
        ``"instant"``, ``"accum"`` or ``"avg"``.
    since_start
        For a statistic: whether each file also holds it since initialisation (``0-L``), after
        the bucket (``b-L``); GFS does so for accumulations.
    noise_scale
        Amplitude of the optional seeded noise, in ``units`` (a relative factor for
        precipitation).
    """

    name: str
    idx_variable: str
    idx_level: str
    short_name: str
    type_of_level: str
    level: int
    discipline: int
    parameter_category: int
    parameter_number: int
    type_of_first_fixed_surface: int
    scaled_value_of_first_fixed_surface: int
    units: str
    step_type: Literal["instant", "accum", "avg"] = "instant"
    since_start: bool = False
    noise_scale: float = 0.0


def _variable(*args: Any, **kwargs: Any) -> SyntheticVariable:
    return SyntheticVariable(*args, **kwargs)


VARIABLES: dict[str, SyntheticVariable] = {
    v.name: v
    for v in (
        _variable(
            "pressure_reduced_to_mean_sea_level", "PRMSL", "mean sea level", "prmsl", "meanSea",
            0, 0, 3, 1, 101, 0, "Pa", noise_scale=50.0,
        ),
        _variable(
            "temperature_2hpa", "TMP", "2 mb", "t", "isobaricInhPa",
            2, 0, 0, 0, 100, 200, "K", noise_scale=0.5,
        ),
        _variable(
            "geopotential_height_500hpa", "HGT", "500 mb", "gh", "isobaricInhPa",
            500, 0, 3, 5, 100, 50000, "gpm", noise_scale=5.0,
        ),
        _variable(
            "temperature_850hpa", "TMP", "850 mb", "t", "isobaricInhPa",
            850, 0, 0, 0, 100, 85000, "K", noise_scale=0.5,
        ),
        _variable(
            "temperature_2m", "TMP", "2 m above ground", "2t", "heightAboveGround",
            2, 0, 0, 0, 103, 2, "K", noise_scale=0.5,
        ),
        _variable(
            "relative_humidity_2m", "RH", "2 m above ground", "2r", "heightAboveGround",
            2, 0, 1, 1, 103, 2, "%", noise_scale=2.0,
        ),
        _variable(
            "wind_u_10m", "UGRD", "10 m above ground", "10u", "heightAboveGround",
            10, 0, 2, 2, 103, 10, "m s-1", noise_scale=0.5,
        ),
        _variable(
            "wind_v_10m", "VGRD", "10 m above ground", "10v", "heightAboveGround",
            10, 0, 2, 3, 103, 10, "m s-1", noise_scale=0.5,
        ),
        _variable(
            "precipitation_rate", "PRATE", "surface", "prate", "surface",
            0, 0, 1, 7, 1, 0, "kg m-2 s-1",
        ),
        _variable(
            "precipitation_rate_average", "PRATE", "surface", "prate", "surface",
            0, 0, 1, 7, 1, 0, "kg m-2 s-1", step_type="avg",
        ),
        _variable(
            "precipitation_surface", "APCP", "surface", "tp", "surface",
            0, 0, 1, 8, 1, 0, "kg m-2", step_type="accum", since_start=True, noise_scale=0.5,
        ),
        _variable(
            "convective_precipitation", "ACPCP", "surface", "acpcp", "surface",
            0, 0, 1, 10, 1, 0, "kg m-2", step_type="accum", since_start=True,
        ),
    )
}  # fmt: skip
"""All variables, keyed by name, in the order their messages appear in a file."""

DISTRACTOR_VARIABLES: tuple[str, ...] = (
    "temperature_2hpa",
    "geopotential_height_500hpa",
    "temperature_850hpa",
    "precipitation_rate",
    "precipitation_rate_average",
    "convective_precipitation",
)
"""Unrelated messages written in every file (unless disabled), as in real GFS files: the same
variables at other levels, and other statistics of precipitation."""

DEFAULT_VARIABLES: tuple[str, ...] = (
    "pressure_reduced_to_mean_sea_level",
    "temperature_2m",
    "relative_humidity_2m",
    "wind_u_10m",
    "wind_v_10m",
    "precipitation_surface",
)
"""The variables written when ``variables=None``."""

PRECIPITATION = "precipitation_surface"


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


# --------------------------------------------------------------------------------- helpers


def _as_datetime(value: datetime | np.datetime64 | str) -> datetime:
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


def _init_time(value: datetime | np.datetime64 | str) -> datetime:
    init = _as_datetime(value)
    if (init.minute, init.second, init.microsecond) != (0, 0, 0):
        raise ValueError(f"init time must be a whole hour, got {init.isoformat()}")
    return init


def _lead_hours(value: int | np.integer | np.timedelta64 | timedelta) -> int:
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


def _get_variable(name: str) -> SyntheticVariable:
    try:
        return VARIABLES[name]
    except KeyError:
        for variable in VARIABLES.values():
            if variable.short_name == name:
                return variable
        raise KeyError(f"unknown variable {name!r}; expected one of {list(VARIABLES)}") from None


def _hours_since_epoch(time: datetime) -> float:
    return (time - _EPOCH).total_seconds() / SECONDS_PER_HOUR


def _grid_mesh(
    latitudes: np.ndarray | Sequence[float], longitudes: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(latitudes, dtype=np.float64)
    lon = np.asarray(longitudes, dtype=np.float64)
    if lat.ndim == 1 and lon.ndim == 1:
        return lat[:, np.newaxis], lon[np.newaxis, :]
    return np.broadcast_arrays(lat, lon)  # type: ignore[return-value]


def _hash_uniform(key: str, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Pseudo-random numbers in [0, 1) that depend only on ``key`` and each point's lat/lon."""
    seed = np.uint64(zlib.crc32(key.encode()) | (zlib.adler32(key.encode()) << 32))
    a = np.round(np.asarray(lat) * 1e6).astype(np.int64).astype(np.uint64)
    b = np.round(np.asarray(lon) * 1e6).astype(np.int64).astype(np.uint64)
    a, b = np.broadcast_arrays(a, b)
    x = a * np.uint64(0x9E3779B97F4A7C15) ^ b * np.uint64(0xC2B2AE3D27D4EB4F) ^ seed
    # splitmix64 finalizer; uint64 array arithmetic wraps around silently.
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


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
    init = np.datetime64(_init_time(init_time).replace(tzinfo=None), "h")
    lead = np.timedelta64(_lead_hours(lead_time_hours), "h")
    return gfs_file_path(init, lead, product=product)


def precipitation_bucket_start(lead_time_hours: int) -> int:
    """Start hour of the 6-hour bucket (of APCP, ACPCP, PRATE averages) ending at
    ``lead_time_hours`` (>= 1)."""
    lead = _lead_hours(lead_time_hours)
    if lead < 1:
        raise ValueError("there is no precipitation accumulation at lead 0")
    return PRECIPITATION_BUCKET_HOURS * ((lead - 1) // PRECIPITATION_BUCKET_HOURS)


_IDX_STATISTICS = {"accum": "acc", "avg": "ave"}


def _wgrib2_forecast(start: int, end: int, step_type: str) -> str:
    """The forecast string wgrib2 prints for an instantaneous field or a statistic: in days
    when both the start and the length of the window are whole days, else in hours."""
    if step_type == "instant":
        return "anl" if end == 0 else f"{end} hour fcst"
    statistic = _IDX_STATISTICS[step_type]
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
    lead = _lead_hours(lead_time_hours)
    wanted = {
        _get_variable(v).name for v in (DEFAULT_VARIABLES if variables is None else variables)
    }
    if include_distractors:
        wanted.update(DISTRACTOR_VARIABLES)
    messages: list[SyntheticMessage] = []
    for variable in VARIABLES.values():
        if variable.name not in wanted:
            continue
        if variable.step_type == "instant":
            messages.append(
                SyntheticMessage(variable, lead, lead, _wgrib2_forecast(lead, lead, "instant"))
            )
            continue
        if lead == 0:
            continue
        windows = [(precipitation_bucket_start(lead), lead)]
        if variable.since_start:
            windows.append((0, lead))
        messages.extend(
            SyntheticMessage(variable, start, end, _wgrib2_forecast(start, end, variable.step_type))
            for start, end in windows
        )
    return messages


# --------------------------------------------------------------------------------- values


def expected_field(
    variable: str,
    init_time: datetime | np.datetime64,
    lead_time_hours: int,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """The exact values of an instantaneous synthetic variable, before GRIB packing.

    Parameters
    ----------
    variable
        A key of :data:`VARIABLES` (or its cfgrib shortName) of an instantaneous variable (see
        :func:`expected_precipitation_rate`, :func:`expected_accumulation` and
        :func:`expected_values` for statistics). ``"precipitation_rate"`` at lead ``L`` is
        :func:`expected_precipitation_rate` of the hour ending at ``max(L, 1)``.
    init_time
        Initialisation time (naive UTC, aware, or ``numpy.datetime64``).
    lead_time_hours
        Forecast hour.
    latitudes, longitudes
        Degrees north / east. Two 1-D arrays give the ``(len(latitudes), len(longitudes))``
        grid; arrays of other shapes are broadcast against each other point by point.
    noise_seed
        ``None`` for smooth fields; an int adds pseudo-random noise of amplitude
        ``VARIABLES[variable].noise_scale`` that depends only on (seed, variable, init time,
        lead time, latitude, longitude), so any subset of points gets the same values.

    Returns
    -------
    numpy.ndarray
        Float64 values in the variable's units: K (about 250-310 at 2 m, 240-290 at 850 hPa,
        215-245 at 2 hPa), Pa (about 99 000-104 000), % (about 40-98), m s-1 (about -14..14),
        gpm (5000-5900), kg m-2 s-1 (0 to about 3.5e-4).
    """
    var = _get_variable(variable)
    if var.step_type != "instant":
        raise ValueError(
            f"{var.name} is accumulated or averaged: use expected_precipitation_rate, "
            "expected_accumulation or expected_values"
        )
    init = _init_time(init_time)
    lead = _lead_hours(lead_time_hours)
    if var.name == "precipitation_rate":
        return expected_precipitation_rate(
            init, max(lead, 1), latitudes, longitudes, noise_seed=noise_seed
        )
    lat, lon = _grid_mesh(latitudes, longitudes)
    phi = np.deg2rad(lat)
    lam = np.deg2rad(lon)
    valid_hours = _hours_since_epoch(init) + lead
    init_phase = 2 * np.pi * _hours_since_epoch(init) / (24 * 7)  # a weekly cycle in init time
    # A bounded dependence on the lead time itself (not only on the valid time), so that a
    # mix-up of init and lead times shows up.
    drift = np.sin(2 * np.pi * lead / 50.0)
    local_solar_hour = (valid_hours % 24 + lon / 15.0) % 24
    diurnal = np.cos(2 * np.pi * (local_solar_hour - 15.0) / 24.0)  # warmest at 15 local
    season = np.cos(2 * np.pi * (valid_hours / 24.0 - 196.0) / 365.25)  # ~ +1 in July
    cos_phi = np.cos(phi)
    sin_phi = np.sin(phi)
    wave = 2 * np.pi * valid_hours / 120.0  # synoptic waves drifting east over 5 days

    if var.name == "temperature_2m":
        values = (
            258.0
            + 42.0 * cos_phi**2
            + 6.0 * season * sin_phi
            + 4.0 * diurnal * cos_phi
            + 3.0 * np.sin(2 * lam - wave) * cos_phi
            + 0.8 * drift
            + 0.5 * np.sin(init_phase)
        )
    elif var.name == "relative_humidity_2m":
        values = (
            68.0
            + 15.0 * np.sin(3 * lam - wave) * cos_phi
            - 6.0 * diurnal * cos_phi
            + 4.0 * np.cos(4 * phi)
            + 2.0 * drift
            + np.cos(init_phase)
        )
        values = np.clip(values, 0.0, 100.0)
    elif var.name == "pressure_reduced_to_mean_sea_level":
        values = (
            101325.0
            + 1500.0 * np.sin(2 * phi) * np.cos(3 * lam - wave)
            + 600.0 * cos_phi * np.sin(2 * lam + wave)
            - 400.0 * np.cos(6 * phi)
            + 80.0 * drift
            + 50.0 * np.sin(init_phase)
        )
    elif var.name == "wind_u_10m":
        values = (
            -6.0 * np.cos(3 * phi) * cos_phi
            + 5.0 * np.sin(2 * lam - wave) * cos_phi
            + 1.5 * diurnal
            + 0.5 * drift
            + 0.3 * np.cos(init_phase)
        )
    elif var.name == "wind_v_10m":
        values = (
            4.0 * np.sin(3 * lam - wave) * cos_phi
            + 3.0 * np.sin(2 * phi) * np.cos(lam)
            - 1.0 * diurnal
            - 0.5 * drift
            + 0.3 * np.sin(init_phase)
        )
    elif var.name == "geopotential_height_500hpa":
        values = (
            5100.0
            + 700.0 * cos_phi**2
            + 80.0 * np.sin(4 * lam - wave) * np.sin(2 * phi) ** 2
            + 10.0 * drift
            + 5.0 * np.sin(init_phase)
        )
    elif var.name == "temperature_2hpa":
        values = 230.0 + 12.0 * season * sin_phi + 2.0 * np.cos(lam - wave) * cos_phi + 0.3 * drift
    elif var.name == "temperature_850hpa":
        values = (
            248.0
            + 36.0 * cos_phi**2
            + 5.0 * season * sin_phi
            + 3.0 * np.sin(2 * lam - wave) * cos_phi
            + 0.5 * drift
        )
    else:  # pragma: no cover - every instantaneous variable is handled above
        raise KeyError(var.name)

    values = np.asarray(values, dtype=np.float64)
    values = np.broadcast_to(values, np.broadcast_shapes(lat.shape, lon.shape)).copy()
    if noise_seed is not None:
        key = f"{noise_seed}:{var.name}:{init:%Y%m%d%H}:{lead}"
        values += var.noise_scale * (2.0 * _hash_uniform(key, lat, lon) - 1.0)
        if var.name == "relative_humidity_2m":
            np.clip(values, 0.0, 100.0, out=values)
    return values


def expected_precipitation_rate(
    init_time: datetime | np.datetime64,
    lead_time_hours: int,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """The true precipitation rate during the hour ending at ``lead_time_hours``.

    The synthetic rate is constant within each forecast hour ``(L - 1, L]``, so accumulations
    are exact sums: the accumulation over ``(a, b]`` is ``sum(rate(L) * 3600 for L in a+1..b)``
    (:func:`expected_accumulation`), and deaccumulating consecutive messages (bucket
    differences divided by 3600 s) gives back exactly this rate, up to packing precision.

    Parameters
    ----------
    init_time
        Initialisation time.
    lead_time_hours
        End of the hour, >= 1.
    latitudes, longitudes
        As for :func:`expected_field`.
    noise_seed
        ``None``, or an int to multiply the rate by a seeded pseudo-random factor in [0.5, 1.5).

    Returns
    -------
    numpy.ndarray
        Float64 rate in kg m-2 s-1 (= mm s-1), >= 0: a global mean about 5e-5 (4 mm/day), up to
        about 3.5e-4 (1.3 mm/h), and dry areas (about half the globe) where it is exactly 0.
    """
    init = _init_time(init_time)
    lead = _lead_hours(lead_time_hours)
    if lead < 1:
        raise ValueError("the precipitation rate is defined for the hours ending at leads >= 1")
    lat, lon = _grid_mesh(latitudes, longitudes)
    phi = np.deg2rad(lat)
    lam = np.deg2rad(lon)
    mid_hours = _hours_since_epoch(init) + lead - 0.5
    init_phase = 2 * np.pi * _hours_since_epoch(init) / (24 * 5)
    tropics = np.exp(-((lat / 25.0) ** 2))
    storm_tracks = np.exp(-(((np.abs(lat) - 50.0) / 12.0) ** 2))
    moving = np.sin(3 * lam + 2 * phi - 2 * np.pi * mid_hours / 36.0 + init_phase)
    shape = 1.6 * tropics * (0.6 + 0.4 * moving) + 1.2 * storm_tracks * moving - 0.2
    rate = 2.5e-4 * np.clip(shape, 0.0, None) * np.cos(phi) ** 0.5
    rate = np.broadcast_to(rate, np.broadcast_shapes(lat.shape, lon.shape)).astype(np.float64)
    if noise_seed is not None:
        key = f"{noise_seed}:{PRECIPITATION}:{init:%Y%m%d%H}:{lead}"
        scale = VARIABLES[PRECIPITATION].noise_scale
        rate = rate * (1.0 - scale + 2.0 * scale * _hash_uniform(key, lat, lon))
    return np.where(rate > 0.0, rate, 0.0)


def expected_accumulation(
    init_time: datetime | np.datetime64,
    start_hour: int,
    end_hour: int,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """Exact precipitation accumulated over forecast hours ``(start_hour, end_hour]``, kg m-2.

    This is what the APCP message ``"{start_hour}-{end_hour} hour acc fcst"`` holds before GRIB
    packing: the sum of :func:`expected_precipitation_rate` times 3600 s over the hours.
    """
    start = _lead_hours(start_hour)
    end = _lead_hours(end_hour)
    if end <= start:
        raise ValueError(f"empty accumulation window {start}-{end}")
    total: np.ndarray | None = None
    for lead in range(start + 1, end + 1):
        rate = expected_precipitation_rate(
            init_time, lead, latitudes, longitudes, noise_seed=noise_seed
        )
        total = rate * SECONDS_PER_HOUR if total is None else total + rate * SECONDS_PER_HOUR
    assert total is not None
    return total


def expected_values(
    message: SyntheticMessage,
    init_time: datetime | np.datetime64,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """The exact values of one planned message (:func:`messages_for_lead`), before packing.

    Instantaneous variables: :func:`expected_field`. ``APCP``: :func:`expected_accumulation`
    over the message's window, so the total since the start is the sum of the buckets since
    the start; ``ACPCP``: :data:`CONVECTIVE_FRACTION` of it. ``PRATE`` averages: the
    accumulation over the window divided by its length in seconds.
    """
    var = message.variable
    if var.step_type == "instant":
        return expected_field(
            var.name, init_time, message.end_step, latitudes, longitudes, noise_seed=noise_seed
        )
    total = expected_accumulation(
        init_time,
        message.start_step,
        message.end_step,
        latitudes,
        longitudes,
        noise_seed=noise_seed,
    )
    if var.step_type == "avg":
        return total / ((message.end_step - message.start_step) * SECONDS_PER_HOUR)
    if var.name == "convective_precipitation":
        return CONVECTIVE_FRACTION * total
    return total


def packing_tolerance(values: np.ndarray, bits_per_value: int = 16) -> float:
    """An upper bound of the GRIB simple-packing error for a field with these values.

    Simple packing stores ``(value - min) * 2**-E`` in ``bits_per_value`` bits, with the binary
    scale factor ``E`` chosen so that the range fits, so the error is at most one quantisation
    step ``range / (2**bits_per_value - 1)``, and at most twice that as ``E`` is a power of two.
    """
    span = float(np.max(values) - np.min(values))
    return 2.0 * span / (2**bits_per_value - 1) + 1e-12 * max(1.0, float(np.max(np.abs(values))))


# --------------------------------------------------------------------------------- writing


def _grid_template(
    resolution_degrees: float, packing_type: str, bits_per_value: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """A GRIB2 handle with everything but the per-message keys and values set."""
    latitudes, longitudes = gfs_grid(resolution_degrees)
    handle = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        keys: list[tuple[str, Any]] = [
            ("centre", 7),  # kwbc, NCEP
            ("subCentre", 0),
            ("tablesVersion", 2),
            ("localTablesVersion", 1),
            ("significanceOfReferenceTime", 1),  # start of forecast
            ("productionStatusOfProcessedData", 0),  # operational
            ("typeOfProcessedData", 1),  # forecast
            ("shapeOfTheEarth", 6),  # sphere of radius 6 371 229 m, as GFS
            ("Ni", len(longitudes)),
            ("Nj", len(latitudes)),
            ("iScansNegatively", 0),
            ("jScansPositively", 0),
            ("jPointsAreConsecutive", 0),
            ("latitudeOfFirstGridPointInDegrees", float(latitudes[0])),
            ("longitudeOfFirstGridPointInDegrees", float(longitudes[0])),
            ("latitudeOfLastGridPointInDegrees", float(latitudes[-1])),
            ("longitudeOfLastGridPointInDegrees", float(longitudes[-1])),
            ("iDirectionIncrementInDegrees", float(resolution_degrees)),
            ("jDirectionIncrementInDegrees", float(resolution_degrees)),
            ("packingType", packing_type),
            ("bitsPerValue", bits_per_value),
        ]
        for key, value in keys:
            eccodes.codes_set(handle, key, value)
    except BaseException:
        eccodes.codes_release(handle)
        raise
    return handle, latitudes, longitudes


def _encode_message(
    template: int,
    message: SyntheticMessage,
    init: datetime,
    values: np.ndarray,
) -> bytes:
    var = message.variable
    handle = eccodes.codes_clone(template)
    try:
        statistic = var.step_type != "instant"
        eccodes.codes_set(handle, "productDefinitionTemplateNumber", 8 if statistic else 0)
        eccodes.codes_set(handle, "discipline", var.discipline)
        eccodes.codes_set(handle, "parameterCategory", var.parameter_category)
        eccodes.codes_set(handle, "parameterNumber", var.parameter_number)
        eccodes.codes_set(handle, "typeOfGeneratingProcess", 2)  # forecast
        eccodes.codes_set(handle, "generatingProcessIdentifier", 96)  # GFS
        eccodes.codes_set(handle, "typeOfFirstFixedSurface", var.type_of_first_fixed_surface)
        eccodes.codes_set(handle, "scaleFactorOfFirstFixedSurface", 0)
        eccodes.codes_set(
            handle, "scaledValueOfFirstFixedSurface", var.scaled_value_of_first_fixed_surface
        )
        eccodes.codes_set(handle, "typeOfSecondFixedSurface", 255)
        eccodes.codes_set(handle, "dataDate", int(f"{init:%Y%m%d}"))
        eccodes.codes_set(handle, "dataTime", init.hour * 100)
        eccodes.codes_set(handle, "indicatorOfUnitOfTimeRange", 1)  # hours
        if statistic:
            # Code table 4.10: 0 average, 1 accumulation.
            processing = 1 if var.step_type == "accum" else 0
            eccodes.codes_set(handle, "typeOfStatisticalProcessing", processing)
            eccodes.codes_set(handle, "typeOfTimeIncrement", 2)
            # Setting stepRange (after dataDate/dataTime) sets forecastTime, lengthOfTimeRange
            # AND the end-of-overall-time-interval keys; setting forecastTime and
            # lengthOfTimeRange directly leaves the end time stale.
            eccodes.codes_set(handle, "stepRange", message.step_range)
        else:
            eccodes.codes_set(handle, "forecastTime", message.end_step)
        eccodes.codes_set_values(handle, np.ascontiguousarray(values, dtype=np.float64).ravel())
        return eccodes.codes_get_message(handle)
    finally:
        eccodes.codes_release(handle)


def write_synthetic_gfs_archive(
    root: str | Path,
    init_times: Iterable[datetime | np.datetime64],
    lead_times_hours: Iterable[int],
    resolution_degrees: float = 2.5,
    variables: Iterable[str] | None = None,
    *,
    packing_type: str = "grid_simple",
    bits_per_value: int = 16,
    noise_seed: int | None = None,
    include_distractors: bool = True,
    product: str = "pgrb2.0p25",
) -> list[Path]:
    """Write a synthetic GFS archive of real GRIB2 files with NOAA ``.idx`` inventories.

    For each init time and lead time, writes ``root/gfs_relative_path(init, lead)`` holding the
    messages of :func:`messages_for_lead` (GFS order, unrelated messages interleaved) and
    ``{file}.idx`` with one wgrib2 line per message, e.g.
    ``"4:21374:d=2024010100:TMP:2 m above ground:6 hour fcst:"``, whose offsets are the exact
    message offsets (the last message ends at the end of the file). Existing files are replaced.

    Parameters
    ----------
    root
        Archive root directory (created if needed).
    init_times
        Initialisation times, whole hours (``datetime`` naive UTC or aware, or ``datetime64``).
    lead_times_hours
        Forecast hours, e.g. ``range(7)``.
    resolution_degrees
        Grid spacing for :func:`gfs_grid` (real GFS: 0.25; tests: 2.5 or 5).
    variables
        Keys of :data:`VARIABLES` (or cfgrib shortNames); ``None`` for
        :data:`DEFAULT_VARIABLES`.
    packing_type
        eccodes ``packingType``: ``"grid_simple"`` (default), or e.g.
        ``"grid_complex_spatial_differencing"`` like real GFS, or ``"grid_ccsds"``.
    bits_per_value
        Packing precision, e.g. 16 or 24.
    noise_seed
        Passed to :func:`expected_field` / :func:`expected_precipitation_rate`.
    include_distractors
        Write the unrelated :data:`DISTRACTOR_VARIABLES` messages too (default, as in GFS).
    product
        File name product part; the real 0.25° archive's ``"pgrb2.0p25"`` by default, whatever
        the resolution.

    Returns
    -------
    list of pathlib.Path
        The GRIB2 files written, by init time then lead time (each with its ``.idx`` beside it).
    """
    root_path = Path(root)
    inits = [_init_time(t) for t in init_times]
    leads = [_lead_hours(lead) for lead in lead_times_hours]
    if not 1 <= bits_per_value <= 32:
        raise ValueError(f"bits_per_value must be in 1..32, got {bits_per_value}")
    plans = {
        lead: messages_for_lead(lead, variables, include_distractors=include_distractors)
        for lead in leads
    }
    template, latitudes, longitudes = _grid_template(
        resolution_degrees, packing_type, bits_per_value
    )
    written: list[Path] = []
    try:
        for init in inits:
            for lead in leads:
                chunks: list[bytes] = []
                lines: list[str] = []
                offset = 0
                for number, message in enumerate(plans[lead], start=1):
                    values = expected_values(
                        message, init, latitudes, longitudes, noise_seed=noise_seed
                    )
                    data = _encode_message(template, message, init, values)
                    chunks.append(data)
                    lines.append(f"{number}:{offset}:d={init:%Y%m%d%H}:{message.idx_line}")
                    offset += len(data)
                path = root_path / gfs_relative_path(init, lead, product=product)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, b"".join(chunks))
                write_atomic(path.with_name(path.name + ".idx"), ("\n".join(lines) + "\n").encode())
                written.append(path)
    finally:
        eccodes.codes_release(template)
    return written
