"""The window arithmetic of normals: one implementation for the Python API and the pipeline.

A target year's normal on a cell-day is the mean of the valid values of its window years:
the float64 sum of the per-year values (or per-year sums, for data with several values per
day) added year by year in ascending year order, divided by the integer count of values.
No window is derived from another by subtracting the year that leaves it unless that is exact.
Float32 values whose binary exponents differ by at most 29 - log2(window) (temperatures in
kelvin always do) are multiples of one power of two small enough that float64 sums of them
are exact, in any order (:data:`EXACT_EXPONENT_SPAN`). Where every value of a block of cells
is so, the kernel slides from one window to the next (the years leaving subtracted, those
entering added): the same sums bit for bit, for a fraction of the additions. Elsewhere
(precipitation with its tiny values, say) each window is summed afresh, so no value cancels
another's digits. Every caller thus gets the sums of the ascending order, and the API
(:func:`~climaflow.normals.compute.daily_normals`) and the pipeline give bit-identical normals.

A cell-day with fewer than ``min_years`` years holding a valid value gets NaN.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba.typed import List

#: One year: its per-day values (``counts`` ``None``), or its per-day sums and value counts.
YearArrays = tuple[np.ndarray, np.ndarray | None]


def window_mean(
    years: Iterable[YearArrays],
    *,
    min_years: int,
    dtype: np.typing.DTypeLike = np.float32,
) -> np.ndarray:
    """The mean over ``years`` of each element, NaN where fewer than ``min_years`` are valid.

    Parameters
    ----------
    years
        The window's years in ascending year order, each ``(values, None)`` for data with at
        most one value per day (NaN where missing) or ``(sums, counts)`` (sums NaN or any
        value where the count is 0). All arrays have one shape, and all years one kind.
    min_years
        The fewest years with a valid value a mean needs.
    dtype
        dtype of the result.

    Returns
    -------
    numpy.ndarray
        The means, of the arrays' shape.

    Raises
    ------
    ValueError
        For no years, years of different shapes, daily values mixed with sums, or
        ``min_years`` below 1.
    """
    years = list(years)
    means = window_means(years, [range(len(years))], min_years=min_years, dtype=dtype)
    mean: np.ndarray = means[0]
    return mean


def window_means(
    years: Sequence[YearArrays],
    windows: Sequence[Sequence[int]],
    *,
    min_years: int,
    dtype: np.typing.DTypeLike = np.float32,
) -> np.ndarray:
    """:func:`window_mean` of several windows over one sequence of years, in one pass.

    ``windows`` hold indices into ``years`` (ascending years, as in :func:`window_mean`);
    the result has shape ``(len(windows), *shape)``. Each window gets the sums
    :func:`window_mean` gives it, bit for bit, but every year is read once for all windows,
    so a batch of consecutive target years costs little more memory traffic than one, and
    where float32 sums are exact (see the module's description) a window is slid from the
    previous one instead of summed afresh.

    Raises
    ------
    ValueError
        As :func:`window_mean`, and for a window of no years.
    """
    if not years:
        raise ValueError("a window needs at least one year")
    if min_years < 1:
        raise ValueError(f"min_years must be at least 1, got {min_years}")
    shape = years[0][0].shape
    for sums, _ in years:
        if sums.shape != shape:
            raise ValueError(f"a year of shape {sums.shape} in a window of shape {shape}")
    with_counts = {counts is not None for _, counts in years}
    if len(with_counts) > 1:
        raise ValueError("a window mixes years of daily values with years of sums and counts")
    members = np.zeros((len(windows), len(years)), dtype=np.bool_)
    for row, window in zip(members, windows, strict=True):
        if len(window) == 0:
            raise ValueError("a window needs at least one year")
        row[np.asarray(window)] = True
    sums_type = np.result_type(*(sums.dtype for sums, _ in years))
    sums_list = List([_flat(sums, sums_type) for sums, _ in years])
    means = np.empty((len(windows), int(np.prod(shape))), dtype=dtype)
    if with_counts == {False}:
        slide = len(windows) > 1 and sums_type == np.float32
        _means_of_values(sums_list, members, min_years, slide, means)
    else:
        counts_type = np.result_type(*(counts.dtype for _, counts in years if counts is not None))
        counts_list = List(
            [_flat(counts, counts_type) for _, counts in years if counts is not None]
        )
        _means_of_sums(sums_list, counts_list, members, min_years, means)
    return means.reshape((len(windows), *shape))


def window_mean_along_last_axis(
    sums: np.ndarray,
    counts: np.ndarray | None = None,
    *,
    min_years: int,
    dtype: np.typing.DTypeLike = np.float32,
) -> np.ndarray:
    """:func:`window_mean` of years stacked along the last axis (for ``xarray.apply_ufunc``)."""
    n = sums.shape[-1]
    return window_mean(
        ((sums[..., k], None if counts is None else counts[..., k]) for k in range(n)),
        min_years=min_years,
        dtype=dtype,
    )


def _flat(array: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=dtype).ravel()


# Elements are taken in blocks small enough for the years' blocks to stay in the CPU's cache
# while every window adds them up: each year array is read from memory once for all windows,
# and the additions run over contiguous memory.
_BLOCK = 2048


# Float64 sums of float32 values are exact in every order when the values' binary exponents
# are close enough: a float32 of biased exponent e (1 for subnormals) is a multiple of
# 2**(e - 150) below 2**(e - 126) in magnitude, so a sum of n of them is a multiple of
# 2**(e_min - 150) below n * 2**(e_max - 126): exact in float64's 53 bits when
# e_max - e_min + log2(n) <= 29.
EXACT_EXPONENT_SPAN = 29


@numba.njit(nogil=True, cache=True)
def _means_of_values(
    years: List[npt.NDArray[np.floating]],
    members: npt.NDArray[np.bool_],
    min_years: int,
    slide: bool,
    out: npt.NDArray[np.floating],
) -> None:  # pragma: no cover - compiled
    total = np.empty(_BLOCK, dtype=np.float64)
    n_years = np.empty(_BLOCK, dtype=np.int32)
    used = np.zeros(len(years), dtype=np.bool_)
    for window in range(members.shape[0]):
        used |= members[window]
    longest = 0
    for window in range(members.shape[0]):
        longest = max(longest, int(members[window].sum()))
    for start in range(0, out.shape[1], _BLOCK):
        stop = min(start + _BLOCK, out.shape[1])
        size = stop - start
        if slide and _sums_are_exact(years, used, start, stop, longest):
            total[:] = 0.0
            n_years[:] = 0
            for window in range(members.shape[0]):
                for k in range(len(years)):
                    leaves = window > 0 and members[window - 1, k] and not members[window, k]
                    if leaves:
                        _add_values(years[k][start:stop], total[:size], n_years[:size], -1)
                for k in range(len(years)):
                    enters = members[window, k] and (window == 0 or not members[window - 1, k])
                    if enters:
                        _add_values(years[k][start:stop], total[:size], n_years[:size], 1)
                _divide(
                    total[:size], n_years[:size], n_years[:size], min_years, out[window, start:stop]
                )
            continue
        for window in range(members.shape[0]):
            total[:] = 0.0
            n_years[:] = 0
            for k in range(len(years)):
                if members[window, k]:
                    _add_values(years[k][start:stop], total[:size], n_years[:size], 1)
            _divide(
                total[:size], n_years[:size], n_years[:size], min_years, out[window, start:stop]
            )


@numba.njit(nogil=True, cache=True)
def _sums_are_exact(
    years: List[npt.NDArray[np.floating]],
    used: npt.NDArray[np.bool_],
    start: int,
    stop: int,
    longest: int,
) -> bool:  # pragma: no cover - compiled
    """Whether float64 sums of up to ``longest`` of the used float32 years' values in
    ``start:stop`` are exact in every order (see :data:`EXACT_EXPONENT_SPAN`). Zeros and NaN
    are left out; an infinity makes the sums inexact."""
    lowest = 255
    highest = 0
    for k in range(len(years)):
        if used[k]:
            bits = years[k][start:stop].view(np.uint32)
            for i in range(bits.size):
                magnitude = bits[i] & 0x7FFFFFFF
                exponent = magnitude >> 23
                is_nan = magnitude > 0x7F800000
                skipped = magnitude == 0 or is_nan
                infinite = magnitude == 0x7F800000
                lowest = min(lowest, 255 if skipped else 0 if infinite else max(exponent, 1))
                highest = max(highest, 0 if is_nan else exponent)
    span = 0
    while (1 << span) < longest:
        span += 1
    return highest - lowest + span <= EXACT_EXPONENT_SPAN


@numba.njit(nogil=True, cache=True)
def _means_of_sums(
    years: List[npt.NDArray[np.floating]],
    counts: List[npt.NDArray[np.integer]],
    members: npt.NDArray[np.bool_],
    min_years: int,
    out: npt.NDArray[np.floating],
) -> None:  # pragma: no cover - compiled
    total = np.empty(_BLOCK, dtype=np.float64)
    n_values = np.empty(_BLOCK, dtype=np.int64)
    n_years = np.empty(_BLOCK, dtype=np.int32)
    for start in range(0, out.shape[1], _BLOCK):
        stop = min(start + _BLOCK, out.shape[1])
        size = stop - start
        for window in range(members.shape[0]):
            total[:] = 0.0
            n_values[:] = 0
            n_years[:] = 0
            for k in range(len(years)):
                if members[window, k]:
                    _add_sums(
                        years[k][start:stop],
                        counts[k][start:stop],
                        total[:size],
                        n_values[:size],
                        n_years[:size],
                    )
            _divide(
                total[:size], n_values[:size], n_years[:size], min_years, out[window, start:stop]
            )


# The loops below are branch-free, so that they vectorize. A NaN adds +0.0 to a total that is
# never -0.0 (it starts at +0.0), which leaves it as it was: the sums are those of the valid
# values alone, bit for bit.


@numba.njit(nogil=True, cache=True, inline="always")
def _add_values(
    values: npt.NDArray[np.floating],
    total: npt.NDArray[np.float64],
    n_years: npt.NDArray[np.int32],
    sign: int,
) -> None:  # pragma: no cover - compiled
    """Add (``sign`` 1) or subtract (``sign`` -1) the valid ``values``: negation is exact."""
    for i in range(values.size):
        value = values[i]
        valid = value == value
        total[i] += sign * (value if valid else 0.0)
        n_years[i] += sign * valid


@numba.njit(nogil=True, cache=True, inline="always")
def _add_sums(
    sums: npt.NDArray[np.floating],
    counts: npt.NDArray[np.integer],
    total: npt.NDArray[np.float64],
    n_values: npt.NDArray[np.int64],
    n_years: npt.NDArray[np.int32],
) -> None:  # pragma: no cover - compiled
    for i in range(sums.size):
        count = counts[i]
        valid = count > 0
        total[i] += sums[i] if valid else 0.0
        n_values[i] += count
        n_years[i] += valid


@numba.njit(nogil=True, cache=True, inline="always")
def _divide(
    total: npt.NDArray[np.float64],
    n_values: npt.NDArray[np.integer],
    n_years: npt.NDArray[np.int32],
    min_years: int,
    out: npt.NDArray[np.floating],
) -> None:  # pragma: no cover - compiled
    for i in range(total.size):
        out[i] = total[i] / n_values[i] if n_years[i] >= min_years else np.nan
