"""The values the synthetic NEX-GDDP-CMIP6 archive holds, as functions tests can compare against."""

from collections.abc import Collection
from typing import Any

import cftime
import numpy as np
import numpy.typing as npt

from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile
from climaflow.datasets.nex_gddp_cmip6.template import VARIABLE_ATTRS

__all__ = [
    "REVISION",
    "TIME_UNITS",
    "UNDECLARED_FILL",
    "daily_dates",
    "daily_time_values",
    "expected_value",
    "file_values",
    "undeclared_fill_cells",
]

TIME_UNITS = "days since 1950-01-01 00:00:00"
#: What files with undeclared fills hold in their fill cells (CMIP's 1e20, no attribute says so).
UNDECLARED_FILL = np.float32(1.0e20)
REVISION = "v1.1"


# Warming in K per year after the scenario's first year (historical: since 1950).
_WARMING_RATE = {
    "historical": 0.01,
    "ssp126": 0.01,
    "ssp245": 0.025,
    "ssp370": 0.04,
    "ssp585": 0.05,
}
_NOISE_STD = {"tas": 2.0, "tasmax": 2.5, "tasmin": 2.5, "pr": 0.5}  # K; relative for pr
_DAYS_BEFORE_MONTH = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])


def daily_time_values(year: int, calendar: str) -> np.ndarray:
    """Noon of every day of ``year`` in ``calendar``, as float64 :data:`TIME_UNITS`."""
    start, end = cftime.date2num(
        [
            cftime.datetime(year, 1, 1, calendar=calendar),
            cftime.datetime(year + 1, 1, 1, calendar=calendar),
        ],
        TIME_UNITS,
        calendar,
    )
    return np.arange(float(start), float(end), dtype=np.float64) + 0.5


def daily_dates(year: int, calendar: str = "noleap") -> np.ndarray:
    """Noon of every day of ``year`` in ``calendar``, as an array of ``cftime`` datetimes."""
    dates: np.ndarray = cftime.num2date(
        daily_time_values(year, calendar), TIME_UNITS, calendar, only_use_cftime_datetimes=True
    )
    return dates


def expected_value(
    variable: str,
    scenario: str,
    dates: Collection[Any],
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    version: str | None = None,
) -> npt.NDArray[np.float32]:
    """The noise-free values the synthetic archive holds, shape ``(len(dates), lat, lon)``, float32.

    A function of the calendar date (year, month, day: so 1 March has the same seasonal value
    in leap and non-leap years), latitude, longitude, variable and scenario (each scenario
    warms at its own rate). Files written as revision ``v1.1`` hold these values shifted by
    +0.5 K (temperatures) or scaled by 1.05 (precipitation).
    """
    if variable not in VARIABLE_ATTRS:
        raise ValueError(f"unknown variable {variable!r}; expected one of {sorted(VARIABLE_ATTRS)}")
    year = np.array([d.year for d in dates], dtype=np.float64)[:, None, None]
    month = np.array([d.month for d in dates])
    day = np.array([d.day for d in dates], dtype=np.float64)
    position = (_DAYS_BEFORE_MONTH[month - 1] + day - 0.5 * _is_29_february(month, day))[
        :, None, None
    ]
    season = np.cos(2 * np.pi * (position - 200) / 365)
    lat_rad = np.deg2rad(np.asarray(lat, dtype=np.float64))[None, :, None]
    lon_rad = np.deg2rad(np.asarray(lon, dtype=np.float64))[None, None, :]
    warming = _warming(scenario, year)
    if variable == "pr":
        values = 3e-5 * (1 + 0.5 * season * np.cos(lon_rad)) * (1 + 0.02 * warming)
        values = values * (1 + 0.1 * np.cos(lat_rad))
        if version == REVISION:
            values = values * 1.05
    else:
        offset = {"tas": 0.0, "tasmax": 6.0, "tasmin": -6.0}[variable]
        values = (
            258.0
            + 30.0 * np.cos(lat_rad)
            + 12.0 * season * np.sin(lat_rad)
            + 2.0 * np.sin(lon_rad)
            + warming
            + offset
        )
        if version == REVISION:
            values = values + 0.5
    return np.broadcast_to(values, (len(dates), lat_rad.size, lon_rad.size)).astype(np.float32)


def file_values(
    file: NexGddpFile,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    calendar: str,
    seed: int | None,
    undeclared_fills: bool,
    n_days: int | None,
) -> npt.NDArray[np.float32]:
    """The data of one yearly file, shape ``(days, lat, lon)``, float32.

    :func:`expected_value` for the file's variable, scenario, year and version on the first
    ``n_days`` days of the year (``None``: all of them); with ``seed``, plus reproducible random
    noise that depends on the seed, variable, scenario and year (precipitation stays
    non-negative); with ``undeclared_fills``, :data:`UNDECLARED_FILL` on every day in the cells
    of :func:`undeclared_fill_cells`.
    """
    dates = daily_dates(file.year, calendar)[:n_days]
    values = expected_value(file.variable, file.scenario, dates, lat, lon, version=file.version)
    if seed is not None:
        values = _add_noise(values, file, seed)
    if undeclared_fills:
        values = np.where(undeclared_fill_cells(lat.size, lon.size), UNDECLARED_FILL, values)
    return values


def undeclared_fill_cells(n_lat: int, n_lon: int) -> npt.NDArray[np.bool_]:
    """The ``(lat, lon)`` cells where files with undeclared fills hold them: about one in 7."""
    lat_index, lon_index = np.meshgrid(np.arange(n_lat), np.arange(n_lon), indexing="ij")
    cells: npt.NDArray[np.bool_] = (lat_index + 2 * lon_index) % 7 == 0
    return cells


def _is_29_february(month: np.ndarray, day: np.ndarray) -> npt.NDArray[np.bool_]:
    is_29_february: npt.NDArray[np.bool_] = (month == 2) & (day == 29)
    return is_29_february


def _warming(scenario: str, year: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if scenario == "historical":
        return _WARMING_RATE["historical"] * (year - 1950)
    rate = _WARMING_RATE.get(scenario, 0.03)
    return _WARMING_RATE["historical"] * 65 + rate * (year - 2015)


def _add_noise(
    values: npt.NDArray[np.float32], file: NexGddpFile, seed: int
) -> npt.NDArray[np.float32]:
    entropy = [seed, file.year, *file.variable.encode(), *file.scenario.encode()]
    rng = np.random.default_rng(entropy)
    scale = np.float32(_NOISE_STD[file.variable])
    noise: npt.NDArray[np.float32] = rng.standard_normal(values.shape, dtype=np.float32) * scale
    if file.variable == "pr":
        return values * np.exp(noise)
    return values + noise
