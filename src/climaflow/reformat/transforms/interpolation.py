"""Fill missing steps (e.g. lead times absent from an archive) by linear interpolation."""

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["linear_interpolate_missing_inplace"]

FloatT = TypeVar("FloatT", np.float32, np.float64)
CoordT = TypeVar("CoordT", np.number, np.datetime64, np.timedelta64)


def linear_interpolate_missing_inplace(
    values: npt.NDArray[FloatT],
    coords: npt.NDArray[CoordT],
    *,
    axis: int,
    missing: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[FloatT]:
    """Fill missing steps along ``axis`` by linear interpolation in coordinate space, in place.

    A step is one position along ``axis`` together with all values at that position (for
    ``axis=1`` of an ``(init_time, lead_time, lat, lon)`` array, one lead time of every init
    time). Each missing step ``k`` is replaced by interpolating between the nearest steps
    ``l < k < r`` that are not missing::

        values[k] = values[l] + (coords[k] - coords[l]) / (coords[r] - coords[l])
                                * (values[r] - values[l])

    element by element, so a NaN at one grid point of step ``l`` or ``r`` gives NaN at that
    point only. Missing steps without a non-missing step on both sides (leading or trailing
    gaps) are set to NaN: there is no extrapolation. Non-missing steps are not modified.

    Parameters
    ----------
    values : numpy.ndarray of float32 or float64
        Writable array of any shape, modified in place.
    coords : numpy.ndarray of numbers, datetime64 or timedelta64
        1-D, strictly increasing coordinate of each position along ``axis``.
    axis : int
        Axis of ``values`` along which ``coords`` vary. Negative values count from the end.
    missing : numpy.ndarray of bool, optional
        1-D mask along ``axis``, True at the steps to fill. Default: the steps in which every
        value is NaN.

    Returns
    -------
    numpy.ndarray
        ``values`` itself, with missing steps filled.

    Raises
    ------
    TypeError
        If ``values`` is not float32 or float64, ``coords`` is not numeric, datetime64 or
        timedelta64, or ``missing`` is not boolean.
    ValueError
        If ``values`` is read-only, ``coords`` or ``missing`` do not have
        ``values.shape[axis]`` elements, or ``coords`` is not strictly increasing or holds NaN
        or NaT.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

    Notes
    -----
    The weight of each missing step is a float64 ratio of coordinate differences; filling a
    step allocates temporaries the size of one step, never of the whole array.

    Examples
    --------
    >>> values = np.array([np.nan, 1.0, np.nan, np.nan, 9.0, np.nan], dtype=np.float32)
    >>> linear_interpolate_missing_inplace(values, np.array([0, 1, 2, 4, 5, 6]), axis=0)
    array([nan,  1.,  3.,  7.,  9., nan], dtype=float32)
    """
    if values.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"values must be float32 or float64, got {values.dtype}")
    if not values.flags.writeable:
        raise ValueError("values must be writable: missing steps are filled in place")
    steps = np.moveaxis(values, axis, 0)  # a view: writing to it writes to values
    if coords.shape != (steps.shape[0],):
        raise ValueError(
            f"coords must be 1-D with values.shape[axis] = {steps.shape[0]} elements, "
            f"got shape {coords.shape}"
        )
    if coords.dtype.kind not in "iufmM":
        raise TypeError(f"coords must be numeric, datetime64 or timedelta64, got {coords.dtype}")
    if not (coords[1:] > coords[:-1]).all():
        raise ValueError("coords must be strictly increasing, without NaN or NaT")
    if missing is None:
        missing = np.array([np.isnan(step).all() for step in steps], dtype=bool)
    elif missing.dtype != np.bool_:
        raise TypeError(f"missing must be a boolean array, got {missing.dtype}")
    elif missing.shape != coords.shape:
        raise ValueError(f"missing must have shape {coords.shape}, got {missing.shape}")

    valid = np.flatnonzero(~missing)
    for k in np.flatnonzero(missing):
        right_index = np.searchsorted(valid, k)
        if right_index in (0, valid.size):
            steps[k] = np.nan
            continue
        left, right = valid[right_index - 1], valid[right_index]
        weight = (coords[k] - coords[left]) / (coords[right] - coords[left])
        steps[k] = steps[left] + weight * (steps[right] - steps[left])
    return values
