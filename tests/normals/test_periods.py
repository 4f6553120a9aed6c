"""Periods, windows, and the scenario each window year comes from."""

import pytest

from climaflow.normals.periods import (
    DEFAULT_PERIODS,
    Period,
    format_years,
    make_periods,
    parse_year_range,
    target_windows,
    window_years,
)


def by_target(windows):
    return {window.target_year: window for window in windows}


def test_default_periods():
    assert [(p.name, p.first_target, p.last_target) for p in DEFAULT_PERIODS] == [
        ("historical", 1980, 2014),
        ("hybrid", 2015, 2044),
        ("future", 2045, 2100),
    ]
    windows = target_windows("ssp245")
    assert len(windows) == 121
    assert [w.target_year for w in windows] == list(range(1980, 2101))


def test_historical_targets_use_historical_files_only():
    window = by_target(target_windows("ssp585"))[1980]
    assert (window.period, window.scenario) == ("historical", "historical")
    assert window.years == tuple(range(1951, 1981))
    assert set(window.sources) == {"historical"}


def test_hybrid_windows_switch_to_the_scenario_after_2014():
    windows = by_target(target_windows("ssp245"))
    first = windows[2015]
    assert (first.period, first.scenario) == ("hybrid", "ssp245")
    assert first.year_sources[-2:] == (("historical", 2014), ("ssp245", 2015))
    assert first.sources.count("historical") == 29
    assert set(windows[2044].sources) == {"ssp245"}
    assert windows[2030].sources.count("historical") == 14  # 2001-2014


def test_future_targets_use_the_scenario_only():
    window = by_target(target_windows("ssp585"))[2100]
    assert (window.period, window.scenario, window.years[0]) == ("future", "ssp585", 2071)
    assert set(window.sources) == {"ssp585"}


def test_target_years_window_and_split_are_configurable():
    windows = target_windows(
        "ssp245",
        periods=make_periods(["hybrid"], {"hybrid": (2010, 2012)}),
        window=5,
        target_years=[2011, 2012, 2013],
        last_historical_year=2009,
    )
    assert [w.target_year for w in windows] == [2011, 2012]
    assert windows[0].year_sources == (
        ("historical", 2007),
        ("historical", 2008),
        ("historical", 2009),
        ("ssp245", 2010),
        ("ssp245", 2011),
    )


def test_bad_periods_are_refused():
    with pytest.raises(ValueError, match="unknown period 'past'"):
        make_periods(["past"])
    with pytest.raises(ValueError, match="first target year after the last"):
        Period("future", 2100, 2045)
    overlapping = (Period("historical", 1980, 2020), Period("hybrid", 2015, 2044))
    with pytest.raises(ValueError, match="target year 2015 is in periods historical and hybrid"):
        target_windows("ssp245", periods=overlapping)
    with pytest.raises(ValueError, match="window must be at least 1"):
        window_years(2000, 0)


def test_year_ranges_parse_and_format():
    assert parse_year_range("1980-2100") == range(1980, 2101)
    assert parse_year_range(" 2050 ") == range(2050, 2051)
    with pytest.raises(ValueError, match="not a year"):
        parse_year_range("soon")
    with pytest.raises(ValueError, match="empty year range"):
        parse_year_range("2000-1990")
    assert format_years([1985, 1980, 1981, 1982, 1990, 1991]) == "1980-1982,1985,1990-1991"
    assert format_years([]) == ""
