"""Fill values: the declared ones, and those CMIP files hold without declaring them.

Many CMIP files mark missing data with a large number (``1e20``, CMIP's convention, or
``9.96921e36``, netCDF's default float fill) without a ``_FillValue`` or ``missing_value``
attribute, e.g. on pressure levels below ground. Read as data, one such value ruins every mean
it enters. climaflow treats every value that is not finite or has a magnitude of at least
:data:`UNDECLARED_FILL_THRESHOLD` as missing, like a declared fill value, and says how many
it found. :func:`mask_declared_fills` masks the declared ones in place, as xarray's CF decoding
does, without the copy decoding makes.
"""

from collections.abc import Iterable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

#: Magnitudes at or above this are fill values: CMIP's 1e20 and netCDF's 9.96921e36.
UNDECLARED_FILL_THRESHOLD = 1e20


def undeclared_fill_mask(values: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
    """Where ``values`` are fills: infinite or ``|x| >= 1e20`` (NaN is missing already)."""
    with np.errstate(invalid="ignore"):
        mask: npt.NDArray[np.bool_] = np.abs(values) >= UNDECLARED_FILL_THRESHOLD
    return mask


def mask_undeclared_fills(values: npt.NDArray[np.floating]) -> int:
    """Set fill values of a float array to NaN in place; return how many there were."""
    if values.flags.c_contiguous:
        return int(_mask_in_place(values.reshape(-1), UNDECLARED_FILL_THRESHOLD))
    mask = undeclared_fill_mask(values)
    count = int(np.count_nonzero(mask))
    if count:
        values[mask] = np.nan
    return count


@numba.njit(nogil=True, cache=True)
def _mask_in_place(values: npt.NDArray[np.floating], threshold: float) -> int:  # pragma: no cover
    count = 0
    for i in range(values.size):
        if abs(values[i]) >= threshold:  # false for NaN, true for infinities
            values[i] = np.nan
            count += 1
    return count


def mask_declared_fills(
    values: npt.NDArray[np.floating], fills: Iterable[float | np.number[Any]]
) -> None:
    """Set the elements of a C-contiguous float array equal to one of ``fills`` to NaN, in place.

    Each fill is compared in the precision numpy gives ``values == fill`` for a numpy scalar
    (a float64 fill is compared with float32 values in float64), as xarray's CF decoding of
    ``_FillValue`` and ``missing_value`` does; NaN fills are skipped.
    """
    if not values.flags.c_contiguous:
        raise ValueError("declared fills are masked in place in C-contiguous arrays only")
    flat = values.reshape(-1)
    for fill in fills:
        if not np.isnan(fill):
            _mask_equal_in_place(flat, fill)


@numba.njit(nogil=True, cache=True)
def _mask_equal_in_place(
    values: npt.NDArray[np.floating], fill: float | np.number[Any]
) -> None:  # pragma: no cover
    for i in range(values.size):
        if values[i] == fill:
            values[i] = np.nan
