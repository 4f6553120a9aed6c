"""asv benchmarks of the in-place transforms in :mod:`climaflow.reformat.transforms`.

asv re-runs ``setup`` before every timed call, so each call gets a fresh copy of its input;
the inputs themselves are generated once per process.
"""

from functools import cache

import numpy as np

from climaflow.reformat.transforms import deaccumulate_to_rates_inplace, round_to_mantissa_bits

ROUNDING_SIZE = 10_000_000
KEEP_MANTISSA_BITS = 7

# One GFS forecast: leads 0-120 h hourly then 123-384 h 3-hourly (209 steps) on a 1° grid.
LEAD_TIMES = np.concatenate([np.arange(0, 121), np.arange(123, 385, 3)]).astype("timedelta64[h]")
DEACCUMULATION_SHAPE = (1, LEAD_TIMES.size, 181, 360)
RESET_FREQUENCY = np.timedelta64(6, "h")


@cache
def rounding_input() -> np.ndarray:
    """Standard-normal float32, read-only so benchmarks must copy it."""
    values = np.random.default_rng(0).standard_normal(ROUNDING_SIZE, dtype=np.float32)
    values.flags.writeable = False
    return values


@cache
def deaccumulation_input() -> np.ndarray:
    """GFS-like precipitation accumulations (kg m-2) resetting every 6 h, read-only."""
    rng = np.random.default_rng(0)
    rates = rng.exponential(1e-4, DEACCUMULATION_SHAPE).astype(np.float32)  # kg m-2 s-1
    seconds = np.diff(LEAD_TIMES, prepend=LEAD_TIMES[:1]) / np.timedelta64(1, "s")
    accumulations = np.empty(DEACCUMULATION_SHAPE, dtype=np.float32)
    total = np.zeros(DEACCUMULATION_SHAPE[2:], dtype=np.float32)
    for i, lead_time in enumerate(LEAD_TIMES):
        total += rates[0, i] * np.float32(seconds[i])
        accumulations[0, i] = total
        if lead_time % RESET_FREQUENCY == np.timedelta64(0):
            total[...] = 0
    accumulations.flags.writeable = False
    return accumulations


class BinaryRounding:
    """Round 10 M float32 values to 7 mantissa bits."""

    def setup(self) -> None:
        self.values = rounding_input().copy()
        round_to_mantissa_bits(self.values[:16].copy(), KEEP_MANTISSA_BITS)  # load numba cache

    def time_round_to_mantissa_bits(self) -> None:
        round_to_mantissa_bits(self.values, KEEP_MANTISSA_BITS)

    def peakmem_round_to_mantissa_bits(self) -> None:
        round_to_mantissa_bits(self.values, KEEP_MANTISSA_BITS)


class Deaccumulation:
    """Deaccumulate a (1, 209, 181, 360) float32 GFS-like forecast along lead time."""

    def setup(self) -> None:
        self.values = deaccumulation_input().copy()
        deaccumulate_to_rates_inplace(  # load numba cache
            self.values[:, :, :1, :1].copy(),
            LEAD_TIMES,
            axis=1,
            reset_frequency=RESET_FREQUENCY,
        )

    def time_deaccumulate_to_rates_inplace(self) -> None:
        deaccumulate_to_rates_inplace(
            self.values, LEAD_TIMES, axis=1, reset_frequency=RESET_FREQUENCY
        )

    def peakmem_deaccumulate_to_rates_inplace(self) -> None:
        deaccumulate_to_rates_inplace(
            self.values, LEAD_TIMES, axis=1, reset_frequency=RESET_FREQUENCY
        )
