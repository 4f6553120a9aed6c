import numpy as np
import pytest

from climaflow.reformat.transforms import linear_interpolate_missing_inplace

NAN = np.nan

# (coords, values, missing, expected), computed by hand.
CASES_1D = [
    pytest.param([0, 1, 2], [2, NAN, 6], None, [2, 4, 6], id="midpoint"),
    pytest.param([0, 1, 4], [2, NAN, 8], None, [2, 3.5, 8], id="unequal spacing, weight 1/4"),
    pytest.param([0.0, 0.5, 2.0], [1, NAN, 4], None, [1, 1.75, 4], id="float coords"),
    pytest.param([0, 1, 2, 3], [0, NAN, NAN, 6], None, [0, 2, 4, 6], id="consecutive gap"),
    pytest.param(
        [0, 1, 2, 4, 5, 6],
        [NAN, 1, NAN, NAN, 9, NAN],
        None,
        [NAN, 1, 3, 7, 9, NAN],
        id="leading, inner unequal and trailing gaps",
    ),
    pytest.param(
        [0, 1, 2, 3, 4],
        [NAN, NAN, 2, NAN, NAN],
        None,
        [NAN, NAN, 2, NAN, NAN],
        id="one valid step: nothing to interpolate",
    ),
    pytest.param([0, 1, 2], [NAN, NAN, NAN], None, [NAN, NAN, NAN], id="all missing"),
    pytest.param([0, 1, 2], [1, 2, 3], None, [1, 2, 3], id="nothing missing"),
    pytest.param(
        [0, 1, 2], [0, 99, 4], [False, True, False], [0, 2, 4], id="mask overrides a value"
    ),
    pytest.param(
        [0, 1, 2, 3],
        [5, 1, NAN, 3],
        [True, False, False, True],
        [NAN, 1, NAN, NAN],
        id="masked ends become NaN, unmasked NaN is kept",
    ),
    pytest.param(
        np.array(["2024-01-01T00", "2024-01-01T01", "2024-01-01T03"], dtype="M8[h]"),
        [0, NAN, 3],
        None,
        [0, 1, 3],
        id="datetime64, weight 1/3",
    ),
    pytest.param(
        np.array([0, 90, 360], dtype="m8[m]").astype("m8[ns]"),
        [8, NAN, 0],
        None,
        [8, 6, 0],
        id="timedelta64 ns, weight 1/4",
    ),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("coords", "values", "missing", "expected"), CASES_1D)
def test_interpolate_1d(
    coords: list[float] | np.ndarray,
    values: list[float],
    missing: list[bool] | None,
    expected: list[float],
    dtype: type,
) -> None:
    array = np.array(values, dtype=dtype)
    result = linear_interpolate_missing_inplace(
        array,
        np.asarray(coords),
        axis=0,
        missing=None if missing is None else np.array(missing),
    )
    assert result is array
    np.testing.assert_array_equal(result, np.array(expected, dtype=dtype))


def test_multidimensional_along_axis_1() -> None:
    # (init_time=2, lead_time=4, point=2) at lead times 0, 1, 3, 4 h. Step 1 is all NaN, so it
    # is filled with step 0 + 1/3 * (step 2 - step 0); step 2 has one NaN point and is kept.
    values = np.array(
        [
            [[0, 10], [NAN, NAN], [6, NAN], [8, 40]],
            [[4, NAN], [NAN, NAN], [1, 2], [0, 0]],
        ],
        dtype=np.float32,
    )
    expected = np.array(
        [
            [[0, 10], [2, NAN], [6, NAN], [8, 40]],
            [[4, NAN], [3, NAN], [1, 2], [0, 0]],
        ],
        dtype=np.float32,
    )
    result = linear_interpolate_missing_inplace(values, np.array([0, 1, 3, 4]), axis=-2)
    assert result is values
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_line_is_reproduced_along_any_axis_of_a_fortran_array(axis: int) -> None:
    coords = np.array([0.0, 1.0, 3.0, 4.0, 8.0])
    line_shape = [1, 1, 1]
    line_shape[axis] = coords.size
    full_shape = [3, 2, 4]
    full_shape[axis] = coords.size
    line = (2 * coords - 1).reshape(line_shape)  # -1, 1, 5, 7, 15
    expected = np.asfortranarray(np.broadcast_to(line, full_shape), dtype=np.float32)
    values = expected.copy(order="F")
    np.moveaxis(values, axis, 0)[[1, 3]] = np.nan

    linear_interpolate_missing_inplace(values, coords, axis=axis)
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize(
    ("values", "coords", "missing", "error", "match"),
    [
        (np.zeros(3, np.int64), np.arange(3), None, TypeError, "float32 or float64"),
        (np.frombuffer(bytes(24)), np.arange(3), None, ValueError, "writable"),
        (np.zeros(3), np.array(["a", "b", "c"]), None, TypeError, "numeric, datetime64"),
        (np.zeros(3), np.arange(2), None, ValueError, "1-D with values.shape"),
        (np.zeros(3), np.array([0, 2, 1]), None, ValueError, "strictly increasing"),
        (np.zeros(3), np.array([0, 1, 1]), None, ValueError, "strictly increasing"),
        (np.zeros(3), np.array([0, NAN, 2]), None, ValueError, "strictly increasing"),
        (
            np.zeros(2),
            np.array(["2024-01-01", "NaT"], "M8[D]"),
            None,
            ValueError,
            "strictly increasing",
        ),
        (np.zeros(3), np.arange(3), np.array([0, 1, 0]), TypeError, "boolean"),
        (np.zeros(3), np.arange(3), np.array([True, False]), ValueError, "missing must have"),
    ],
)
def test_invalid_arguments(
    values: np.ndarray,
    coords: np.ndarray,
    missing: np.ndarray | None,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        linear_interpolate_missing_inplace(values, coords, axis=0, missing=missing)


def test_axis_out_of_range() -> None:
    with pytest.raises(np.exceptions.AxisError):
        linear_interpolate_missing_inplace(np.zeros((2, 3)), np.arange(3), axis=2)
