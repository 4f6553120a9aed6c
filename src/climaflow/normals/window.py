"""The window arithmetic of normals: one implementation for the Python API and the pipeline.

A target year's normal on a cell-day is the mean of the valid values of its window years:
the float64 sum of the per-year values (or per-year sums, for data with several values per
day) added year by year in ascending year order, divided by the integer count of values.
Each window is summed afresh from its own years, never by subtracting the year that leaves
it, so no value cancels another's digits whatever their magnitudes. Because every caller adds
the same years in the same order, the API (:func:`~climaflow.normals.compute.daily_normals`)
and the pipeline give bit-identical normals.

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
        For no years, years of different shapes, or daily values mixed with sums.
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
    the result has shape ``(len(windows), *shape)``. Each window is summed from its own years
    exactly as :func:`window_mean` sums it, but every year is read once for all windows,
    so a batch of consecutive target years costs little more memory traffic than one.

    Raises
    ------
    ValueError
        As :func:`window_mean`, and for a window of no years.
    """
    if not years:
        raise ValueError("a window needs at least one year")
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
        _means_of_values(sums_list, members, min_years, means)
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


@numba.njit(nogil=True, cache=True)
def _means_of_values(
    years: List[npt.NDArray[np.floating]],
    members: npt.NDArray[np.bool_],
    min_years: int,
    out: npt.NDArray[np.floating],
) -> None:  # pragma: no cover - compiled
    total = np.empty(_BLOCK, dtype=np.float64)
    n_years = np.empty(_BLOCK, dtype=np.int32)
    for start in range(0, out.shape[1], _BLOCK):
        stop = min(start + _BLOCK, out.shape[1])
        size = stop - start
        for window in range(members.shape[0]):
            total[:] = 0.0
            n_years[:] = 0
            for k in range(len(years)):
                if members[window, k]:
                    _add_values(years[k][start:stop], total[:size], n_years[:size])
            _divide(
                total[:size], n_years[:size], n_years[:size], min_years, out[window, start:stop]
            )


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
) -> None:  # pragma: no cover - compiled
    for i in range(values.size):
        value = values[i]
        valid = value == value
        total[i] += value if valid else 0.0
        n_years[i] += valid


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
