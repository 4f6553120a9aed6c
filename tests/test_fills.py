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
