"""Each year's per-day-of-year sums and counts of valid values: the one reduction of an input.

:func:`dayofyear_sums` groups the time axis by (year, day of year: 1..365 with 29 February
dropped, or 1..360 for the 360_day calendar) in one flox reduction, or, for in-memory daily
data, copies each value to its place. A year is read once, whatever the number of target
years. Undeclared fill values (non-finite, or ``|x| >= 1e20``)
are masked like declared ones (:func:`mask_fills`); years that lack some of their calendar's
days are left out unless ``allow_incomplete_years``.
"""

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import xarray as xr
from flox.xarray import xarray_reduce

from climaflow.fills import mask_undeclared_fills, undeclared_fill_mask
from climaflow.normals.calendar import (
    calendar_of,
    check_calendar,
    days_of_year,
    days_per_year,
    incomplete_years,
    years_and_days,
)
from climaflow.normals.periods import format_years

T_Xarray = TypeVar("T_Xarray", xr.DataArray, xr.Dataset)


@dataclass(frozen=True)
class YearlySums(Generic[T_Xarray]):
    """Per-year, per-day-of-year sums and counts of valid values.

    ``sums`` and ``counts`` have dims ``("year", "dayofyear", *other_dims)``; the year axis
    runs without gaps from the first to the last year of the input, ``dayofyear`` is 1..365
    (1..360 for ``calendar`` 360_day). ``sums`` is NaN where a (year, day) has no valid value.
    ``years`` lists the years used: those with time steps in the input, less
    ``incomplete_years`` unless they were allowed. ``values_per_day`` is the most time steps
    any (year, day) has: 1 for daily data, whose sums are then the values themselves, in the
    input's float dtype (exactly), and whose counts follow from the sums (``valid_counts`` is
    then ``None``); otherwise sums are float64 and ``valid_counts`` come from a flox count.
    ``masked_fills`` counts the undeclared fill values masked (``None`` for lazy inputs).
    """

    sums: T_Xarray
    years: tuple[int, ...]
    values_per_day: int
    calendar: str
    valid_counts: T_Xarray | None = None
    incomplete_years: tuple[int, ...] = ()
    masked_fills: int | None = 0

    @property
    def counts(self) -> T_Xarray:
        """Number of valid values per (year, day); for daily data, where ``sums`` is not NaN."""
        if self.valid_counts is not None:
            return self.valid_counts
        return self.sums.notnull().astype(np.int32)


def mask_fills(obj: T_Xarray) -> tuple[T_Xarray, int | None]:
    """``obj`` with undeclared fill values as NaN, and how many there were (``None`` if lazy).

    Fill values are values of floating variables that :func:`climaflow.fills.undeclared_fill_mask`
    flags (infinite, or a magnitude of at least
    :data:`~climaflow.fills.UNDECLARED_FILL_THRESHOLD`).
    """
    arrays = obj.data_vars.values() if isinstance(obj, xr.Dataset) else [obj]
    if not any(np.issubdtype(array.dtype, np.floating) for array in arrays):
        return obj, 0
    fills = xr.apply_ufunc(undeclared_fill_mask, obj, dask="allowed")
    masked = obj.where(~fills)
    if obj.chunks:
        return masked, None
    counted = fills.sum()
    if isinstance(counted, xr.Dataset):
        return masked, sum(int(count) for count in counted.data_vars.values())
    return masked, int(counted)


def dayofyear_sums(
    obj: T_Xarray,
    *,
    time_dim: Hashable = "time",
    engine: str = "numbagg",
    allow_incomplete_years: bool = False,
    overwrite_input: bool = False,
) -> YearlySums[T_Xarray]:
    """Each year's sums and counts of valid values per day of year.

    One flox reduction grouped by (year, day of year) with every year and day expected, so
    all years share the same day axis: 1..365 with 29 February dropped, or 1..360 for
    360_day data. In-memory daily data (at most one value per day) need no reduction: each
    value is copied to its (year, day), with the same result.

    Parameters
    ----------
    obj
        Daily (or finer) data with a ``time_dim`` coordinate of datetimes (numpy or cftime)
        and any other dimensions. For a Dataset, the data variables along ``time_dim`` are
        reduced and the others dropped. Lazy (dask-backed) inputs are rechunked to one chunk
        per year along time (when time is sorted) and give lazy results, one chunk per year.
    engine
        flox engine; ``"numbagg"`` is the fastest for these reductions.
    allow_incomplete_years
        Keep years that lack some of their calendar's days (e.g. a file ending on
        30 November); by default they are left out.
    overwrite_input
        Let the sums of in-memory daily data that hold whole years in day order share the
        input's memory (its fill values then set to NaN) instead of copying it: for callers
        that own the input and keep no other use of it.

    Raises
    ------
    UnsupportedCalendarError
        For a calendar climaflow has no day-of-year layout for.
    ValueError
        For an empty time axis, or when every year is incomplete.
    """
    time = obj[time_dim]
    calendar = _calendar_of(time)
    check_calendar(calendar, f"time coordinate {time_dim!r}")
    if isinstance(obj, xr.Dataset):
        obj = obj[[name for name, var in obj.data_vars.items() if time_dim in var.dims]]
    years, dayofyear = years_and_days(time, calendar)
    if years.size == 0:
        raise ValueError(f"{time_dim!r} is empty: no data to compute normals from")
    incomplete = incomplete_years(years, dayofyear, calendar)
    kept = dayofyear > 0
    if incomplete and not allow_incomplete_years:
        kept &= ~np.isin(years, incomplete)
    if not kept.any():
        raise ValueError(f"every year is incomplete: {format_years(incomplete)}")
    if not kept.all():
        obj = obj.isel({time_dim: kept})
        years, dayofyear = years[kept], dayofyear[kept]
    values_per_day = int(np.unique(years * 1000 + dayofyear, return_counts=True)[1].max())
    if obj.chunksizes and np.all(np.diff(years) >= 0):
        # One chunk per year: files chunked by day (as NEX-GDDP's) would give a task per day.
        obj = obj.chunk({time_dim: tuple(np.unique(years, return_counts=True)[1])})
    masked_fills: int | None
    if values_per_day == 1 and not obj.chunksizes:
        sums, masked_fills = _placed(obj, time_dim, years, dayofyear, calendar, overwrite_input)
        counts = None
    else:
        obj, masked_fills = mask_fills(obj)
        dtypes = obj.dtypes.values() if isinstance(obj, xr.Dataset) else [obj.dtype]
        if values_per_day > 1 or not all(np.issubdtype(dtype, np.floating) for dtype in dtypes):
            obj = obj.astype(np.float64)  # sums of several values accumulate in float64
        sums, counts = _grouped_sums(
            obj, time_dim, years, dayofyear, calendar, values_per_day > 1, engine
        )
    return YearlySums(
        sums=sums,
        years=tuple(int(year) for year in np.unique(years)),
        values_per_day=values_per_day,
        calendar=calendar,
        valid_counts=counts,
        incomplete_years=tuple(incomplete),
        masked_fills=masked_fills,
    )


def _grouped_sums(
    obj: T_Xarray,
    time_dim: Hashable,
    years: np.ndarray,
    dayofyear: np.ndarray,
    calendar: str,
    with_counts: bool,
    engine: str,
) -> tuple[T_Xarray, T_Xarray | None]:
    """flox sums (and, ``with_counts``, int32 counts) of valid values by (year, day of year)."""
    by = (
        xr.DataArray(years, dims=(time_dim,), name="year"),
        xr.DataArray(dayofyear, dims=(time_dim,), name="dayofyear"),
    )
    groups = (np.arange(years.min(), years.max() + 1), days_of_year(calendar))
    sums = xarray_reduce(
        obj, *by, func="nansum", expected_groups=groups, min_count=1, engine=engine
    ).transpose("year", "dayofyear", ...)
    if not with_counts:
        return sums, None
    counts = xarray_reduce(
        obj, *by, func="count", expected_groups=groups, fill_value=0, engine=engine
    ).transpose("year", "dayofyear", ...)
    return sums, counts.astype(np.int32)


def _placed(
    obj: T_Xarray,
    time_dim: Hashable,
    years: np.ndarray,
    dayofyear: np.ndarray,
    calendar: str,
    overwrite_input: bool,
) -> tuple[T_Xarray, int]:
    """Daily values moved to their (year, day of year), NaN where a day has none, undeclared
    fill values masked (and counted).

    What :func:`mask_fills` and :func:`_grouped_sums` give for in-memory data with at most one
    value per day (the sum of one value is the value), in one copy instead of a reduction, or
    none with ``overwrite_input`` when the input is already laid out so.
    """
    if isinstance(obj, xr.Dataset):
        placed = {
            name: _placed_array(array, time_dim, years, dayofyear, calendar, overwrite_input)
            for name, array in obj.data_vars.items()
        }
        dataset = xr.Dataset({name: array for name, (array, _) in placed.items()}, attrs=obj.attrs)
        return dataset, sum(fills for _, fills in placed.values())
    return _placed_array(obj, time_dim, years, dayofyear, calendar, overwrite_input)


def _placed_array(
    array: xr.DataArray,
    time_dim: Hashable,
    years: np.ndarray,
    dayofyear: np.ndarray,
    calendar: str,
    overwrite_input: bool,
) -> tuple[xr.DataArray, int]:
    first = int(years.min())
    moved = array.transpose(time_dim, ...)
    dtype = moved.dtype if np.issubdtype(moved.dtype, np.floating) else np.dtype(np.float64)
    days = days_per_year(calendar)
    shape = (int(years.max()) - first + 1, days, *moved.shape[1:])
    in_place = (
        overwrite_input
        and moved.dtype == dtype
        and moved.values.flags.c_contiguous
        and years.size == shape[0] * days
        and np.array_equal(dayofyear, np.tile(np.arange(1, days + 1), shape[0]))
        and np.array_equal(years, np.repeat(np.arange(first, first + shape[0]), days))
    )
    if in_place:
        values = moved.values.reshape(shape)
    else:
        values = np.empty(shape, dtype=dtype)
        empty = np.ones(values.shape[:2], dtype=bool)
        empty[years - first, dayofyear - 1] = False
        values[empty] = np.nan
        values[years - first, dayofyear - 1] = moved.values
    fills = mask_undeclared_fills(values) if np.issubdtype(moved.dtype, np.floating) else 0
    kept = {name: coord for name, coord in moved.coords.items() if time_dim not in coord.dims}
    placed = xr.DataArray(
        values,
        dims=("year", "dayofyear", *moved.dims[1:]),
        coords={
            "year": np.arange(first, first + values.shape[0]),
            "dayofyear": np.arange(1, days + 1),
            **kept,
        },
        name=array.name,
        attrs=array.attrs,
    )
    return placed, fills


def _calendar_of(time: xr.DataArray) -> str:
    if time.size == 0 or np.issubdtype(time.dtype, np.datetime64):
        return "proleptic_gregorian"
    return calendar_of(time)
