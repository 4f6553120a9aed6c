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


def test_window_means_refuse_empty_windows_mixed_years_and_no_minimum():
    with pytest.raises(ValueError, match="at least one year"):
        window_means([(np.zeros(3), None)], [[]], min_years=1)
    with pytest.raises(ValueError, match="mixes"):
        window_mean([(np.zeros(3), None), (np.zeros(3), np.ones(3, np.uint16))], min_years=1)
    all_missing = [(np.full(3, np.nan, np.float32), None)] * 2
    with pytest.raises(ValueError, match="min_years must be at least 1, got 0"):
        window_mean(all_missing, min_years=0)


def _years_list(arrays):
    from numba.typed import List

    return List([np.ascontiguousarray(a, dtype=np.float32).ravel() for a in arrays])


SPANS = {
    # (low, high) magnitudes of the values; exact: sums of 30 are exact in float64
    "kelvin": (180.0, 330.0, True),
    "24 binary exponents apart (24 + log2(32) = 29)": (1.0, 2.0**24 * 1.5, True),
    "25 apart": (1.0, 2.0**25, False),
    "precipitation": (1e-12, 1e-3, False),
    "subnormals with small normals": (1e-45, 2.0**-103, True),
}


@pytest.mark.parametrize(("low", "high", "exact"), SPANS.values(), ids=SPANS)
def test_sliding_applies_exactly_where_float64_sums_are_exact(low, high, exact):
    """The kernel slides windows only where the values' exponents allow exact sums."""
    from climaflow.normals.window import _sums_are_exact

    values = np.float32([low, high, 0.0, -0.0, np.nan, -low])
    used = np.ones(1, dtype=np.bool_)
    assert _sums_are_exact(_years_list([values]), used, 0, values.size, 30) is exact
    with_inf = np.append(values, np.float32(np.inf))
    assert not _sums_are_exact(_years_list([with_inf]), used, 0, with_inf.size, 30)
    only_inf = np.float32([np.inf, -np.inf, np.nan])
    assert not _sums_are_exact(_years_list([only_inf]), used, 0, only_inf.size, 1)


def _assert_bits_equal_each_window_alone(years, windows, dtype=np.float32):
    bits = np.uint64 if np.dtype(dtype).itemsize == 8 else np.uint32
    means = window_means(years, windows, min_years=1, dtype=dtype)
    for mean, window in zip(means, windows, strict=True):
        alone = window_mean([years[k] for k in window], min_years=1, dtype=dtype)
        np.testing.assert_array_equal(mean.view(bits), alone.view(bits))


def _column(*values):
    return [(np.float32([value]), None) for value in values]


EDGE_CASES = {
    # infinity-only blocks: sliding would give inf - inf = NaN
    "infinities": (_column(np.inf, np.inf), [[0], [1]], np.float32),
    "an infinity and a huge value": (_column(np.inf, 1e30), [[0], [1]], np.float32),
    # 2**31 + (1 + 2**-23) rounds in float64: a slide would keep the lost bits' error
    "a sum that rounds": (_column(2.0**31, 1 + 2.0**-23, 0.0), [[0, 1], [1, 2]], np.float32),
    # an exponent span of 28: exact for windows of 2, not for the windows of 4 used here
    "the span of the longest window": (
        _column(536870880.0, 1.5000001192092896, 268435520.0, 402653216.0, -268435520.0),
        [[0, 1, 2, 3], [1, 2, 3, 4]],
        np.float64,
    ),
}


@pytest.mark.parametrize(("years", "windows", "dtype"), EDGE_CASES.values(), ids=EDGE_CASES)
def test_windows_are_not_slid_where_that_is_inexact(years, windows, dtype):
    _assert_bits_equal_each_window_alone(years, windows, dtype)


WINDOW_SETS = {
    "consecutive": [list(range(k, k + 30)) for k in range(10)],
    "gaps and reentries": [[0, 2, 4, 6], [1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7], [7], [3, 5, 7]],
    "identical": [[0, 1, 2], [0, 1, 2]],
}

DATA = {
    "kelvin with NaN, zeros and -0": lambda rng, shape: rng.normal(280, 30, shape),
    "exponent span at the limit": lambda rng, shape: np.where(
        rng.random(shape) < 0.5, rng.uniform(1, 2, shape), rng.uniform(2.0**24, 2.0**25, shape)
    ),
    "exponent span just over the limit": lambda rng, shape: np.where(
        rng.random(shape) < 0.5, rng.uniform(1, 2, shape), rng.uniform(2.0**25, 2.0**26, shape)
    ),
    "precipitation": lambda rng, shape: rng.exponential(1e-5, shape) * (rng.random(shape) < 0.6),
    "an infinity": lambda rng, shape: np.where(
        np.arange(shape[0] * shape[1]).reshape(shape) == 7, np.inf, rng.normal(280, 30, shape)
    ),
}


@pytest.mark.parametrize("windows", WINDOW_SETS.values(), ids=WINDOW_SETS)
@pytest.mark.parametrize("make", DATA.values(), ids=DATA)
def test_slid_windows_equal_windows_summed_afresh_bit_for_bit(windows, make):
    """Whatever the kernel does per block, each mean equals the ascending sum's (one window
    alone is always summed afresh) and, where the sums are exact, the correctly rounded one."""
    import math

    rng = np.random.default_rng(7)
    n_years = max(max(window) for window in windows) + 1
    shape = (3, 1500)  # more than one block of the kernel
    years = []
    for _ in range(n_years):
        values = make(rng, shape).astype(np.float32)
        values[rng.random(shape) < 0.1] = np.nan
        values[rng.random(shape) < 0.02] = 0.0
        values[rng.random(shape) < 0.02] = -0.0
        years.append((values, None))
    for dtype in (np.float32, np.float64):
        _assert_bits_equal_each_window_alone(years, windows, dtype)
    means = window_means(years, windows, min_years=1)
    if make is DATA["kelvin with NaN, zeros and -0"]:
        window = windows[-1]
        stacked = np.stack([years[k][0] for k in window]).reshape(len(window), -1)
        for cell in range(0, stacked.shape[1], 97):
            valid = [float(v) for v in stacked[:, cell] if not np.isnan(v)]
            expected = np.float32(math.fsum(valid) / len(valid)) if valid else np.nan
            np.testing.assert_array_equal(means[-1].ravel()[cell], expected)
