"""In-place numeric kernels applied to a variable's processing region before it is written."""

from climaflow.reformat.transforms.binary_rounding import max_relative_error, round_to_mantissa_bits
from climaflow.reformat.transforms.deaccumulation import deaccumulate_to_rates_inplace
from climaflow.reformat.transforms.interpolation import linear_interpolate_missing_inplace

__all__ = [
    "deaccumulate_to_rates_inplace",
    "linear_interpolate_missing_inplace",
    "max_relative_error",
    "round_to_mantissa_bits",
]
