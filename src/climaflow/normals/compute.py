"""Rolling daily climate normals of any daily xarray object, from per-year sums and counts.

The algorithm, in two steps:

1. :func:`dayofyear_sums`: one flox reduction groups the time axis by (year, day of year on a
   365-day axis, 29 February dropped) and gives each year's per-day **sums** and **counts**
   of valid values. A year is read once, whatever the number of target years.
2. :func:`normals_from_sums`: each window's float64 sum over its years, divided by its count
   of valid values (NaN only where every year of the window is NaN).

:func:`daily_normals` chains both, lazily for dask-backed inputs.
:class:`~climaflow.normals.window.WindowAccumulator` is the same window arithmetic on in-memory
per-year arrays, for the batch tasks of :mod:`climaflow.normals.pipeline`.
"""

import inspect
import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import xarray as xr
from flox.xarray import xarray_reduce

from climaflow.normals.calendar import DAYS_OF_YEAR, check_calendar, years_and_days
from climaflow.normals.periods import format_years, window_years

T_Xarray = TypeVar("T_Xarray", xr.DataArray, xr.Dataset)

NORMALS_CELL_METHOD = "time: mean over years"


class MissingYearsWarning(UserWarning):
    """Some years of a window are missing or unreadable; the normal uses the others."""


class TooFewYearsWarning(UserWarning):
    """A target year has fewer than ``min_years`` available years: it gets no normal."""


@dataclass(frozen=True)
class YearlySums(Generic[T_Xarray]):
    """Per-year, per-day-of-year sums and counts of valid values.

    ``sums`` and ``counts`` have dims ``("year", "dayofyear", *other_dims)``; the year axis
    runs without gaps from the first to the last year of the input, ``dayofyear`` is 1..365.
    ``sums`` is NaN where a (year, day) has no valid value. ``years`` lists the years with at
    least one time step in the input; ``values_per_day`` is the most time steps any (year,
    day) has: 1 for daily data, whose sums are then the values themselves, in the input's
    float dtype (exactly), and whose counts follow from the sums (``valid_counts`` is then
    ``None``); otherwise sums are float64 and ``valid_counts`` come from a flox count.
    """

    sums: T_Xarray
    years: tuple[int, ...]
    values_per_day: int
    valid_counts: T_Xarray | None = None

    @property
    def counts(self) -> T_Xarray:
        """Number of valid values per (year, day); for daily data, where ``sums`` is not NaN."""
        if self.valid_counts is not None:
            return self.valid_counts
        return self.sums.notnull().astype(np.int32)


def dayofyear_sums(
    obj: T_Xarray, *, time_dim: Hashable = "time", engine: str = "numbagg"
) -> YearlySums[T_Xarray]:
    """Each year's sums and counts of valid values per day of year (29 February dropped).

    One flox reduction grouped by (year, day of year) with every year and day expected, so
    all years share the same 365-day axis.

    Parameters
    ----------
    obj
        Daily (or finer) data with a ``time_dim`` coordinate of datetimes (numpy or cftime)
        and any other dimensions. For a Dataset, the data variables along ``time_dim`` are
        reduced and the others dropped. Lazy (dask-backed) inputs are rechunked to one chunk
        per year along time (when time is sorted) and give lazy results, one chunk per year.
    engine
        flox engine; ``"numbagg"`` is the fastest for these reductions.

    Raises
    ------
    UnsupportedCalendarError
        For a calendar without a day-for-day mapping onto 365 days (360_day).
    """
    time = obj[time_dim]
    check_calendar(_calendar_of(time), f"time coordinate {time_dim!r}")
    if isinstance(obj, xr.Dataset):
        obj = obj[[name for name, var in obj.data_vars.items() if time_dim in var.dims]]
    years, dayofyear = years_and_days(time)
    if years.size == 0:
        raise ValueError(f"{time_dim!r} is empty: no data to compute normals from")
    kept = dayofyear > 0
    if not kept.all():
        obj = obj.isel({time_dim: kept})
        years, dayofyear = years[kept], dayofyear[kept]
    values_per_day = int(np.unique(years * 1000 + dayofyear, return_counts=True)[1].max())
    if obj.chunksizes and np.all(np.diff(years) >= 0):
        # One chunk per year: files chunked by day (as NEX-GDDP's) would give a task per day.
        obj = obj.chunk({time_dim: tuple(np.unique(years, return_counts=True)[1])})
    dtypes = obj.dtypes.values() if isinstance(obj, xr.Dataset) else [obj.dtype]
    if values_per_day > 1 or not all(np.issubdtype(dtype, np.floating) for dtype in dtypes):
        obj = obj.astype(np.float64)  # sums of several values accumulate in float64
    by = (
        xr.DataArray(years, dims=time_dim, name="year"),
        xr.DataArray(dayofyear, dims=time_dim, name="dayofyear"),
    )
    groups = (np.arange(years.min(), years.max() + 1), DAYS_OF_YEAR)
    sums = xarray_reduce(
        obj, *by, func="nansum", expected_groups=groups, min_count=1, engine=engine
    ).transpose("year", "dayofyear", ...)
    counts = None
    if values_per_day > 1:
        counts = xarray_reduce(
            obj, *by, func="count", expected_groups=groups, fill_value=0, engine=engine
        ).transpose("year", "dayofyear", ...)
    return YearlySums(
        sums=sums,
        years=tuple(int(year) for year in np.unique(years)),
        values_per_day=values_per_day,
        valid_counts=None if counts is None else counts.astype(np.int32),
    )


def normals_from_sums(
    yearly: YearlySums[T_Xarray],
    target_years: Iterable[int],
    *,
    window: int = 30,
    min_years: int = 25,
    dtype: np.typing.DTypeLike = np.float32,
) -> T_Xarray:
    """Daily normals of ``target_years`` from per-year sums and counts.

    The normal of target year T on day d is the mean over the window years T-window+1..T of
    the values on day d: total sum / total count, NaN only where no window year has a valid
    value. Each window is summed over its own years, without subtraction, so an outlier (say an
    undeclared fill value) only affects the windows that contain it.

    Parameters
    ----------
    yearly
        The output of :func:`dayofyear_sums`.
    target_years
        Target years T; each needs at least ``min_years`` years of its window in
        ``yearly.years``. Targets short of that are left out with a
        :class:`TooFewYearsWarning`; windows with missing years give a
        :class:`MissingYearsWarning` naming them.
    window, min_years
        Window length in years and minimum number of available years.
    dtype
        dtype of the normals.

    Returns
    -------
    The normals, dims ``("target_year", "dayofyear", *other_dims)``, with coordinates
    ``n_years`` and ``source_years`` (e.g. ``"1981-1989,1991-2010"``) along ``target_year``.
    Lazy when ``yearly`` is.

    Raises
    ------
    ValueError
        If no target year has ``min_years`` available years, or for invalid parameters.
    """
    validate_window(window, min_years)
    target_years = sorted(set(target_years))
    available = set(yearly.years)
    used: dict[int, list[int]] = {}
    for target in target_years:
        years = [year for year in window_years(target, window) if year in available]
        if len(years) >= min_years:
            used[target] = years
    _warn_about_windows(target_years, used, available, window, min_years)
    if not used:
        raise ValueError(
            f"no target year has {min_years} of its {window} window years in the data "
            f"(years present: {format_years(available)})"
        )

    targets = np.array(sorted(used))

    def window_totals(per_year: T_Xarray) -> T_Xarray:
        totals = [per_year.sel(year=used[target]).sum("year") for target in targets]
        return xr.concat(totals, dim="target_year")

    sums = window_totals(yearly.sums.fillna(0).astype(np.float64))
    counts = window_totals(yearly.counts)
    normals = (sums / counts.where(counts > 0)).astype(dtype)
    normals = normals.assign_coords(
        target_year=targets,
        n_years=("target_year", [len(used[target]) for target in targets]),
        source_years=("target_year", [format_years(used[target]) for target in targets]),
    )
    return _with_normals_attrs(normals, yearly.sums, window, min_years)


def daily_normals(
    obj: T_Xarray,
    target_years: Iterable[int],
    *,
    window: int = 30,
    min_years: int = 25,
    time_dim: Hashable = "time",
    dtype: np.typing.DTypeLike = np.float32,
    engine: str = "numbagg",
) -> T_Xarray:
    """Rolling daily climate normals of a daily DataArray or Dataset, lazily.

    For each target year T, the mean over the years T-window+1..T of each day of year
    (1..365, 29 February dropped), per element of every other dimension (lat/lon grids,
    station ``location``, pressure levels...). Each input year is reduced once, whatever the
    number of target years: see :func:`dayofyear_sums` and :func:`normals_from_sums`.

    Examples
    --------
    >>> ds = xr.open_mfdataset("tas_day_*_19[5-9]*.nc", chunks={"time": 365})  # doctest: +SKIP
    >>> normals = daily_normals(ds.tas, range(1980, 2001))  # doctest: +SKIP
    >>> normals.sel(target_year=1990).compute()  # doctest: +SKIP
    """
    yearly = dayofyear_sums(obj, time_dim=time_dim, engine=engine)
    return normals_from_sums(yearly, target_years, window=window, min_years=min_years, dtype=dtype)


def validate_window(window: int, min_years: int) -> None:
    """Raise ``ValueError`` unless ``1 <= min_years <= window``."""
    if window < 1:
        raise ValueError(f"window must be at least 1 year, got {window}")
    if not 1 <= min_years <= window:
        raise ValueError(f"min_years must be between 1 and the window ({window}), got {min_years}")


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """Warn, pointing at the first caller outside :mod:`climaflow.normals`."""
    package = str(Path(__file__).parent)
    frame, level = inspect.currentframe(), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _calendar_of(time: xr.DataArray) -> str:
    if time.size == 0 or np.issubdtype(time.dtype, np.datetime64):
        return "proleptic_gregorian"
    return time.dt.calendar


def _warn_about_windows(
    target_years: list[int],
    used: Mapping[int, list[int]],
    available: set[int],
    window: int,
    min_years: int,
) -> None:
    short, gappy = [], []
    for target in target_years:
        missing = [year for year in window_years(target, window) if year not in available]
        if target not in used:
            short.append(f"{target} ({window - len(missing)} years)")
        elif missing:
            gappy.append(f"{target} (without {format_years(missing)})")
    if gappy:
        warn_at_caller(
            f"windows with missing years use the others: {'; '.join(gappy)}", MissingYearsWarning
        )
    if short:
        warn_at_caller(
            f"no normal for target years with fewer than {min_years} of {window} window years: "
            + ", ".join(short),
            TooFewYearsWarning,
        )


def _with_normals_attrs(
    normals: T_Xarray, source: T_Xarray, window: int, min_years: int
) -> T_Xarray:
    def cell_methods(attrs: Mapping[str, object]) -> str:
        return f"{attrs.get('cell_methods', '')} {NORMALS_CELL_METHOD}".strip()

    if isinstance(normals, xr.Dataset):
        for name, variable in normals.data_vars.items():
            variable.attrs = {
                **source[name].attrs,
                "cell_methods": cell_methods(source[name].attrs),
            }
    else:
        normals.attrs = {**source.attrs, "cell_methods": cell_methods(source.attrs)}
    normals.attrs.update(window=window, min_years=min_years)
    normals["dayofyear"].attrs = {
        "long_name": "day of year on a 365-day calendar (29 February dropped)",
        "units": "1",
    }
    return normals
