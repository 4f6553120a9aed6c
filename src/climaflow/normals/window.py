"""A running window over in-memory per-year arrays: one year in, one year out per target.

The batch tasks of :mod:`climaflow.normals.pipeline` hold each year's per-day sums (as
:func:`~climaflow.normals.compute.dayofyear_sums` gives them) and move a window along the
target years. The updates are fused numba loops: one pass over the values per year entering
or leaving, no temporary arrays.
"""

from collections.abc import Hashable, Iterable, Mapping

import numba
import numpy as np


class WindowAccumulator:
    """Running window sums and counts over in-memory per-year arrays.

    :meth:`move_to` adds the years entering the window and subtracts those leaving it, so
    consecutive target years cost two array updates each instead of a window's worth. Sums
    accumulate in float64, counts in int32. Subtracting a year whose values dwarf the rest
    (more than :attr:`CANCELLATION_RATIO` times the window's largest, e.g. an undeclared fill
    value) would cancel the others' digits: the window is then summed afresh.

    Per-year arrays are ``(sums, counts)`` with NaN sums where the count is 0, as
    :func:`~climaflow.normals.compute.dayofyear_sums` gives them. ``counts`` may be ``None``
    for years with at most one value per day: the sums are then the values themselves and the
    counts are where they are not NaN (the input's dtype keeps them exactly, in half the memory
    of float64 plus counts).
    """

    CANCELLATION_RATIO = 2.0**20

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.sums = np.zeros(shape, dtype=np.float64)
        self.counts = np.zeros(shape, dtype=np.int32)
        self.years: frozenset[Hashable] = frozenset()
        self._largest: dict[Hashable, float] = {}
        self._largest_since_reset = 0.0

    def move_to(
        self,
        years: Iterable[Hashable],
        per_year: Mapping[Hashable, tuple[np.ndarray, np.ndarray | None]],
    ) -> None:
        """Make the window hold exactly ``years`` (keys of ``per_year``)."""
        years = frozenset(years)
        for year in years - self._largest.keys():
            self._largest[year] = float(_largest_magnitude(_flat(per_year[year][0])))
        window_largest = max((self._largest[year] for year in years), default=0.0)
        if self._largest_since_reset > self.CANCELLATION_RATIO * window_largest:
            self.sums[...] = 0
            self.counts[...] = 0
            self.years, self._largest_since_reset = frozenset(), 0.0
        for year in sorted(self.years - years):
            self._update(*per_year[year], sign=-1)
        for year in sorted(years - self.years):
            self._update(*per_year[year], sign=1)
            self._largest_since_reset = max(self._largest_since_reset, self._largest[year])
        self.years = years

    def mean(self, dtype: np.typing.DTypeLike = np.float32) -> np.ndarray:
        """Window sum / count, NaN where the count is 0."""
        mean = np.empty(self.sums.shape, dtype=dtype)
        _divide(self.sums.ravel(), self.counts.ravel(), mean.ravel())
        return mean

    def _update(self, sums: np.ndarray, counts: np.ndarray | None, sign: int) -> None:
        if sums.shape != self.sums.shape:
            raise ValueError(f"a year of shape {sums.shape} in a window of shape {self.sums.shape}")
        if counts is None:
            _add_values(self.sums.ravel(), self.counts.ravel(), _flat(sums), sign)
        else:
            _add_sums(self.sums.ravel(), self.counts.ravel(), _flat(sums), _flat(counts), sign)


def _flat(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).ravel()


@numba.njit(nogil=True, cache=True)
def _add_values(sums, counts, values, sign):  # pragma: no cover - compiled
    for i in range(values.size):
        value = values[i]
        if not np.isnan(value):
            sums[i] += sign * value
            counts[i] += sign


@numba.njit(nogil=True, cache=True)
def _add_sums(sums, counts, year_sums, year_counts, sign):  # pragma: no cover - compiled
    for i in range(year_sums.size):
        if year_counts[i] > 0:
            sums[i] += sign * year_sums[i]
            counts[i] += sign * year_counts[i]


@numba.njit(nogil=True, cache=True)
def _divide(sums, counts, out):  # pragma: no cover - compiled
    for i in range(sums.size):
        out[i] = sums[i] / counts[i] if counts[i] > 0 else np.nan


@numba.njit(nogil=True, cache=True)
def _largest_magnitude(values):  # pragma: no cover - compiled
    largest = 0.0
    for i in range(values.size):
        magnitude = abs(values[i])
        if magnitude > largest:  # False for NaN
            largest = magnitude
    return largest
