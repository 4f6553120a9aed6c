"""wgrib2 forecast fields into hours: every form the real inventories use, and the others."""

from __future__ import annotations

import re

import pytest

from climaflow.reformat.forecast_time import ForecastTime, parse_forecast

#: Supported forecast fields and their numbers; also checked on inventory entries.
FORECAST_FIELDS = [
    ("anl", ForecastTime(0, 0)),
    ("7 hour fcst", ForecastTime(7, 7)),
    ("24 hour fcst", ForecastTime(24, 24)),
    ("432 hour fcst", ForecastTime(432, 432)),
    ("1 day fcst", ForecastTime(24, 24)),
    ("30 min fcst", ForecastTime(0.5, 0.5)),
    ("6-7 hour acc fcst", ForecastTime(6, 7, "acc")),
    ("0-7 hour acc fcst", ForecastTime(0, 7, "acc")),
    ("0-6 hour acc fcst", ForecastTime(0, 6, "acc")),
    ("18-24 hour acc fcst", ForecastTime(18, 24, "acc")),
    ("0-1 day acc fcst", ForecastTime(0, 24, "acc")),
    ("0-2 day acc fcst", ForecastTime(0, 48, "acc")),
    ("1-2 day ave fcst", ForecastTime(24, 48, "ave")),
    ("6-7 hour ave fcst", ForecastTime(6, 7, "ave")),
    ("6-7 hour max fcst", ForecastTime(6, 7, "max")),
    ("6-7 hour min fcst", ForecastTime(6, 7, "min")),
    ("120-123 hour acc fcst", ForecastTime(120, 123, "acc")),
    ("426-432 hour max fcst", ForecastTime(426, 432, "max")),
    ("0-90 min acc fcst", ForecastTime(0, 1.5, "acc")),
]

#: Forecast fields parse_forecast rejects; also checked on inventory entries.
UNSUPPORTED_FORECAST_FIELDS = [
    "74-180 hour ave@(fcst,dt=10 hour)",
    "ensemble acc-3 valid 174 hour",
    "0-1 month ave fcst",
    "2 hour-(4 day+2 hour) acc fcst",
    "7-6 hour acc fcst",
    "7 hour",
    "",
]


@pytest.mark.parametrize(("text", "expected"), FORECAST_FIELDS)
def test_parse_forecast_fields_into_hours(text: str, expected: ForecastTime) -> None:
    assert parse_forecast(text) == expected


@pytest.mark.parametrize("text", UNSUPPORTED_FORECAST_FIELDS)
def test_unsupported_forecast_fields(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_forecast(text)


@pytest.mark.parametrize(
    ("forecast", "spelling"),
    [
        (ForecastTime(0, 0), "anl"),
        (ForecastTime(7, 7), "7 hour fcst"),
        (ForecastTime(6, 7, "acc"), "6-7 hour acc fcst"),
        (ForecastTime(0, 24, "acc"), "0-24 hour acc fcst"),
        (ForecastTime(426, 432, "max"), "426-432 hour max fcst"),
    ],
)
def test_str_is_wgrib2s_spelling_in_hours(forecast: ForecastTime, spelling: str) -> None:
    assert str(forecast) == spelling
    assert parse_forecast(spelling) == forecast
