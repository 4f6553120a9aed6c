"""Fill values that CMIP files hold without declaring them.

Many CMIP files mark missing data with a large number (``1e20``, CMIP's convention, or
``9.96921e36``, netCDF's default float fill) without a ``_FillValue`` or ``missing_value``
attribute, e.g. on pressure levels below ground. Read as data, one such value ruins every mean
it enters. climaflow treats every value that is not finite or has a magnitude of at least
:data:`UNDECLARED_FILL_THRESHOLD` as missing, like a declared fill value, and says how many
it found.
"""

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
