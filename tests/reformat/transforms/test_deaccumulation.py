from collections.abc import Callable
from pathlib import Path

import eccodes
import numpy as np
import pytest

from climaflow.reformat.transforms import deaccumulate_to_rates_inplace

NAN = np.nan
H = 3600  # accumulations below are written in "rate x hours" so the expected rates are integers
SIX_HOURS = np.timedelta64(6, "h")


def _hours(*hours: int) -> np.ndarray:
    return np.array(hours, dtype="timedelta64[h]")


# (times, reset_frequency, accumulations, expected rates per second), computed by hand.
CASES = [
    pytest.param(
        _hours(*range(13)),
        SIX_HOURS,
        # 0-1 .. 0-6 h totals, then 6-7 .. 6-12 h totals, as in GFS f001..f012
        [0, 1, 2, 5, 5, 6, 10, 1, 3, 3, 4, 6, 8],
        [NAN, 1, 1, 3, 0, 1, 4, 1, 2, 0, 1, 2, 2],
        id="hourly leads 0-12, 6 h resets",
    ),
    pytest.param(
        _hours(0, 3, 6, 9, 12),
        SIX_HOURS,
        [0, 3, 9, 6, 9],  # 3 h: 3/3; 6 h: (9-3)/3; 9 h: 6/3 since the 6 h reset; 12 h: (9-6)/3
        [NAN, 1, 2, 2, 1],
        id="3-hourly leads, 6 h resets",
    ),
    pytest.param(
        _hours(3, 4, 5, 6, 7, 8, 9),
        SIX_HOURS,
        [3, 5, 6, 9, 2, 3, 5],  # 3 h: the 2-3 h interval needs acc(2 h), unknown
        [NAN, 2, 1, 3, 2, 1, 2],
        id="starts mid-bucket",
    ),
    pytest.param(
        _hours(1, 2, 3, 4),
        SIX_HOURS,
        [2, 3, 6, 7],  # 1 h: implied previous step 0 h is the reset, so 2/1
        [2, 1, 3, 1],
        id="starts one step after a reset (GFS without f000)",
    ),
    pytest.param(
        _hours(6, 7, 8),
        SIX_HOURS,
        [9, 1, 3],  # 6 h holds 0-6 h, implied previous step 5 h is not the reset
        [NAN, 1, 2],
        id="starts at a reset time",
    ),
    pytest.param(
        _hours(0, 1, 2),
        SIX_HOURS,
        [NAN, 1, 3],  # f000 has no accumulation; 1 h does not read it
        [NAN, 1, 2],
        id="NaN at lead 0 does not propagate",
    ),
    pytest.param(
        _hours(4, 5, 6, 7, 8),
        SIX_HOURS,
        [4, NAN, 9, 1, 3],  # 6 h: 9 - NaN; 7 h: since the reset, does not read 6 h
        [NAN, NAN, NAN, 1, 2],
        id="NaN mid-bucket propagates to the next diff only",
    ),
    pytest.param(
        _hours(0, 6, 12),
        SIX_HOURS,
        [0, 6, 12],  # each step is a whole bucket
        [NAN, 1, 2],
        id="6-hourly leads, 6 h resets",
    ),
    pytest.param(
        _hours(0, 12, 24),
        SIX_HOURS,
        [0, 12, 12],  # 12 h holds only 6-12 h, the 0-6 h bucket is lost
        [NAN, NAN, NAN],
        id="step longer than a bucket",
    ),
    pytest.param(
        _hours(0, 6, 12),
        None,
        [0, 6, 18],  # ECMWF: totals since lead 0
        [NAN, 1, 2],
        id="never resets",
    ),
    pytest.param(
        _hours(0, 6, 12),
        np.timedelta64(100_000, "h"),
        [0, 6, 18],
        [NAN, 1, 2],
        id="reset longer than the range",
    ),
    pytest.param(
        np.arange(4).astype("timedelta64[h]").astype("timedelta64[ns]"),
        SIX_HOURS,
        [0, 1, 3, 6],
        [NAN, 1, 2, 3],
        id="nanosecond lead times, hour reset",
    ),
    pytest.param(
        np.arange("2024-03-01T05", "2024-03-01T09", dtype="datetime64[h]"),
        np.timedelta64(1, "h"),
        [1, 2, 3, 4],  # hourly totals: the first step is known too
        [1, 2, 3, 4],
        id="datetime64, hourly totals",
    ),
    pytest.param(
        np.arange("2024-03-01T03", "2024-03-01T09", dtype="datetime64[h]").astype("M8[s]"),
        SIX_HOURS,
        [3, 5, 6, 9, 2, 3],  # buckets start at 00 and 06 UTC
        [NAN, 2, 1, 3, 2, 1],
        id="datetime64 mid-bucket, 6 h resets",
    ),
    pytest.param(_hours(5), SIX_HOURS, [5], [NAN], id="single step"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("times", "reset_frequency", "accumulations", "expected"), CASES)
def test_rates_1d(
    times: np.ndarray,
    reset_frequency: np.timedelta64 | None,
    accumulations: list[float],
    expected: list[float],
    dtype: type,
) -> None:
    values = np.array(accumulations, dtype=dtype) * H
    result = deaccumulate_to_rates_inplace(values, times, axis=0, reset_frequency=reset_frequency)
    assert result is values
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, np.array(expected, dtype=dtype))


@pytest.mark.parametrize(
    ("accumulations", "expected"),
    [
        # (1 - 0.99999) / 3600 s = -2.8e-9 kg m-2 s-1: noise, 0
        pytest.param([0, 1, 0.99999], [NAN, 1 / H, 0], id="tiny decrease"),
        pytest.param([0, 1, 1 - 0.0684], [NAN, 1 / H, 0], id="-1.9e-5 clamped"),
        pytest.param([0, 1, 1 - 0.0756], [NAN, 1 / H, NAN], id="-2.1e-5 invalid"),
        pytest.param([0, 1, 0], [NAN, 1 / H, NAN], id="-2.8e-4 invalid"),
    ],
)
def test_negative_rates_default_threshold(
    accumulations: list[float], expected: list[float]
) -> None:
    values = np.array(accumulations, dtype=np.float32)  # kg m-2 = mm
    deaccumulate_to_rates_inplace(values, _hours(0, 1, 2), axis=0, reset_frequency=None)
    np.testing.assert_allclose(values, np.array(expected, dtype=np.float32), rtol=1e-6)


@pytest.mark.parametrize(
    ("accumulations", "threshold", "expected"),
    [
        pytest.param([0, 5, 4, 2], -1.0, [NAN, 5, 0, NAN], id="-1 is clamped, -2 is invalid"),
        pytest.param([0, 5, 4, 2], -2.0, [NAN, 5, 0, 0], id="threshold -2 clamps both"),
        pytest.param([0, 5, 4, 2], 0.0, [NAN, 5, NAN, NAN], id="threshold 0 clamps nothing"),
        pytest.param([0, 5, 5, 7], -1.0, [NAN, 5, 0, 2], id="no change is 0"),
    ],
)
def test_negative_rates_threshold(
    accumulations: list[float], threshold: float, expected: list[float]
) -> None:
    values = np.array(accumulations, dtype=np.float32) * H
    deaccumulate_to_rates_inplace(
        values,
        _hours(0, 1, 2, 3),
        axis=0,
        reset_frequency=None,
        expected_invalid_below_threshold_rate=threshold,
    )
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))


# (init_time=2, lead_time=4, point=3) accumulations with 2 h resets, leads 0-3 h.
ACCUMULATIONS_3D = [
    [[0, 0, 0], [1, 2, 0], [3, 2, 1], [1, 4, 1]],
    [[NAN, NAN, NAN], [2, 1, 5], [2, 4, 6], [2, 0, 0]],
]
RATES_3D = [
    [[NAN, NAN, NAN], [1, 2, 0], [2, 0, 1], [1, 4, 1]],
    [[NAN, NAN, NAN], [2, 1, 5], [0, 3, 1], [2, 0, 0]],
]


@pytest.mark.parametrize("axis", [1, -2])
def test_multidimensional_along_axis_1(axis: int) -> None:
    values = np.array(ACCUMULATIONS_3D, dtype=np.float32) * H
    result = deaccumulate_to_rates_inplace(
        values, _hours(0, 1, 2, 3), axis=axis, reset_frequency=np.timedelta64(2, "h")
    )
    assert result is values
    np.testing.assert_array_equal(values, np.array(RATES_3D, dtype=np.float32))


@pytest.mark.parametrize(
    ("layout", "axis"),
    [
        pytest.param(lambda a: np.moveaxis(a, 1, 0), 0, id="time first"),
        pytest.param(lambda a: np.moveaxis(a, 1, 2), 2, id="time last"),
        pytest.param(np.asfortranarray, 1, id="Fortran order"),
        pytest.param(lambda a: a.transpose(2, 1, 0), 1, id="transposed"),
    ],
)
def test_other_layouts_are_written_in_place(
    layout: Callable[[np.ndarray], np.ndarray], axis: int
) -> None:
    values = layout(np.array(ACCUMULATIONS_3D, dtype=np.float32) * H)
    expected = layout(np.array(RATES_3D, dtype=np.float32))
    result = deaccumulate_to_rates_inplace(
        values, _hours(0, 1, 2, 3), axis=axis, reset_frequency=np.timedelta64(2, "h")
    )
    assert result is values
    np.testing.assert_array_equal(values, expected)


def _ecmwf_tp(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """End steps (h) and values of the tp messages of an ECMWF GRIB file, in file order."""
    steps, fields = [], []
    with path.open("rb") as f:
        while (handle := eccodes.codes_grib_new_from_file(f)) is not None:
            try:
                if eccodes.codes_get(handle, "shortName") == "tp":
                    steps.append(int(eccodes.codes_get(handle, "stepRange").split("-")[-1]))
                    fields.append(eccodes.codes_get_values(handle))
            finally:
                eccodes.codes_release(handle)
    return np.array(steps), np.stack(fields)


@pytest.mark.parametrize(
    "reset_frequency", [None, np.timedelta64(100_000, "h")], ids=["None", "100000 h"]
)
def test_real_ecmwf_tp_integrates_back_to_accumulations(
    realdata: Path, reset_frequency: np.timedelta64 | None
) -> None:
    steps, accumulations = _ecmwf_tp(realdata / "reformatters__s2s_control_2026-08-10T00Z.grib2")
    np.testing.assert_array_equal(steps, [0, 6, 12])
    assert (accumulations[0] == 0).all()

    rates = deaccumulate_to_rates_inplace(
        accumulations.astype(np.float32),
        steps.astype("timedelta64[h]"),
        axis=0,
        reset_frequency=reset_frequency,
    )
    assert np.isnan(rates[0]).all()
    assert (rates[1:] >= 0).all()

    integrated = np.cumsum(rates[1:].astype(np.float64) * 6 * H, axis=0)
    # GRIB packing noise makes 394 points' 0-12 h total dip below the 0-6 h one by at most one
    # packing quantum (2**-8 kg m-2); those rates are clamped to 0, so the integral follows the
    # running maximum of the accumulations exactly and the accumulations within a quantum.
    assert (accumulations[2] < accumulations[1]).sum() == 394
    running_max = np.maximum.accumulate(accumulations[1:].astype(np.float32), axis=0)
    np.testing.assert_allclose(integrated, running_max, rtol=2e-7, atol=0)
    np.testing.assert_allclose(integrated, accumulations[1:], rtol=2e-7, atol=2**-8)


@pytest.mark.parametrize(
    ("values", "times", "kwargs", "error", "match"),
    [
        (np.zeros(3, np.int32), _hours(0, 1, 2), {}, TypeError, "float32 or float64"),
        (np.frombuffer(bytes(24)), _hours(0, 1, 2), {}, ValueError, "writable"),
        (np.zeros(3), np.array([0.0, 1, 2]), {}, TypeError, "timedelta64 or datetime64"),
        (np.zeros(3), _hours(0, 1), {}, ValueError, "1-D with values.shape"),
        (np.zeros(3), _hours(0, 2, 1), {}, ValueError, "strictly increasing"),
        (np.zeros(3), _hours(0, 1, 1), {}, ValueError, "strictly increasing"),
        (np.zeros(2), np.array([0, "NaT"], "m8[h]"), {}, ValueError, "NaT"),
        (np.zeros(2), _hours(-1, 0), {}, ValueError, ">= 0"),
        (np.zeros(2), _hours(0, 1), {"axis": 1}, np.exceptions.AxisError, "axis 1"),
        (
            np.zeros(2),
            _hours(0, 1),
            {"reset_frequency": np.timedelta64(0, "h")},
            ValueError,
            "positive",
        ),
        (
            np.zeros(2),
            np.array(["2024-01-01T00", "2024-01-01T01"], "M8[h]"),
            {"reset_frequency": None},
            ValueError,
            "needs timedelta64",
        ),
        (
            np.zeros(2),
            _hours(0, 1),
            {"expected_invalid_below_threshold_rate": 1e-5},
            ValueError,
            "must be <= 0",
        ),
    ],
)
def test_invalid_arguments(
    values: np.ndarray,
    times: np.ndarray,
    kwargs: dict,
    error: type[Exception],
    match: str,
) -> None:
    kwargs = {"axis": 0, "reset_frequency": SIX_HOURS, **kwargs}
    with pytest.raises(error, match=match):
        deaccumulate_to_rates_inplace(values, times, **kwargs)
