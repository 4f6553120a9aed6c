"""Fill values that no attribute declares: which values count, and how many were masked."""

import numpy as np
import pytest

from climaflow.fills import mask_undeclared_fills, undeclared_fill_mask


@pytest.mark.parametrize(
    ("value", "is_fill"),
    [
        (1e20, True),  # CMIP's missing value
        (-1e20, True),
        (9.96921e36, True),  # netCDF's default float fill
        (np.inf, True),
        (-np.inf, True),
        (np.nan, False),  # missing already
        (9.99e19, False),
        (250.0, False),
        (0.0, False),
    ],
)
def test_which_values_are_fills(value, is_fill):
    assert undeclared_fill_mask(np.float32([value]))[0] == is_fill


def test_masking_sets_fills_to_nan_in_place_and_counts_them():
    values = np.float32([250.0, 1e20, np.nan, 9.96921e36, 260.0])
    assert mask_undeclared_fills(values) == 2
    np.testing.assert_array_equal(values, np.float32([250.0, np.nan, np.nan, np.nan, 260.0]))
    assert mask_undeclared_fills(values) == 0


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masking_in_place_agrees_with_the_mask(layout, dtype):
    """Contiguous arrays are masked in one compiled pass, others by the mask: same result."""
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1e20, (6, 50)).astype(dtype)
    values[0, :5] = [np.nan, np.inf, -np.inf, 1e20, -1e20]
    target = values if layout == "contiguous" else values[:, ::2]
    expected = np.where(undeclared_fill_mask(target), np.nan, target)
    count = int(undeclared_fill_mask(target).sum())
    assert mask_undeclared_fills(target) == count > 5
    np.testing.assert_array_equal(target, expected)
