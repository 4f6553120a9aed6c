"""Deaccumulation: turn values accumulated since a periodic reset into per-second rates.

NWP archives store fluxes such as precipitation as totals accumulated since the last reset
(GFS and GEFS reset every 6 h of lead time; ECMWF never resets within a forecast). Dividing
the increase between consecutive steps by the time between them gives the mean rate over
each step's interval, which is what climaflow stores.
"""

from typing import Final, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["deaccumulate_to_rates_inplace"]

FloatT = TypeVar("FloatT", np.float32, np.float64)

# How the rate of one step is computed (see `_step_rules`).
_UNKNOWN: Final = 0  # NaN
_DIFFERENCE: Final = 1  # (acc[i] - acc[i-1]) / dt
_SINCE_RESET: Final = 2  # acc[i] / dt

_EPOCH: Final = np.datetime64("1970-01-01T00:00:00", "s")


def deaccumulate_to_rates_inplace(
    values: npt.NDArray[FloatT],
    times: npt.NDArray[np.datetime64] | npt.NDArray[np.timedelta64],
    *,
    axis: int,
    reset_frequency: np.timedelta64 | None,
    expected_invalid_below_threshold_rate: float = -2e-5,
) -> npt.NDArray[FloatT]:
    """Convert accumulations along ``axis`` into mean rates per second, in place.

    Each value is taken to be the total accumulated since the most recent reset. Resets happen
    at every multiple of ``reset_frequency`` counted from time zero: lead time 0 for
    ``timedelta64`` times, 1970-01-01T00:00 for ``datetime64`` times. The value at a reset
    time is the total of the bucket that ends there (GFS f006 holds 0-6 h, f007 holds 6-7 h).

    The rate written at step ``i`` is the mean rate over ``(t[i-1], t[i]]``, in the input's
    units per second (kg m-2 -> kg m-2 s-1). With ``r[i]`` the bucket start of step ``i``,
    the largest reset time strictly below ``t[i]``:

    * ``t[i-1] > r[i]`` (same bucket): ``(acc[i] - acc[i-1]) / (t[i] - t[i-1])``;
    * ``t[i-1] == r[i]`` (previous step is the reset): ``acc[i] / (t[i] - r[i])``; the value
      stored at ``t[i-1]`` is not used, so a NaN there does not propagate;
    * ``t[i-1] < r[i]`` (a reset happened after ``t[i-1]``, the interval cannot be split): NaN.

    The first step has no previous step. Its interval is assumed to be as long as the next
    one, ``t[-1] := t[0] - (t[1] - t[0])``, and the same rules apply, except that the
    ``t[-1] > r[0]`` case is NaN because ``acc[-1]`` is unknown. So the first step gets a rate
    only when that implied previous step falls exactly on its reset (a region starting at lead
    1 h of an hourly GFS series, or at 07:00 of an hourly series resetting every hour); in
    all other cases, and when there is a single step, it is NaN. A ``timedelta64`` step at
    lead 0 has accumulated nothing over no time and is always NaN.

    NaN inputs give NaN rates through the arithmetic above. Rates in
    ``[expected_invalid_below_threshold_rate, 0)``, noise from lossy packing of
    non-decreasing totals, are set to 0; rates below the threshold are set to NaN.

    Parameters
    ----------
    values : numpy.ndarray of float32 or float64
        Writable array of accumulations, of any shape. It is overwritten with rates.
    times : numpy.ndarray of timedelta64 or datetime64
        1-D, strictly increasing, no NaT, one per position along ``axis``. ``timedelta64``
        times (lead times) must be ``>= 0``.
    axis : int
        Axis of ``values`` along which ``times`` vary. Negative values count from the end.
    reset_frequency : numpy.timedelta64 or None
        Positive interval between resets, e.g. ``np.timedelta64(6, "h")`` for GFS. ``None``
        means the accumulation never resets (ECMWF: totals since lead 0); it needs
        ``timedelta64`` times.
    expected_invalid_below_threshold_rate : float, default -2e-5
        Non-positive threshold in output units, i.e. input units per second. The default
        suits precipitation in kg m-2 (= mm): -2e-5 kg m-2 s-1 is -0.072 mm/h.

    Returns
    -------
    numpy.ndarray
        ``values`` itself, holding rates.

    Raises
    ------
    TypeError
        If ``values`` is not float32 or float64, or ``times`` is not timedelta64 or datetime64.
    ValueError
        If ``values`` is read-only; if ``times`` does not match ``values`` along ``axis``, is
        not strictly increasing, holds NaT or negative lead times; if ``reset_frequency`` is
        not positive, or is ``None`` with ``datetime64`` times; or if the threshold is positive.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

    Notes
    -----
    Steps are processed from last to first so each difference reads the still unmodified
    previous accumulation; the arithmetic is done in float64. Arrays that can be reshaped to
    ``(before, len(times), after)`` without copying (any C-contiguous array) are processed
    without temporaries; other layouts go through one temporary copy.

    Examples
    --------
    GFS-like hourly leads with 6-hourly resets: f001-f006 hold 0-1 h ... 0-6 h, f007 6-7 h.

    >>> acc = np.array([0, 1, 3, 6, 10, 15, 21, 7, 14], dtype=np.float32) * 3600
    >>> leads = np.arange(9).astype("timedelta64[h]")
    >>> deaccumulate_to_rates_inplace(acc, leads, axis=0, reset_frequency=np.timedelta64(6, "h"))
    array([nan,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  7.], dtype=float32)
    """
    if values.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"values must be float32 or float64, got {values.dtype}")
    if not values.flags.writeable:
        raise ValueError("values must be writable: it is overwritten with rates")
    if not -values.ndim <= axis < values.ndim:
        raise np.exceptions.AxisError(axis, values.ndim)
    axis %= values.ndim
    if times.shape != (values.shape[axis],):
        raise ValueError(
            f"times must be 1-D with values.shape[axis] = {values.shape[axis]} elements, "
            f"got shape {times.shape}"
        )
    if expected_invalid_below_threshold_rate > 0:
        raise ValueError(
            "expected_invalid_below_threshold_rate must be <= 0, "
            f"got {expected_invalid_below_threshold_rate}"
        )
    rules, seconds = _step_rules(times, reset_frequency)

    before = int(np.prod(values.shape[:axis]))
    after = int(np.prod(values.shape[axis + 1 :]))
    values_3d = values.reshape(before, values.shape[axis], after)
    _deaccumulate(values_3d, rules, seconds, expected_invalid_below_threshold_rate)
    if not np.may_share_memory(values_3d, values):
        values[...] = values_3d.reshape(values.shape)
    return values


def _step_rules(
    times: npt.NDArray[np.datetime64] | npt.NDArray[np.timedelta64],
    reset_frequency: np.timedelta64 | None,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Validate ``times`` and ``reset_frequency``; return how each step's rate is computed and
    its divisor in seconds."""
    is_lead_time = np.issubdtype(times.dtype, np.timedelta64)
    offsets = _offsets_from_time_zero(times, reset_frequency)
    if reset_frequency is None:
        unit = offsets.dtype
    else:
        reset_frequency = np.timedelta64(reset_frequency)
        if reset_frequency <= np.timedelta64(0):
            raise ValueError(f"reset_frequency must be positive, got {reset_frequency}")
        unit = np.promote_types(offsets.dtype, reset_frequency.dtype)

    # Integer ticks of the finest unit involved, so bucket arithmetic is exact.
    unit_name, unit_count = np.datetime_data(unit)
    # numpy's stub accepts only literal unit names; datetime_data returns the unit as a str.
    tick = np.timedelta64(unit_count, unit_name)  # type: ignore[call-overload]
    ticks = offsets // tick
    if reset_frequency is None:
        bucket_start = np.zeros_like(ticks)
    else:
        period = reset_frequency // tick
        bucket_start = (ticks - 1) // period * period

    # Start of each step's interval; the first one is extrapolated from the next step's length.
    first_length = ticks[1] - ticks[0] if ticks.size > 1 else 0
    starts = np.concatenate((ticks[:1] - first_length, ticks[:-1]))
    rules = np.select(
        [starts == bucket_start, starts > bucket_start], [_SINCE_RESET, _DIFFERENCE], _UNKNOWN
    ).astype(np.int8)
    if rules.size and rules[0] == _DIFFERENCE:  # the first step has no previous accumulation
        rules[0] = _UNKNOWN
    if is_lead_time:
        rules[ticks == 0] = _UNKNOWN
    seconds = (ticks - starts) * (tick / np.timedelta64(1, "s"))
    return rules, seconds


def _offsets_from_time_zero(
    times: npt.NDArray[np.datetime64] | npt.NDArray[np.timedelta64],
    reset_frequency: np.timedelta64 | None,
) -> npt.NDArray[np.timedelta64]:
    """``times`` as offsets from time zero: lead 0, or 1970-01-01T00:00 for ``datetime64``.

    Raises the errors about ``times`` that :func:`deaccumulate_to_rates_inplace` documents.
    """
    # np.issubdtype narrows the dtype of times, which mypy cannot follow: hence the casts.
    is_lead_time = np.issubdtype(times.dtype, np.timedelta64)
    if is_lead_time:
        offsets = cast(npt.NDArray[np.timedelta64], times)
    elif np.issubdtype(times.dtype, np.datetime64):
        if reset_frequency is None:
            raise ValueError("reset_frequency=None (never resets) needs timedelta64 times")
        offsets = cast(npt.NDArray[np.datetime64], times) - _EPOCH
    else:
        raise TypeError(f"times must be timedelta64 or datetime64, got {times.dtype}")
    if np.isnat(offsets).any():
        raise ValueError("times must not contain NaT")
    if (np.diff(offsets) <= np.timedelta64(0)).any():
        raise ValueError("times must be strictly increasing")
    if is_lead_time and (offsets < np.timedelta64(0)).any():
        raise ValueError("timedelta64 times (lead times) must be >= 0")
    return offsets


@numba.njit(parallel=False, cache=True)
def _deaccumulate(
    values: npt.NDArray[np.floating],
    rules: npt.NDArray[np.int8],
    seconds: npt.NDArray[np.float64],
    invalid_below: float,
) -> None:
    # values has shape (before, steps, after). Going backwards along the steps axis means
    # values[:, i - 1] still holds accumulations when step i is converted; the innermost loop
    # runs over the contiguous trailing axis.
    for b in range(values.shape[0]):
        for i in range(values.shape[1] - 1, -1, -1):
            rule = rules[i]
            for a in range(values.shape[2]):
                if rule == _DIFFERENCE:
                    rate = (np.float64(values[b, i, a]) - values[b, i - 1, a]) / seconds[i]
                elif rule == _SINCE_RESET:
                    rate = np.float64(values[b, i, a]) / seconds[i]
                else:
                    rate = np.nan
                if rate < 0:
                    rate = 0.0 if rate >= invalid_below else np.nan
                values[b, i, a] = rate
