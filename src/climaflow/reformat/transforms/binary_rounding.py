"""Binary rounding: keep only the leading bits of a float's mantissa so the data compresses better.

This is the "bitround" operation of Klöwer et al. (2021), as implemented by the ``BitRound``
codec of numcodecs (which xbitinfo uses): the IEEE 754 bit pattern is rounded half to even
to ``keep_mantissa_bits`` explicit mantissa bits and the dropped bits are zeroed. Unlike that
codec, this function works in place, leaves NaN payloads untouched and needs no temporary
array.
"""

import math
import operator
from typing import Final, TypeVar

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["max_relative_error", "round_to_mantissa_bits"]

FloatT = TypeVar("FloatT", np.float32, np.float64)

# Explicit mantissa (fraction) bits and the same-width unsigned integer of each float dtype.
_MANTISSA_BITS: Final[dict[np.dtype[np.floating], int]] = {
    np.dtype(np.float32): 23,
    np.dtype(np.float64): 52,
}
_UINT_DTYPES: Final[dict[np.dtype[np.floating], np.dtype[np.unsignedinteger]]] = {
    np.dtype(np.float32): np.dtype(np.uint32),
    np.dtype(np.float64): np.dtype(np.uint64),
}


def round_to_mantissa_bits(
    values: npt.NDArray[FloatT], keep_mantissa_bits: int
) -> npt.NDArray[FloatT]:
    """Round ``values`` in place to ``keep_mantissa_bits`` explicit mantissa bits.

    The bit pattern of each element is rounded half to even at bit ``keep_mantissa_bits`` of
    the mantissa, counting from its most significant bit, and the lower mantissa bits are
    set to zero. The result is exact: it is the float with at most ``keep_mantissa_bits``
    significant fraction bits that is nearest to the input, ties going to the one whose last
    kept bit is 0.

    Parameters
    ----------
    values : numpy.ndarray of float32 or float64
        Writable array in native byte order, of any shape and memory layout. It is modified
        in place.
    keep_mantissa_bits : int
        Number of explicit mantissa bits to keep: 0 to 23 for float32, 0 to 52 for float64.
        Keeping all of them leaves ``values`` unchanged.

    Returns
    -------
    numpy.ndarray
        ``values`` itself (not a copy), rounded.

    Raises
    ------
    TypeError
        If ``values`` is not float32 or float64 in native byte order.
    ValueError
        If ``values`` is read-only or ``keep_mantissa_bits`` is outside the range allowed
        for the dtype.

    Notes
    -----
    * NaN (with its sign and payload) and ±inf are left unchanged; ±0 stay ±0.
    * A finite value whose rounded magnitude would exceed the largest finite float becomes
      ±inf, as with numcodecs' ``BitRound`` codec and xbitinfo: the carry out of the mantissa
      propagates into the exponent. For float32 with ``keep_mantissa_bits=N`` this happens
      from ``(2 - 2**-(N + 1)) * 2**127`` upwards.
    * Subnormal values are rounded on the same bit positions, so their absolute error is at
      most half a unit in the last kept place of the smallest normal exponent; their relative
      error is not bounded by :func:`max_relative_error`. A subnormal may round up to the
      smallest normal number.
    * The kernel is compiled with numba and makes a single pass over memory, processing any
      memory layout through :class:`numpy.nditer` without copying.

    Examples
    --------
    >>> x = np.array([1.0, 1.3, -3.14159, np.nan], dtype=np.float32)
    >>> round_to_mantissa_bits(x, 2)
    array([ 1.  ,  1.25, -3.  ,   nan], dtype=float32)
    """
    dtype = values.dtype
    if dtype not in _MANTISSA_BITS:
        raise TypeError(
            f"values must be float32 or float64 in native byte order, got dtype {dtype.str!r}"
        )
    if not values.flags.writeable:
        raise ValueError("values must be writable: it is rounded in place")
    mantissa_bits = _MANTISSA_BITS[dtype]
    keep_mantissa_bits = operator.index(keep_mantissa_bits)
    if not 0 <= keep_mantissa_bits <= mantissa_bits:
        raise ValueError(
            f"keep_mantissa_bits must be between 0 and {mantissa_bits} for {dtype}, "
            f"got {keep_mantissa_bits}"
        )
    if keep_mantissa_bits == mantissa_bits:
        return values

    uint = _UINT_DTYPES[dtype].type
    drop_bits = mantissa_bits - keep_mantissa_bits
    all_ones = (1 << (8 * dtype.itemsize)) - 1
    keep_mask = uint(all_ones ^ ((1 << drop_bits) - 1))
    half_minus_one = uint((1 << (drop_bits - 1)) - 1)
    exponent_bits = 8 * dtype.itemsize - 1 - mantissa_bits
    exponent_mask = uint(((1 << exponent_bits) - 1) << mantissa_bits)

    bits = values.view(_UINT_DTYPES[dtype])
    with np.nditer(
        bits, flags=["external_loop", "zerosize_ok"], op_flags=["readwrite"], order="K"
    ) as chunks:
        # With one operand, nditer yields that operand's chunk; numpy's stub says a tuple.
        for chunk in chunks:
            _round_bits(
                chunk,  # type: ignore[arg-type]
                uint(drop_bits),
                keep_mask,
                half_minus_one,
                exponent_mask,
                uint(1),
            )
    return values


def max_relative_error(keep_mantissa_bits: int) -> float:
    """Upper bound of the relative error of :func:`round_to_mantissa_bits`.

    Round to nearest with ``N`` kept mantissa bits moves a value by at most half a unit in
    its last kept place, ``2**(e - N - 1)`` for a value ``x`` with ``2**e <= |x| < 2**(e + 1)``,
    so ``|round(x) - x| <= 2**-(N + 1) * |x|``.

    Parameters
    ----------
    keep_mantissa_bits : int
        Number of explicit mantissa bits kept, ``N >= 0``.

    Returns
    -------
    float
        ``2**-(N + 1)``. The bound holds for float32 and float64 normal numbers whose rounded
        value is finite; it does not hold for subnormals or values that round to ±inf.

    Raises
    ------
    ValueError
        If ``keep_mantissa_bits`` is negative.
    """
    keep_mantissa_bits = operator.index(keep_mantissa_bits)
    if keep_mantissa_bits < 0:
        raise ValueError(f"keep_mantissa_bits must be >= 0, got {keep_mantissa_bits}")
    return math.ldexp(1.0, -(keep_mantissa_bits + 1))


@numba.njit(parallel=False, cache=True)
def _round_bits(
    bits: npt.NDArray[np.unsignedinteger],
    drop_bits: np.unsignedinteger,
    keep_mask: np.unsignedinteger,
    half_minus_one: np.unsignedinteger,
    exponent_mask: np.unsignedinteger,
    one: np.unsignedinteger,
) -> None:
    # ``bits`` is a 1-D unsigned view of the floats and every scalar has its dtype, so numba
    # never promotes to a signed or float type. Adding half a unit in the last kept place,
    # minus one unless the last kept bit is odd, then truncating, is round half to even on the
    # magnitude; a carry into the exponent is the correct next binade (or inf). Skipping
    # patterns with an all-ones exponent keeps NaN and inf unchanged.
    for i in range(bits.size):
        b = bits[i]
        if b & exponent_mask != exponent_mask:
            bits[i] = (b + ((b >> drop_bits) & one) + half_minus_one) & keep_mask
