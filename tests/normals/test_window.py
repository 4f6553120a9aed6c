"""The one window arithmetic of normals, against hand-computed values."""

import numpy as np
import pytest

from climaflow.normals.window import window_mean, window_means

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


@pytest.mark.parametrize(
    "windows",
    [[[0, 1, 2]], [[0, 1, 2], [1, 2, 3], [2, 3, 4]], [[0, 2, 4], [1, 3]], [[4], [0, 1, 2, 3, 4]]],
    ids=["one", "consecutive", "with gaps", "one year and all"],
)
@pytest.mark.parametrize("kind", ["values", "sums"])
def test_window_means_equal_each_window_alone(windows, kind):
    """Several windows in one pass give, bit for bit, what each window gives alone, on arrays
    longer than one block of the kernel and with NaN and empty days."""
    rng = np.random.default_rng(3)
    shape = (5, 1000)
    years = []
    for _ in range(5):
        values = rng.normal(280, 30, shape).astype(np.float32)
        values[rng.random(shape) < 0.2] = np.nan
        if kind == "values":
            years.append((values, None))
        else:
            counts = rng.integers(0, 4, shape).astype(np.uint16)
            years.append((np.where(counts > 0, values * counts, np.nan), counts))
    means = window_means(years, windows, min_years=2)
    assert means.shape == (len(windows), *shape)
    for mean, window in zip(means, windows, strict=True):
        alone = window_mean([years[k] for k in window], min_years=2)
        np.testing.assert_array_equal(mean, alone)
        if kind == "values":
            stacked = np.stack([years[k][0] for k in window]).astype(np.float64)
            valid = np.isfinite(stacked).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                reference = np.where(valid >= 2, np.nansum(stacked, axis=0) / valid, np.nan)
            np.testing.assert_allclose(mean, reference.astype(np.float32), rtol=1e-6)


def test_window_means_refuse_empty_windows_and_mixed_years():
    with pytest.raises(ValueError, match="at least one year"):
        window_means([(np.zeros(3), None)], [[]], min_years=1)
    with pytest.raises(ValueError, match="mixes"):
        window_mean([(np.zeros(3), None), (np.zeros(3), np.ones(3, np.uint16))], min_years=1)
