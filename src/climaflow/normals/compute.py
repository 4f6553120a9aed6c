"""Rolling daily climate normals of any daily xarray object, from per-year sums and counts.

The algorithm, in two steps:

1. :func:`~climaflow.normals.yearly.dayofyear_sums`: one flox reduction groups the time axis
   by (year, day of year: 1..365 with 29 February dropped, or 1..360 for the 360_day
   calendar) and gives each year's per-day **sums** and **counts** of valid values. A year is
   read once, whatever the number of target years. Undeclared fill values (non-finite, or ``|x| >= 1e20``) are masked like
   declared ones; years that lack some of their calendar's days are left out (with a warning)
   unless ``allow_incomplete_years``.
2. :func:`normals_from_sums`: each window's mean with :func:`~climaflow.normals.window.window_mean`,
   the one window arithmetic of climaflow (the pipeline uses it too): float64 sums of its own
   years, integer counts, NaN where a cell-day has fewer than ``min_years`` valid years.

:func:`daily_normals` chains both, lazily for dask-backed inputs.
"""

import inspect
import warnings
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from climaflow.fills import UNDECLARED_FILL_THRESHOLD
from climaflow.normals.calendar import days_of_year
from climaflow.normals.periods import format_years, window_years
from climaflow.normals.window import window_mean_along_last_axis
from climaflow.normals.yearly import T_Xarray, YearlySums, dayofyear_sums

#: CF conventions 7.4: a mean over years of the days' (daily) values.
NORMALS_CELL_METHODS = "time: mean within years time: mean over years"


class MissingYearsWarning(UserWarning):
    """Some years of a window are missing or unreadable; the normal uses the others."""


class TooFewYearsWarning(UserWarning):
    """A target year has fewer than ``min_years`` available years: it gets no normal."""


class IncompleteYearWarning(UserWarning):
    """A year lacks some of its calendar's days: it is left out of every window."""


class UndeclaredFillWarning(UserWarning):
    """The input holds fill values (``|x| >= 1e20`` or non-finite) that no attribute declares."""


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
    the valid values on day d (see :func:`~climaflow.normals.window.window_mean`): NaN where
    fewer than ``min_years`` window years have a valid value. Each window is summed over its
    own years, without subtraction, so an outlier only affects the windows that contain it.

    Parameters
    ----------
    yearly
        The output of :func:`dayofyear_sums`.
    target_years
        Target years T; each needs at least ``min_years`` years of its window in
        ``yearly.years``. Targets short of that are left out with a
        :class:`TooFewYearsWarning`; windows with missing years give one
        :class:`MissingYearsWarning` naming the missing years.
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
    normals = xr.concat(
        [_window_normal(yearly, used[target], min_years, dtype) for target in targets],
        dim="target_year",
    ).transpose("target_year", "dayofyear", ...)
    normals = normals.assign_coords(
        target_year=targets,
        n_years=("target_year", [len(used[target]) for target in targets]),
        source_years=("target_year", [format_years(used[target]) for target in targets]),
    )
    return _with_normals_attrs(normals, yearly, window, min_years)


def daily_normals(
    obj: T_Xarray,
    target_years: Iterable[int],
    *,
    window: int = 30,
    min_years: int = 25,
    time_dim: Hashable = "time",
    dtype: np.typing.DTypeLike = np.float32,
    engine: str = "numbagg",
    allow_incomplete_years: bool = False,
) -> T_Xarray:
    """Rolling daily climate normals of a daily DataArray or Dataset, lazily.

    For each target year T, the mean over the years T-window+1..T of each day of year
    (1..365 with 29 February dropped; 1..360 for 360_day data), per element of every other
    dimension (lat/lon grids, station ``location``, pressure levels...), NaN where fewer than
    ``min_years`` years have a valid value. Each input year is reduced once, whatever the
    number of target years: see :func:`dayofyear_sums` and :func:`normals_from_sums`.
    Undeclared fill values are masked (for in-memory inputs an :class:`UndeclaredFillWarning`
    says how many; for lazy ones counting them would read the data a second time, so they
    are masked without a count) and incomplete years left out (:class:`IncompleteYearWarning`)
    unless allowed. Sub-daily data: a day's value is the mean of its valid time steps over
    all window years, and a year counts toward ``min_years`` on a day where it has at least
    one valid step; a year with missing time steps is incomplete only when whole days are
    missing.

    Examples
    --------
    >>> ds = xr.open_mfdataset("tas_day_*_19[5-9]*.nc", chunks={"time": 365})  # doctest: +SKIP
    >>> normals = daily_normals(ds.tas, range(1980, 2001))  # doctest: +SKIP
    >>> normals.sel(target_year=1990).compute()  # doctest: +SKIP
    """
    yearly = dayofyear_sums(
        obj, time_dim=time_dim, engine=engine, allow_incomplete_years=allow_incomplete_years
    )
    if yearly.incomplete_years:
        what = "kept" if allow_incomplete_years else "left out of every window"
        warn_at_caller(
            f"years lacking some of their days are {what}: {format_years(yearly.incomplete_years)}",
            IncompleteYearWarning,
        )
    if yearly.masked_fills:
        warn_at_caller(
            f"{yearly.masked_fills} values are non-finite or |x| >= {UNDECLARED_FILL_THRESHOLD:g} "
            "without a declared fill value; they are treated as missing",
            UndeclaredFillWarning,
        )
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


def _window_normal(
    yearly: YearlySums[T_Xarray], years: list[int], min_years: int, dtype: np.typing.DTypeLike
) -> T_Xarray:
    """One target's normal through the shared window arithmetic (years in ascending order)."""
    arguments = [yearly.sums.sel(year=years)]
    if yearly.valid_counts is not None:
        arguments.append(yearly.valid_counts.sel(year=years))
    if arguments[0].chunks:
        arguments = [argument.chunk({"year": -1}) for argument in arguments]
    normal: T_Xarray = xr.apply_ufunc(
        window_mean_along_last_axis,
        *arguments,
        input_core_dims=[["year"]] * len(arguments),
        kwargs={"min_years": min_years, "dtype": dtype},
        dask="parallelized",
        output_dtypes=[dtype],
        keep_attrs=True,
    )
    return normal


def _warn_about_windows(
    target_years: list[int],
    used: Mapping[int, list[int]],
    available: set[int],
    window: int,
    min_years: int,
) -> None:
    short = [target for target in target_years if target not in used]
    missing = {
        year for target in used for year in window_years(target, window) if year not in available
    }
    if missing:
        gappy = [t for t in used if any(y not in available for y in window_years(t, window))]
        warn_at_caller(
            f"years missing from windows: {format_years(missing, ', ')} "
            f"(target years {format_years(gappy, ', ')} use the others)",
            MissingYearsWarning,
        )
    if short:
        warn_at_caller(
            f"no normal for target years {format_years(short, ', ')}: fewer than {min_years} "
            f"of their {window} window years are present",
            TooFewYearsWarning,
        )


def _with_normals_attrs(
    normals: T_Xarray, yearly: YearlySums[T_Xarray], window: int, min_years: int
) -> T_Xarray:
    source = yearly.sums
    if isinstance(normals, xr.Dataset):
        for name, variable in normals.data_vars.items():
            variable.attrs = {**source[name].attrs, "cell_methods": NORMALS_CELL_METHODS}
    else:
        normals.attrs = {**source.attrs, "cell_methods": NORMALS_CELL_METHODS}
    normals.attrs.update(window=window, min_years=min_years)
    normals["dayofyear"].attrs = dayofyear_attrs(yearly.calendar)
    return normals


def dayofyear_attrs(calendar: str) -> dict[str, str]:
    """CF attributes of the ``dayofyear`` coordinate of normals in ``calendar``."""
    if days_of_year(calendar).size == 360:
        return {"long_name": "day of year on the 360_day calendar (30-day months)", "units": "1"}
    return {"long_name": "day of year on a 365-day calendar (29 February dropped)", "units": "1"}
