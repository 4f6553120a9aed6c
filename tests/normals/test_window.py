"""The one window arithmetic of normals, against hand-computed values."""

import numpy as np
import pytest

from climaflow.normals.window import window_mean

NAN = np.nan


@pytest.mark.parametrize(
    ("years", "min_years", "expected"),
    [
        # daily values, one per year; NaN is missing
        ([[1.0], [2.0], [3.0]], 3, [2.0]),
        ([[1.0], [NAN], [3.0]], 2, [2.0]),
        ([[1.0], [NAN], [3.0]], 3, [NAN]),
        ([[NAN], [NAN], [NAN]], 1, [NAN]),
        ([[1.0, 10.0], [3.0, NAN]], 1, [2.0, 10.0]),
        # no cancellation: a huge value is never subtracted from a sum
        ([[2.0**60], [256.0]], 1, [2.0**59 + 128.0]),
    ],
)
def test_window_mean_of_daily_values(years, min_years, expected):
    arrays = [(np.array(values, dtype=np.float32), None) for values in years]
    result = window_mean(arrays, min_years=min_years, dtype=np.float64)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(
    ("sums", "counts", "min_years", "expected"),
    [
        # per-year sums of several values per day: mean = total / number of values
        ([[6.0], [4.0]], [[3], [1]], 2, [2.5]),
        ([[6.0], [NAN]], [[3], [0]], 2, [NAN]),  # one valid year of the two needed
        ([[6.0], [NAN]], [[3], [0]], 1, [2.0]),
    ],
)
def test_window_mean_of_sums_and_counts(sums, counts, min_years, expected):
    arrays = [
        (np.array(s, dtype=np.float64), np.array(c, dtype=np.uint16))
        for s, c in zip(sums, counts, strict=True)
    ]
    result = window_mean(arrays, min_years=min_years, dtype=np.float64)
    np.testing.assert_array_equal(result, expected)


def test_window_mean_sums_in_float64_in_year_order():
    values = np.float32([16777216.0, 1.0, 1.0])  # 2**24 + 1 + 1 is exact only in float64
    result = window_mean([(np.array([v]), None) for v in values], min_years=3, dtype=np.float64)
    assert result[0] == (2**24 + 2) / 3


def test_years_of_other_shapes_are_refused():
    with pytest.raises(ValueError, match="shape"):
        window_mean([(np.zeros(3), None), (np.zeros(4), None)], min_years=1)
