from collections.abc import Callable

import numcodecs
import numpy as np
import pytest

from climaflow.reformat.transforms import max_relative_error, round_to_mantissa_bits

# (input bit pattern, keep_mantissa_bits, expected bit pattern), worked out by hand on the
# IEEE 754 binary32 layout: sign | 8 exponent bits | 23 mantissa bits.
FLOAT32_CASES = [
    pytest.param(0x3F800000, 0, 0x3F800000, id="1.0 is exact with any keep"),
    pytest.param(0x3F800001, 23, 0x3F800001, id="keep all 23 bits: unchanged"),
    pytest.param(0x3F800001, 22, 0x3F800000, id="1+2^-23 halfway, kept lsb even: down"),
    pytest.param(0x3F800003, 22, 0x3F800004, id="1+3*2^-23 halfway, kept lsb odd: up"),
    pytest.param(0x3F900000, 2, 0x3F800000, id="1.125 halfway 1.0/1.25: even 1.0"),
    pytest.param(0x3FB00000, 2, 0x3FC00000, id="1.375 halfway 1.25/1.5: even 1.5"),
    pytest.param(0x3FA66666, 2, 0x3FA00000, id="1.3 below half: 1.25"),
    pytest.param(0x3FB33333, 2, 0x3FC00000, id="1.4 above half: 1.5"),
    pytest.param(0xBFB00000, 2, 0xBFC00000, id="-1.375: -1.5"),
    pytest.param(0xBF900000, 2, 0xBF800000, id="-1.125: -1.0"),
    pytest.param(0x3FF00000, 2, 0x40000000, id="1.875: carry into exponent, 2.0"),
    pytest.param(0x3FC00000, 0, 0x40000000, id="keep 0: 1.5 halfway, odd exponent: 2.0"),
    pytest.param(0x40400000, 0, 0x40000000, id="keep 0: 3.0 halfway, even exponent: 2.0"),
    pytest.param(0x7F7FEFFF, 10, 0x7F7FE000, id="below half under max: largest 10-bit float"),
    pytest.param(0x7F7FF000, 10, 0x7F800000, id="halfway above largest 10-bit float: inf"),
    pytest.param(0x7F7FFFFF, 10, 0x7F800000, id="max finite float32: inf"),
    pytest.param(0xFF7FFFFF, 10, 0xFF800000, id="-max finite float32: -inf"),
    pytest.param(0x00000001, 22, 0x00000000, id="smallest subnormal halfway: 0"),
    pytest.param(0x00000003, 22, 0x00000004, id="subnormal 3 halfway: 4"),
    pytest.param(0x00400000, 0, 0x00000000, id="subnormal 2^-127 keep 0: halfway, 0"),
    pytest.param(0x00400001, 0, 0x00800000, id="subnormal above half keep 0: smallest normal"),
    pytest.param(0x007FFFFF, 10, 0x00800000, id="largest subnormal: smallest normal"),
    pytest.param(0x80000001, 22, 0x80000000, id="negative subnormal: -0"),
    pytest.param(0x00000000, 0, 0x00000000, id="+0"),
    pytest.param(0x80000000, 0, 0x80000000, id="-0"),
    pytest.param(0x7F800000, 0, 0x7F800000, id="inf"),
    pytest.param(0xFF800000, 5, 0xFF800000, id="-inf"),
    pytest.param(0x7FC00000, 0, 0x7FC00000, id="quiet NaN keep 0 (numcodecs gives inf)"),
    pytest.param(0x7F800001, 10, 0x7F800001, id="NaN payload 1 kept"),
    pytest.param(0xFFFFFFFF, 3, 0xFFFFFFFF, id="negative NaN full payload kept"),
]

FLOAT64_CASES = [
    pytest.param(0x3FF0000000000001, 51, 0x3FF0000000000000, id="1+2^-52 halfway: down"),
    pytest.param(0x3FF0000000000003, 51, 0x3FF0000000000004, id="1+3*2^-52 halfway: up"),
    pytest.param(0x3FF6000000000000, 2, 0x3FF8000000000000, id="1.375: 1.5"),
    pytest.param(0xBFF2000000000000, 2, 0xBFF0000000000000, id="-1.125: -1.0"),
    pytest.param(0x3FF0000000000001, 52, 0x3FF0000000000001, id="keep all 52 bits"),
    pytest.param(0x7FEFFFFFFFFFFFFF, 10, 0x7FF0000000000000, id="max finite float64: inf"),
    pytest.param(0x0000000000000003, 51, 0x0000000000000004, id="subnormal 3: 4"),
    pytest.param(0x7FF8000000000000, 0, 0x7FF8000000000000, id="NaN keep 0"),
    pytest.param(0x7FF0000000000001, 20, 0x7FF0000000000001, id="NaN payload 1"),
    pytest.param(0xFFF0000000000000, 20, 0xFFF0000000000000, id="-inf"),
]


@pytest.mark.parametrize(("bits_in", "keep", "bits_out"), FLOAT32_CASES)
def test_float32_bit_patterns(bits_in: int, keep: int, bits_out: int) -> None:
    values = np.array([bits_in], dtype=np.uint32).view(np.float32)
    result = round_to_mantissa_bits(values, keep)
    assert result is values
    assert f"{result.view(np.uint32)[0]:08X}" == f"{bits_out:08X}"


@pytest.mark.parametrize(("bits_in", "keep", "bits_out"), FLOAT64_CASES)
def test_float64_bit_patterns(bits_in: int, keep: int, bits_out: int) -> None:
    values = np.array([bits_in], dtype=np.uint64).view(np.float64)
    result = round_to_mantissa_bits(values, keep)
    assert result is values
    assert f"{result.view(np.uint64)[0]:016X}" == f"{bits_out:016X}"


def _random_normal_float32(size: int, seed: int) -> np.ndarray:
    """Finite normal float32 of both signs spread over every binade that cannot overflow."""
    rng = np.random.default_rng(seed)
    sign = rng.integers(0, 2, size, dtype=np.uint32) << 31
    exponent = rng.integers(1, 254, size, dtype=np.uint32) << 23
    mantissa = rng.integers(0, 1 << 23, size, dtype=np.uint32)
    return (sign | exponent | mantissa).view(np.float32)


@pytest.mark.parametrize("keep", [0, 1, 5, 10, 22])
def test_relative_error_bound_and_idempotence(keep: int) -> None:
    original = _random_normal_float32(100_000, seed=keep)
    rounded = round_to_mantissa_bits(original.copy(), keep)

    relative_error = np.abs(rounded.astype(np.float64) - original) / np.abs(original)
    assert relative_error.max() <= max_relative_error(keep)
    dropped = (1 << (23 - keep)) - 1
    assert not (rounded.view(np.uint32) & dropped).any()

    again = round_to_mantissa_bits(rounded.copy(), keep)
    np.testing.assert_array_equal(again.view(np.uint32), rounded.view(np.uint32))


@pytest.mark.parametrize("keep", [0, 3, 12, 22])
def test_matches_numcodecs_bitround_on_finite_values(keep: int) -> None:
    original = _random_normal_float32(100_000, seed=100 + keep)
    expected = numcodecs.BitRound(keepbits=keep).encode(original).view(np.uint32)
    rounded = round_to_mantissa_bits(original.copy(), keep)
    np.testing.assert_array_equal(rounded.view(np.uint32), expected)


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda a: a, id="C"),
        pytest.param(np.asfortranarray, id="F"),
        pytest.param(lambda a: a.transpose(2, 0, 1), id="transposed"),
        pytest.param(lambda a: a[:, ::2, 1:], id="strided"),
    ],
)
def test_any_layout_is_rounded_in_place(layout: Callable[[np.ndarray], np.ndarray]) -> None:
    base = _random_normal_float32(4 * 6 * 5, seed=7).reshape(4, 6, 5)
    values = layout(base.copy())
    expected = round_to_mantissa_bits(np.ascontiguousarray(values), 4)
    result = round_to_mantissa_bits(values, 4)
    assert result is values
    np.testing.assert_array_equal(result.view(np.uint32), expected.view(np.uint32))


def test_only_the_view_is_modified() -> None:
    base = np.full(6, 1.3, dtype=np.float32)
    round_to_mantissa_bits(base[::2], 2)
    np.testing.assert_array_equal(base, np.array([1.25, 1.3, 1.25, 1.3, 1.25, 1.3], np.float32))


def test_empty_array() -> None:
    values = np.empty((0, 3), dtype=np.float32)
    assert round_to_mantissa_bits(values, 3) is values


@pytest.mark.parametrize(
    ("dtype", "keep"),
    [(np.float32, -1), (np.float32, 24), (np.float64, -1), (np.float64, 53)],
)
def test_keep_mantissa_bits_out_of_range(dtype: type, keep: int) -> None:
    with pytest.raises(ValueError, match="keep_mantissa_bits"):
        round_to_mantissa_bits(np.ones(3, dtype=dtype), keep)


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.dtype(">f4")])
def test_unsupported_dtype(dtype: type) -> None:
    with pytest.raises(TypeError, match="float32 or float64"):
        round_to_mantissa_bits(np.ones(3, dtype=dtype), 3)


def test_read_only_array() -> None:
    with pytest.raises(ValueError, match="writable"):
        round_to_mantissa_bits(np.frombuffer(bytes(12), dtype=np.float32), 3)


@pytest.mark.parametrize(("keep", "bound"), [(0, 0.5), (1, 0.25), (7, 2.0**-8), (23, 2.0**-24)])
def test_max_relative_error(keep: int, bound: float) -> None:
    assert max_relative_error(keep) == bound


def test_max_relative_error_negative() -> None:
    with pytest.raises(ValueError, match="keep_mantissa_bits"):
        max_relative_error(-1)
