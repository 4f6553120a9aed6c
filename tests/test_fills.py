"""Fill values: declared ones masked as xarray decodes them, undeclared ones counted."""

import numpy as np
import pytest

from climaflow.fills import mask_declared_fills, mask_undeclared_fills, undeclared_fill_mask


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


DECLARED = {
    "float32 fill in float32": (np.float32, [np.float32(-999.0)]),
    "float64 fill equal in float32": (np.float32, [np.float64(1e20)]),
    "float64 fill, other in float32": (np.float32, [np.float64(0.1)]),
    "fill and missing value": (np.float32, [np.float32(-999.0), np.float32(-888.0)]),
    "NaN fill": (np.float32, [np.float32(np.nan)]),
    "float64 data": (np.float64, [np.float64(-999.0)]),
}


@pytest.mark.parametrize(("dtype", "fills"), DECLARED.values(), ids=DECLARED)
def test_declared_fills_are_masked_as_xarray_decodes_them(dtype, fills):
    """Equal to numpy's ``values == fill`` for each fill (xarray's CF decoding), in place."""
    values = np.array([250.0, -999.0, 1e20, 0.1, -888.0, np.nan], dtype=dtype)
    expected = values.copy()
    for fill in fills:
        expected[values == fill] = np.nan
    masked = values.copy()
    mask_declared_fills(masked, fills)
    np.testing.assert_array_equal(masked, expected)
    with pytest.raises(ValueError, match="C-contiguous"):
        mask_declared_fills(values.reshape(2, 3)[:, ::2], fills)


def test_a_float64_fill_not_exact_in_float32_masks_nothing():
    values = np.float32([0.1, 1e20])
    mask_declared_fills(values, [np.float64(0.1)])
    assert not np.isnan(values).any()
