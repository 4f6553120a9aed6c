"""Throughput of climaflow's binary rounding against plain-numpy bit twiddling, in one run.

Run from the project root::

    .venv/bin/python benchmarks/compare_binary_rounding.py [--size 100000000] [--keep 7]

Both versions round the same standard-normal float32 array in place; each timing is the best
of ``--repeat`` runs on a fresh copy (the copy is not timed). Extra memory is the peak of
numpy allocations during one call, traced by :mod:`tracemalloc` in a separate, untimed call.
The results are checked to be bit-identical (the data holds no NaN, which plain numpy would
corrupt).
"""

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from climaflow.reformat.transforms import round_to_mantissa_bits

RoundFunction = Callable[[np.ndarray, int], np.ndarray]


def plain_numpy_round(values: np.ndarray, keep_mantissa_bits: int) -> np.ndarray:
    """Round half to even on the float32 bit pattern with whole-array numpy operations."""
    drop_bits = 23 - keep_mantissa_bits
    bits = values.view(np.uint32)
    half_minus_one = np.uint32((1 << (drop_bits - 1)) - 1)
    bits += ((bits >> np.uint32(drop_bits)) & np.uint32(1)) + half_minus_one
    bits &= np.uint32(0xFFFFFFFF ^ ((1 << drop_bits) - 1))
    return values


def best_time(function: RoundFunction, original: np.ndarray, keep: int, repeat: int) -> float:
    """Best wall time in seconds of ``function`` over ``repeat`` fresh copies of ``original``."""
    times = []
    for _ in range(repeat):
        values = original.copy()
        start = time.perf_counter()
        function(values, keep)
        times.append(time.perf_counter() - start)
    return min(times)


def peak_extra_bytes(function: RoundFunction, original: np.ndarray, keep: int) -> int:
    """Peak bytes numpy allocates during one call of ``function`` on a copy of ``original``."""
    values = original.copy()
    tracemalloc.start()
    try:
        function(values, keep)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000_000, help="float32 elements")
    parser.add_argument("--keep", type=int, default=7, help="mantissa bits kept")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per version")
    args = parser.parse_args()

    original = np.random.default_rng(0).standard_normal(args.size, dtype=np.float32)
    round_to_mantissa_bits(original[:16].copy(), args.keep)  # compile or load numba's cache

    versions: dict[str, RoundFunction] = {
        "climaflow round_to_mantissa_bits": round_to_mantissa_bits,
        "plain numpy bit twiddling": plain_numpy_round,
    }
    expected = plain_numpy_round(original.copy(), args.keep).view(np.uint32)
    actual = round_to_mantissa_bits(original.copy(), args.keep).view(np.uint32)
    if not np.array_equal(actual, expected):
        raise SystemExit("results differ")
    del expected, actual

    print(
        f"{args.size:,} float32 ({original.nbytes / 1e6:,.0f} MB), keep {args.keep} bits, "
        f"best of {args.repeat}, numpy {np.__version__}"
    )
    seconds = {}
    for name, function in versions.items():
        seconds[name] = best_time(function, original, args.keep, args.repeat)
        extra = peak_extra_bytes(function, original, args.keep)
        print(
            f"{name:34s} {seconds[name] * 1e3:8.1f} ms  "
            f"{args.size / seconds[name] / 1e6:8.0f} M elements/s  "
            f"{original.nbytes / seconds[name] / 1e9:6.2f} GB/s  "
            f"peak extra memory {extra / 1e6:6.0f} MB"
        )
    speed_up = seconds["plain numpy bit twiddling"] / seconds["climaflow round_to_mantissa_bits"]
    print(f"climaflow is {speed_up:.2f}x as fast as plain numpy")


if __name__ == "__main__":
    main()
