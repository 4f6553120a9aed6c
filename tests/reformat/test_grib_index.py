"""NOAA .idx inventories to byte ranges, against the real inventories and GRIB2 in realdata."""

from __future__ import annotations

import re
import urllib.request
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import eccodes
import numpy as np
import pytest

from climaflow.datasets.gfs_forecast import GfsDataVar, make_gfs_template
from climaflow.datasets.gfs_forecast.data_var import StatisticWindow
from climaflow.datasets.gfs_forecast.region_job import select_message, select_messages
from climaflow.reformat.forecast_time import ForecastTime
from climaflow.reformat.grib_index import (
    IndexEntry,
    coalesce_ranges,
    drop_duplicate_lines,
    http_range_header,
    parse_index,
    select,
)
from climaflow.reformat.template import ProcessingAttrs
from climaflow.testing import serve_directory
from tests.reformat.test_forecast_time import FORECAST_FIELDS, UNSUPPORTED_FORECAST_FIELDS

GFS_F000 = "reformatters__gfs.t00z.pgrb2.0p25.f000.idx"
GFS_F007 = "reformatters__gfs.t00z.pgrb2.0p25.f007.idx"
GEFS_CTL = "reformatters__gec00.t00z.pgrb2a.0p50.f432.idx"
GEFS_P01 = "reformatters__gep01.t00z.pgrb2s.0p25.f015.idx"
WAVE = "wgrib2__gdaswave.t00z.wcoast.0p16.f000.grib2"


def load(realdata: Path, name: str) -> list[IndexEntry]:
    return parse_index((realdata / name).read_text())


# ----------------------------------------------------------------------- real inventories


@pytest.mark.parametrize(
    ("name", "count", "reference_time"),
    [
        (GFS_F000, 696, datetime(2025, 8, 1, 0)),
        (GFS_F007, 743, datetime(2025, 8, 1, 0)),
        (GEFS_CTL, 85, datetime(2025, 8, 1, 0)),
        (GEFS_P01, 38, datetime(2025, 8, 1, 0)),
        (WAVE + ".idx", 19, datetime(2021, 11, 30, 0)),
    ],
)
def test_parse_every_real_index(
    realdata: Path, name: str, count: int, reference_time: datetime
) -> None:
    text = (realdata / name).read_text()
    entries = parse_index(text)
    lines = [line for line in text.splitlines() if line]
    assert len(entries) == len(lines) == count
    assert [e.message_number for e in entries] == [str(i) for i in range(1, count + 1)]
    assert [e.line_number for e in entries] == list(range(1, count + 1))
    assert entries[0].start == 0
    for entry, following, line in zip(entries, entries[1:], lines, strict=False):
        assert entry.end == following.start > entry.start
        assert line.startswith(f"{entry.message_number}:{entry.start}:d=")
        assert f"{entry.search_string}{entry.extra}" in line
    assert entries[-1].end is None
    assert entries[-1].length is None
    assert {e.reference_time for e in entries} == {reference_time}
    assert all(e.variable and e.level and e.forecast for e in entries)


def test_known_gfs_f007_lines(realdata: Path) -> None:
    entries = load(realdata, GFS_F007)
    apcp = entries[595]
    assert apcp == IndexEntry(
        message_number="596",
        start=428200066,
        end=428448703,
        reference_time=datetime(2025, 8, 1, 0),
        variable="APCP",
        level="surface",
        forecast="6-7 hour acc fcst",
        extra="",
        line_number=596,
    )
    assert apcp.length == 248637
    assert apcp.byte_range == (428200066, 428448703)
    assert apcp.range_header == "bytes=428200066-428448702"
    assert entries[596].forecast == "0-7 hour acc fcst"
    assert (entries[596].start, entries[596].end) == (428448703, 428853055)
    first = entries[0]
    assert (first.variable, first.level, first.forecast, first.start) == (
        "PRMSL",
        "mean sea level",
        "7 hour fcst",
        0,
    )
    assert first.end == 895140
    last = entries[-1]
    assert (last.variable, last.level, last.start, last.end) == (
        "VWSH",
        "PV=-2e-06 (Km^2/kg/s) surface",
        540196960,
        None,
    )


def test_analysis_and_ensemble_suffixes(realdata: Path) -> None:
    f000 = load(realdata, GFS_F000)
    assert {e.forecast for e in f000} == {"anl"}
    assert {e.extra for e in f000} == {""}
    control = load(realdata, GEFS_CTL)
    assert control[0].variable == "HGT"
    assert control[0].level == "10 mb"
    assert control[0].forecast == "432 hour fcst"
    assert {e.extra for e in control} == {"ENS=low-res ctl"}
    assert {e.extra for e in load(realdata, GEFS_P01)} == {"ENS=+1"}
    wave = load(realdata, WAVE + ".idx")
    assert [(e.variable, e.level, e.forecast) for e in wave[:2]] == [
        ("WIND", "surface", "anl"),
        ("WDIR", "surface", "anl"),
    ]
    assert wave[10].level == "3 in sequence"


# ------------------------------------------------------------------------------ selection


def test_select_the_6_7_hour_bucket_not_the_running_total(realdata: Path) -> None:
    entries = load(realdata, GFS_F007)
    bucket = select(entries, "APCP", "surface", "6-7 hour acc fcst")
    assert [e.line_number for e in bucket] == [596]
    by_regex = select(entries, "APCP", "surface", r"6-7 hour acc.*")
    assert by_regex == bucket
    total = select(entries, "APCP", "surface", "0-7 hour acc fcst")
    assert [e.line_number for e in total] == [597]
    both = select(entries, "APCP", "surface")
    assert [e.line_number for e in both] == [596, 597]
    assert select(entries, "APCP", "surface", r"\d+-7 hour acc fcst") == both
    # A prefix is not enough: the pattern has to match the whole field.
    assert select(entries, "APCP", "surface", "6-7 hour acc") == []
    assert select(entries, "APCP", "2 m above ground") == []


def test_select_exact_level_and_variable(realdata: Path) -> None:
    entries = load(realdata, GFS_F007)
    t2m = select(entries, "TMP", "2 m above ground", "7 hour fcst")
    assert [(e.line_number, e.start) for e in t2m] == [(581, 418201888)]
    assert [e.line_number for e in select(entries, "TMP", "2 mb")] == [106]
    assert [e.line_number for e in select(entries, "HGT", "500 mb")] == [349]
    assert len(select(entries, "TMP", "2 m above ground", r".*ave fcst")) == 0
    level = "PV=2e-06 (Km^2/kg/s) surface"  # regex metacharacters in the level are literal
    assert [e.variable for e in select(entries, "TMP", level)] == ["TMP"]


def test_select_forecast_pattern_does_not_match_substrings() -> None:
    text = "\n".join(
        [
            "1:0:d=2024010100:TMP:2 m above ground:7 hour fcst:",
            "2:10:d=2024010100:TMP:2 m above ground:17 hour fcst:",
            "3:20:d=2024010100:TMP:2 m above ground:6-7 hour ave fcst:",
            "4:30:d=2024010100:TMP:2 m above ground:(weird) fcst:",
        ]
    )
    entries = parse_index(text)
    assert [
        e.message_number for e in select(entries, "TMP", "2 m above ground", "7 hour fcst")
    ] == ["1"]
    assert [
        e.message_number for e in select(entries, "TMP", "2 m above ground", r"1?7 hour fcst")
    ] == [
        "1",
        "2",
    ]
    # Not a valid regex: equality still works.
    assert [
        e.message_number for e in select(entries, "TMP", "2 m above ground", "(weird) fcst")
    ] == ["4"]
    assert select(entries, "TMP", "2 m above ground", "(unbalanced") == []


# ------------------------------------------------------------------------ forecast fields


@pytest.mark.parametrize(("text", "expected"), FORECAST_FIELDS)
def test_entries_carry_their_forecast_time(text: str, expected: ForecastTime) -> None:
    (entry,) = parse_index(f"1:0:d=2025080100:APCP:surface:{text}:ENS=+1")
    assert entry.forecast_time == expected
    assert entry.extra == "ENS=+1"


@pytest.mark.parametrize("text", UNSUPPORTED_FORECAST_FIELDS)
def test_entries_with_unsupported_forecast_fields(text: str) -> None:
    (entry,) = parse_index(f"1:0:d=2025080100:APCP:surface:{text}:")
    assert entry.forecast_time is None


def test_forecast_fields_of_the_real_inventories(realdata: Path) -> None:
    def times(name: str) -> Counter[ForecastTime | None]:
        return Counter(entry.forecast_time for entry in load(realdata, name))

    assert times(GFS_F000) == {ForecastTime(0, 0): 696}
    assert times(GFS_F007) == {
        ForecastTime(7, 7): 701,
        ForecastTime(6, 7, "acc"): 3,  # APCP, ACPCP, WATR
        ForecastTime(0, 7, "acc"): 2,  # APCP, ACPCP
        ForecastTime(6, 7, "ave"): 35,
        ForecastTime(6, 7, "max"): 1,
        ForecastTime(6, 7, "min"): 1,
    }
    # GEFS files hold only the bucket since the last 6-hourly reset
    assert times(GEFS_CTL) == {
        ForecastTime(432, 432): 70,
        ForecastTime(426, 432, "acc"): 1,
        ForecastTime(426, 432, "ave"): 12,
        ForecastTime(426, 432, "max"): 1,
        ForecastTime(426, 432, "min"): 1,
    }
    assert times(GEFS_P01) == {
        ForecastTime(15, 15): 23,
        ForecastTime(12, 15, "acc"): 1,
        ForecastTime(12, 15, "ave"): 12,
        ForecastTime(12, 15, "max"): 1,
        ForecastTime(12, 15, "min"): 1,
    }
    assert times(WAVE + ".idx") == {ForecastTime(0, 0): 19}


def _real_lines_at(realdata: Path, lead: int) -> str:
    """Lines 592-600 of the real f007 inventory as GFS writes them at ``lead`` (1-24)."""
    lines = (realdata / GFS_F007).read_text().splitlines()[591:600]
    bucket = (lead - 1) // 6 * 6
    total = f"0-{lead // 24} day" if lead % 24 == 0 else f"0-{lead} hour"
    return "\n".join(
        line.replace(":6-7 hour", f":{bucket}-{lead} hour")
        .replace(":0-7 hour", f":{total}")
        .replace(":7 hour fcst", f":{lead} hour fcst")
        for line in lines
    )


@pytest.mark.parametrize("lead", range(1, 7))
def test_duplicate_lines_at_leads_1_to_6_are_one_field(realdata: Path, lead: int) -> None:
    entries = parse_index(_real_lines_at(realdata, lead))
    apcp = select(entries, "APCP", "surface")
    assert [e.search_string for e in apcp] == [f":APCP:surface:0-{lead} hour acc fcst:"] * 2
    unique = drop_duplicate_lines(entries)
    assert [e.line_number for e in unique] == [1, 2, 3, 4, 5, 7, 9]  # the first of each pair
    assert [e.describe() for e in unique if e.variable in ("APCP", "ACPCP")] == [
        f"line 5 (APCP:surface:0-{lead} hour acc fcst)",
        f"line 7 (ACPCP:surface:0-{lead} hour acc fcst)",
    ]
    assert {e.forecast_time for e in drop_duplicate_lines(apcp)} == {ForecastTime(0, lead, "acc")}


def test_day_units_at_lead_24(realdata: Path) -> None:
    entries = parse_index(_real_lines_at(realdata, 24))
    assert [(e.forecast, e.forecast_time) for e in select(entries, "APCP", "surface")] == [
        ("18-24 hour acc fcst", ForecastTime(18, 24, "acc")),
        ("0-1 day acc fcst", ForecastTime(0, 24, "acc")),
    ]
    assert drop_duplicate_lines(entries) == entries
    (prate,) = [e for e in entries if e.forecast_time == ForecastTime(24, 24)][1:]
    assert prate.search_string == ":PRATE:surface:24 hour fcst:"


def test_duplicates_differ_in_nothing_but_number_and_offset() -> None:
    entries = parse_index(
        "\n".join(
            [
                "1:0:d=2025080100:APCP:surface:0-6 hour acc fcst:",
                "2:10:d=2025080100:APCP:surface:0-6 hour acc fcst:ENS=+1",
                "3:20:d=2025080100:APCP:surface:0-6 hour acc fcst:",
                "4:30:d=2025080106:APCP:surface:0-6 hour acc fcst:",
                "5:40:d=2025080100:APCP:surface:0-6 hour ave fcst:",
                "6:50:d=2025080100:ACPCP:surface:0-6 hour acc fcst:",
                "7:60:d=2025080100:APCP:surface:0-1 day acc fcst:",
                "8:70:d=2025080100:APCP:surface:0-24 hour acc fcst:",  # the same window
            ]
        )
    )
    kept = [e.message_number for e in drop_duplicate_lines(entries)]
    assert kept == ["1", "2", "4", "5", "6", "7"]


# ------------------------------------------------------- the gfs-forecast template's selection

PRECIPITATION = make_gfs_template().data_var("precipitation_surface")
SINCE_START = replace(
    PRECIPITATION,
    name="precipitation_since_start",
    grib_window=StatisticWindow.SINCE_START,
    processing=ProcessingAttrs(deaccumulate_to_rate=True, reset_frequency=None),
)
ANY_WINDOW = replace(
    PRECIPITATION, name="precipitation_any_window", grib_window=None, processing=ProcessingAttrs()
)


def statistic(element: str, level: str, step_type: str) -> GfsDataVar:
    return replace(
        PRECIPITATION,
        name=f"{element.lower()}_{step_type}",
        grib_element=element,
        grib_level=level,
        grib_step_type=step_type,
        processing=ProcessingAttrs(),
    )


def line_of(realdata: Path, name: str, text: str) -> int:
    """The 1-based number of the one line of an inventory containing ``text``."""
    lines = (realdata / name).read_text().splitlines()
    (number,) = [i for i, line in enumerate(lines, start=1) if text in line]
    return number


def test_gfs_template_selects_the_bucket_at_f007(realdata: Path) -> None:
    entries = load(realdata, GFS_F007)
    template = make_gfs_template()
    selected = select_messages(entries, template.data_vars, 7, "f007.idx")
    assert {name: entry.line_number for name, entry in selected.items()} == {
        "temperature_2m": line_of(realdata, GFS_F007, ":TMP:2 m above ground:7 hour fcst:"),
        "relative_humidity_2m": line_of(realdata, GFS_F007, ":RH:2 m above ground:7 hour fcst:"),
        "wind_u_10m": line_of(realdata, GFS_F007, ":UGRD:10 m above ground:7 hour fcst:"),
        "wind_v_10m": line_of(realdata, GFS_F007, ":VGRD:10 m above ground:7 hour fcst:"),
        "pressure_reduced_to_mean_sea_level": 1,
        "precipitation_surface": line_of(realdata, GFS_F007, ":APCP:surface:6-7 hour acc fcst:"),
    }
    assert selected["precipitation_surface"].line_number == 596
    assert selected["precipitation_surface"].byte_range == (428200066, 428448703)
    assert select_message(entries, SINCE_START, 7, "f007.idx").line_number == 597
    # ave, max and min use the accumulations' 6-hourly bucket
    for element, level, step_type, text in [
        ("PRATE", "surface", "avg", ":PRATE:surface:6-7 hour ave fcst:"),
        ("TMAX", "2 m above ground", "max", ":TMAX:2 m above ground:6-7 hour max fcst:"),
        ("TMIN", "2 m above ground", "min", ":TMIN:2 m above ground:6-7 hour min fcst:"),
    ]:
        entry = select_message(entries, statistic(element, level, step_type), 7, "f007.idx")
        assert entry.line_number == line_of(realdata, GFS_F007, text), element


def test_gfs_template_at_f000_selects_analyses_and_no_statistic(realdata: Path) -> None:
    entries = load(realdata, GFS_F000)
    template = make_gfs_template()
    present = [var for var in template.data_vars if var.present_at(0)]
    assert [var.name for var in template.data_vars if var not in present] == [
        "precipitation_surface"
    ]
    selected = select_messages(entries, present, 0, "f000.idx")
    assert {name: entry.forecast for name, entry in selected.items()} == dict.fromkeys(
        (var.name for var in present), "anl"
    )
    assert selected["temperature_2m"].line_number == line_of(
        realdata, GFS_F000, ":TMP:2 m above ground:anl:"
    )
    assert select(entries, "APCP", "surface") == select(entries, "ACPCP", "surface") == []


@pytest.mark.parametrize("lead", range(1, 7))
def test_gfs_template_takes_the_first_of_the_duplicate_lines(realdata: Path, lead: int) -> None:
    entries = parse_index(_real_lines_at(realdata, lead))
    first = entries[4]
    assert (
        first.search_string
        == entries[5].search_string
        == (f":APCP:surface:0-{lead} hour acc fcst:")
    )
    for var in (PRECIPITATION, SINCE_START, ANY_WINDOW):
        assert select_message(entries, var, lead, "idx") == first, var.name


@pytest.mark.parametrize(
    ("lead", "bucket", "total"),
    [(7, "6-7 hour", "0-7 hour"), (12, "6-12 hour", "0-12 hour"), (24, "18-24 hour", "0-1 day")],
)
def test_gfs_template_selects_windows_by_their_hours(
    realdata: Path, lead: int, bucket: str, total: str
) -> None:
    entries = parse_index(_real_lines_at(realdata, lead))
    assert select_message(entries, PRECIPITATION, lead, "idx").forecast == f"{bucket} acc fcst"
    assert select_message(entries, SINCE_START, lead, "idx").forecast == f"{total} acc fcst"
    error = select_message(entries, ANY_WINDOW, lead, "https://host/gfs.t00z.f0xx.idx")
    assert isinstance(error, ValueError)
    assert str(error) == (
        "https://host/gfs.t00z.f0xx.idx: 2 different inventory lines match "
        f"APCP:surface:(any)-{lead} hour acc fcst: line 5 (APCP:surface:{bucket} acc fcst); "
        f"line 6 (APCP:surface:{total} acc fcst)"
    )


def test_gfs_template_names_a_missing_line(realdata: Path) -> None:
    entries = [e for e in load(realdata, GFS_F007) if e.variable != "RH"]
    template = make_gfs_template()
    selected = select_messages(entries, template.data_vars, 7, "f007.idx")
    assert str(selected["relative_humidity_2m"]) == (
        "f007.idx: no inventory line matches RH:2 m above ground:7 hour fcst"
    )
    assert all(
        isinstance(v, IndexEntry) for k, v in selected.items() if k != "relative_humidity_2m"
    )


# ------------------------------------------------------------------------------- coalesce


def test_coalesce_adjacent_messages(realdata: Path) -> None:
    entries = load(realdata, GFS_F007)
    apcp_acpcp = entries[595:599]  # lines 596-599, back to back
    assert coalesce_ranges(apcp_acpcp) == [(428200066, 429349231)]
    # 596 and 598 are separated by 597: two ranges, unless the gap is allowed.
    apart = [entries[595], entries[597]]
    assert coalesce_ranges(apart) == [(428200066, 428448703), (428853055, 429037256)]
    gap = entries[596].length
    assert gap is not None
    assert coalesce_ranges(apart, max_gap=gap) == [(428200066, 429037256)]
    assert coalesce_ranges(apart, max_gap=gap - 1) == coalesce_ranges(apart)
    # Order does not matter and duplicates collapse.
    assert coalesce_ranges([apcp_acpcp[3], *apcp_acpcp, apcp_acpcp[0]]) == [(428200066, 429349231)]
    # The last message runs to the end of the file and absorbs what follows it.
    tail = coalesce_ranges([entries[-1], entries[-2], entries[100]])
    assert tail == [(entries[100].start, entries[100].end), (entries[-2].start, None)]
    assert coalesce_ranges([]) == []


def test_coalesce_tuples_and_overlaps() -> None:
    assert coalesce_ranges([(10, 20), (0, 10), (30, 40), (35, 50), (50, 60)]) == [
        (0, 20),
        (30, 60),
    ]
    assert coalesce_ranges([(5, 8), (0, None), (100, 200)]) == [(0, None)]
    assert coalesce_ranges([(0, 10), (10, None)]) == [(0, None)]
    with pytest.raises(ValueError, match="invalid byte range"):
        coalesce_ranges([(10, 10)])
    with pytest.raises(ValueError, match="max_gap"):
        coalesce_ranges([(0, 1)], max_gap=-1)


def test_sub_messages_share_the_message_range() -> None:
    text = "\n".join(
        [
            "1:0:d=2024010100:HGT:500 mb:anl:",
            "2:100:d=2024010100:TMP:500 mb:anl:",
            "3.1:250:d=2024010100:UGRD:500 mb:anl:",
            "3.2:250:d=2024010100:VGRD:500 mb:anl:",
            "4:400:d=2024010100:RH:500 mb:anl:",
            "5.1:500:d=2024010100:UGRD:10 m above ground:anl:",
            "5.2:500:d=2024010100:VGRD:10 m above ground:anl:",
            "",
        ]
    )
    entries = parse_index(text)
    assert [(e.message_number, e.start, e.end) for e in entries] == [
        ("1", 0, 100),
        ("2", 100, 250),
        ("3.1", 250, 400),
        ("3.2", 250, 400),
        ("4", 400, 500),
        ("5.1", 500, None),
        ("5.2", 500, None),
    ]
    assert coalesce_ranges(entries[2:4]) == [(250, 400)]
    assert coalesce_ranges([entries[3], entries[6]]) == [(250, 400), (500, None)]


# -------------------------------------------------------------------- parsing edge cases


def test_crlf_blank_lines_and_minutes() -> None:
    text = (
        "1:0:d=2024010100:PRMSL:mean sea level:anl:\r\n\r\n2:50:d=202401010030:TMP:surface:anl:\r\n"
    )
    entries = parse_index(text)
    assert [(e.start, e.end, e.line_number) for e in entries] == [(0, 50, 1), (50, None, 3)]
    assert entries[1].reference_time == datetime(2024, 1, 1, 0, 30)
    assert parse_index("") == []
    assert parse_index("\n\n") == []


def test_extra_field_keeps_colons() -> None:
    (entry,) = parse_index("1:0:d=2024010100:TMP:2 m above ground:anl:ENS=+1:prob >0:")
    assert entry.extra == "ENS=+1:prob >0"


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("3:200:d=2024010100:TMP:2 m above ground", "line 3: expected at least 6"),
        ("x:200:d=2024010100:TMP:surface:anl:", "line 3: bad message number"),
        ("3:2e5:d=2024010100:TMP:surface:anl:", "line 3: bad byte offset"),
        ("3:-5:d=2024010100:TMP:surface:anl:", "line 3: bad byte offset"),
        ("3:200:2024010100:TMP:surface:anl:", "line 3: reference time"),
        ("3:200:d=20240101:TMP:surface:anl:", "line 3: reference time"),
        ("3:200:d=2024013200:TMP:surface:anl:", "line 3: invalid reference time"),
        ("3:200:d=2024010100::surface:anl:", "line 3: empty variable"),
        ("3:5:d=2024010100:TMP:surface:anl:", "line 3: byte offset 5 is smaller"),
    ],
)
def test_malformed_lines_name_the_line(bad_line: str, message: str) -> None:
    text = "\n".join(
        [
            "1:0:d=2024010100:PRMSL:mean sea level:anl:",
            "2:100:d=2024010100:HGT:500 mb:anl:",
            bad_line,
        ]
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_index(text)


def test_http_range_header() -> None:
    assert http_range_header(0, 10) == "bytes=0-9"
    assert http_range_header(428200066, 428448703) == "bytes=428200066-428448702"
    assert http_range_header(100, None) == "bytes=100-"
    assert http_range_header(5, 6) == "bytes=5-5"
    with pytest.raises(ValueError):
        http_range_header(10, 10)
    with pytest.raises(ValueError):
        http_range_header(-1, None)


# ---------------------------------------------------------------- real GRIB2 byte ranges


def _messages_from_whole_file(path: Path) -> list[tuple[str, np.ndarray]]:
    decoded = []
    with path.open("rb") as f:
        while (handle := eccodes.codes_grib_new_from_file(f)) is not None:
            try:
                decoded.append(
                    (eccodes.codes_get(handle, "shortName"), eccodes.codes_get_values(handle))
                )
            finally:
                eccodes.codes_release(handle)
    return decoded


def _decode(message: bytes) -> tuple[str, np.ndarray]:
    handle = eccodes.codes_new_from_message(message)
    try:
        return eccodes.codes_get(handle, "shortName"), eccodes.codes_get_values(handle)
    finally:
        eccodes.codes_release(handle)


def test_wave_grib_byte_ranges_decode_like_the_whole_file(realdata: Path) -> None:
    grib_path = realdata / WAVE
    data = grib_path.read_bytes()
    entries = load(realdata, WAVE + ".idx")
    whole = _messages_from_whole_file(grib_path)
    assert len(whole) == len(entries) == 19
    total = 0
    for entry, (short_name, values) in zip(entries, whole, strict=True):
        chunk = data[entry.start : entry.end]
        assert chunk[:4] == b"GRIB"
        assert chunk[-4:] == b"7777"
        assert int.from_bytes(chunk[8:16], "big") == len(chunk)  # GRIB2 section 0 length
        decoded_name, decoded_values = _decode(chunk)
        assert decoded_name == short_name
        np.testing.assert_array_equal(decoded_values, values)
        total += len(chunk)
    assert total == len(data)  # the ranges tile the file, the last one to its end


def test_selected_wave_message_fetched_over_http(realdata: Path) -> None:
    entries = load(realdata, WAVE + ".idx")
    (htsgw,) = select(entries, "HTSGW", "surface", "anl")
    (swell2,) = select(entries, "SWELL", "2 in sequence", "anl")
    whole = dict(
        zip(
            [e.message_number for e in entries],
            _messages_from_whole_file(realdata / WAVE),
            strict=True,
        )
    )
    with serve_directory(realdata) as server:
        for entry in (htsgw, swell2, entries[-1]):
            request = urllib.request.Request(
                f"{server.url}/{WAVE}", headers={"Range": entry.range_header}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 206
                chunk = response.read()
            assert chunk[:4] == b"GRIB" and chunk[-4:] == b"7777"
            short_name, values = _decode(chunk)
            expected_name, expected_values = whole[entry.message_number]
            assert short_name == expected_name
            np.testing.assert_array_equal(values, expected_values)
        assert [r.range for r in server.requests] == [
            "bytes=69064-79481",
            "bytes=128832-140847",
            "bytes=259223-",
        ]
        assert [r.bytes_sent for r in server.requests] == [10418, 12016, 281650 - 259223]
    assert short_name == "swdir"
