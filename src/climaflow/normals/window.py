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

from collections.abc import Iterable

import numba
import numpy as np
import numpy.typing as npt

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
        value where the count is 0). All arrays have one shape.
    min_years
        The fewest years with a valid value a mean needs.
    dtype
        dtype of the result.

    Returns
    -------
    numpy.ndarray
        The means, of the arrays' shape.
    """
    total: np.ndarray | None = None
    n_values = n_years = np.empty(0, dtype=np.int32)
    for sums, counts in years:
        flat_sums = _flat(sums)
        if total is None:
            shape = sums.shape
            total = np.zeros(flat_sums.size, dtype=np.float64)
            n_values = np.zeros(flat_sums.size, dtype=np.int32)
            n_years = np.zeros(flat_sums.size, dtype=np.int32)
        elif flat_sums.size != total.size:
            raise ValueError(f"a year of shape {sums.shape} in a window of shape {shape}")
        if counts is None:
            _add_values(total, n_values, n_years, flat_sums)
        else:
            _add_sums(total, n_values, n_years, flat_sums, _flat(counts))
    if total is None:
        raise ValueError("a window needs at least one year")
    mean = np.empty(total.size, dtype=dtype)
    _divide(total, n_values, n_years, min_years, mean)
    return mean.reshape(shape)


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


def _flat(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).ravel()


@numba.njit(nogil=True, cache=True)
def _add_values(
    total: npt.NDArray[np.float64],
    n_values: npt.NDArray[np.int32],
    n_years: npt.NDArray[np.int32],
    values: npt.NDArray[np.floating],
) -> None:  # pragma: no cover - compiled
    for i in range(values.size):
        value = values[i]
        if not np.isnan(value):
            total[i] += value
            n_values[i] += 1
            n_years[i] += 1


@numba.njit(nogil=True, cache=True)
def _add_sums(
    total: npt.NDArray[np.float64],
    n_values: npt.NDArray[np.int32],
    n_years: npt.NDArray[np.int32],
    sums: npt.NDArray[np.floating],
    counts: npt.NDArray[np.integer],
) -> None:  # pragma: no cover - compiled
    for i in range(sums.size):
        if counts[i] > 0:
            total[i] += sums[i]
            n_values[i] += counts[i]
            n_years[i] += 1


@numba.njit(nogil=True, cache=True)
def _divide(
    total: npt.NDArray[np.float64],
    n_values: npt.NDArray[np.int32],
    n_years: npt.NDArray[np.int32],
    min_years: int,
    out: npt.NDArray[np.floating],
) -> None:  # pragma: no cover - compiled
    for i in range(total.size):
        out[i] = total[i] / n_values[i] if n_years[i] >= min_years else np.nan
