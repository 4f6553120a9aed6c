"""The synthetic GFS archive: real GRIB2 decoded by eccodes and cfgrib, idx offsets, values."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import eccodes
import numpy as np
import pytest
import xarray as xr

from climaflow.reformat.forecast_time import parse_forecast
from climaflow.reformat.grib_index import parse_index, select
from climaflow.testing.gfs_archive import (
    CONVECTIVE_FRACTION,
    DEFAULT_VARIABLES,
    DISTRACTOR_VARIABLES,
    VARIABLES,
    expected_accumulation,
    expected_field,
    expected_precipitation_rate,
    expected_values,
    gfs_grid,
    gfs_relative_path,
    messages_for_lead,
    packing_tolerance,
    precipitation_bucket_start,
    write_synthetic_gfs_archive,
)

RESOLUTION = 2.5
INITS = [np.datetime64("2024-01-01T00"), datetime(2024, 1, 1, 6)]
LEADS = list(range(14))  # anl, the first bucket 0-1..0-6, the second 6-7..6-12, then 12-13
F32 = np.finfo(np.float32).eps


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("gfs")
    paths = write_synthetic_gfs_archive(root, INITS, LEADS, resolution_degrees=RESOLUTION)
    return root, paths


def read_messages(path: Path) -> list[dict[str, object]]:
    """Keys and values of every message of a GRIB file, read with eccodes."""
    messages = []
    with path.open("rb") as f:
        while (handle := eccodes.codes_grib_new_from_file(f)) is not None:
            try:
                keys = {
                    key: eccodes.codes_get(handle, key)
                    for key in (
                        "shortName",
                        "typeOfLevel",
                        "level",
                        "stepType",
                        "stepRange",
                        "startStep",
                        "endStep",
                        "centre",
                        "dataDate",
                        "dataTime",
                        "validityDate",
                        "validityTime",
                        "discipline",
                        "parameterCategory",
                        "parameterNumber",
                        "productDefinitionTemplateNumber",
                        "packingType",
                        "bitsPerValue",
                        "Ni",
                        "Nj",
                        "units",
                        "totalLength",
                    )
                }
                keys["typeOfFirstFixedSurface"] = eccodes.codes_get(
                    handle, "typeOfFirstFixedSurface", int
                )
                keys["values"] = eccodes.codes_get_values(handle).reshape(keys["Nj"], keys["Ni"])
                messages.append(keys)
            finally:
                eccodes.codes_release(handle)
    return messages


def open_cfgrib(path: Path, **filter_by_keys: object) -> xr.Dataset:
    return xr.open_dataset(
        path,
        engine="cfgrib",
        backend_kwargs={"indexpath": "", "filter_by_keys": filter_by_keys},
        decode_timedelta=True,
    )


def grib_path(root: Path, init: datetime | np.datetime64, lead: int) -> Path:
    return root / gfs_relative_path(init, lead)


# --------------------------------------------------------------------------------- layout


def test_grid() -> None:
    lat, lon = gfs_grid(0.25)
    assert (lat.shape, lon.shape) == ((721,), (1440,))
    assert (lat[0], lat[360], lat[-1], lon[0], lon[1], lon[-1]) == (90, 0, -90, 0, 0.25, 359.75)
    assert np.all(np.diff(lat) == -0.25)
    lat, lon = gfs_grid(2.5)
    np.testing.assert_array_equal(lat, np.linspace(90, -90, 73))
    np.testing.assert_array_equal(lon, np.arange(144) * 2.5)
    lat, lon = gfs_grid(5)
    assert (len(lat), len(lon), lon[-1]) == (37, 72, 355)
    for bad in (0.7, 0, -1, 1e-7 * 3):
        with pytest.raises(ValueError):
            gfs_grid(bad)


def test_noaa_layout(archive: tuple[Path, list[Path]]) -> None:
    root, paths = archive
    assert len(paths) == len(INITS) * len(LEADS)
    assert paths[0] == root / "gfs.20240101/00/atmos/gfs.t00z.pgrb2.0p25.f000"
    assert paths[13] == root / "gfs.20240101/00/atmos/gfs.t00z.pgrb2.0p25.f013"
    assert paths[14] == root / "gfs.20240101/06/atmos/gfs.t06z.pgrb2.0p25.f000"
    for path in paths:
        assert path.is_file()
        assert path.with_name(path.name + ".idx").is_file()
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert len(files) == 2 * len(paths)  # nothing else (no partial files)
    assert gfs_relative_path(np.datetime64("2024-02-29T18:00"), 120) == (
        "gfs.20240229/18/atmos/gfs.t18z.pgrb2.0p25.f120"
    )
    aware = datetime(2024, 3, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert gfs_relative_path(aware, 6).startswith("gfs.20240301/00/atmos/gfs.t00z.")


# -------------------------------------------------------------------------------- messages


def test_message_plan_follows_gfs() -> None:
    def plan(lead: int) -> list[str]:
        return [m.idx_line for m in messages_for_lead(lead)]

    assert plan(0) == [
        "PRMSL:mean sea level:anl:",
        "TMP:2 mb:anl:",
        "HGT:500 mb:anl:",
        "TMP:850 mb:anl:",
        "TMP:2 m above ground:anl:",
        "RH:2 m above ground:anl:",
        "UGRD:10 m above ground:anl:",
        "VGRD:10 m above ground:anl:",
        "PRATE:surface:anl:",  # and no accumulation or average at all, as real f000
    ]
    statistics = {
        # lead: the lines after the instantaneous ones; at 1..6 the bucket is the total
        1: ["0-1 hour ave", "0-1 hour acc", "0-1 hour acc", "0-1 hour acc", "0-1 hour acc"],
        6: ["0-6 hour ave", "0-6 hour acc", "0-6 hour acc", "0-6 hour acc", "0-6 hour acc"],
        7: ["6-7 hour ave", "6-7 hour acc", "0-7 hour acc", "6-7 hour acc", "0-7 hour acc"],
        12: ["6-12 hour ave", "6-12 hour acc", "0-12 hour acc", "6-12 hour acc", "0-12 hour acc"],
        13: [
            "12-13 hour ave",
            "12-13 hour acc",
            "0-13 hour acc",
            "12-13 hour acc",
            "0-13 hour acc",
        ],
        # wgrib2 writes whole-day windows in days, as in real GFS f024 inventories
        24: ["18-24 hour ave", "18-24 hour acc", "0-1 day acc", "18-24 hour acc", "0-1 day acc"],
        48: ["42-48 hour ave", "42-48 hour acc", "0-2 day acc", "42-48 hour acc", "0-2 day acc"],
    }
    for lead, windows in statistics.items():
        names = ["PRATE", "APCP", "APCP", "ACPCP", "ACPCP"]
        expected = [f"{n}:surface:{w} fcst:" for n, w in zip(names, windows, strict=True)]
        assert plan(lead)[9:] == expected, lead
        assert plan(lead)[:9] == [line.replace(":anl:", f":{lead} hour fcst:") for line in plan(0)]
    assert [m.step_range for m in messages_for_lead(7)][-6:] == [
        "7",
        "6-7",
        "6-7",
        "0-7",
        "6-7",
        "0-7",
    ]
    assert [precipitation_bucket_start(h) for h in (1, 6, 7, 12, 13, 24, 25)] == [
        0,
        0,
        6,
        6,
        12,
        18,
        24,
    ]
    only = messages_for_lead(7, ["2t", "tp"], include_distractors=False)
    assert [m.variable.name for m in only] == ["temperature_2m"] + ["precipitation_surface"] * 2
    with pytest.raises(KeyError, match="unknown variable"):
        messages_for_lead(0, ["snow"])


def test_eccodes_keys_of_every_message(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    expected_keys = {
        "pressure_reduced_to_mean_sea_level": ("meanSea", 0, "Pa", (0, 3, 1), 101),
        "temperature_2hpa": ("isobaricInhPa", 2, "K", (0, 0, 0), 100),
        "geopotential_height_500hpa": ("isobaricInhPa", 500, "gpm", (0, 3, 5), 100),
        "temperature_850hpa": ("isobaricInhPa", 850, "K", (0, 0, 0), 100),
        "temperature_2m": ("heightAboveGround", 2, "K", (0, 0, 0), 103),
        "relative_humidity_2m": ("heightAboveGround", 2, "%", (0, 1, 1), 103),
        "wind_u_10m": ("heightAboveGround", 10, "m s**-1", (0, 2, 2), 103),
        "wind_v_10m": ("heightAboveGround", 10, "m s**-1", (0, 2, 3), 103),
        "precipitation_rate": ("surface", 0, "kg m**-2 s**-1", (0, 1, 7), 1),
        "precipitation_rate_average": ("surface", 0, "kg m**-2 s**-1", (0, 1, 7), 1),
        "precipitation_surface": ("surface", 0, "kg m**-2", (0, 1, 8), 1),
        "convective_precipitation": ("surface", 0, "kg m**-2", (0, 1, 10), 1),
    }
    for init, init_date, init_time in ((INITS[0], 20240101, 0), (INITS[1], 20240101, 600)):
        for lead in (0, 1, 6, 7, 13):
            messages = read_messages(grib_path(root, init, lead))
            planned = messages_for_lead(lead)
            assert [m["shortName"] for m in messages] == [p.variable.short_name for p in planned]
            assert [m["stepRange"] for m in messages] == [p.step_range for p in planned]
            for message, plan in zip(messages, planned, strict=True):
                type_of_level, level, units, triple, surface = expected_keys[plan.variable.name]
                assert message["typeOfLevel"] == type_of_level
                assert message["level"] == level
                assert message["units"] == units
                assert (
                    message["discipline"],
                    message["parameterCategory"],
                    message["parameterNumber"],
                ) == triple
                assert message["typeOfFirstFixedSurface"] == surface
                assert message["centre"] == "kwbc"
                assert (message["dataDate"], message["dataTime"]) == (init_date, init_time)
                assert (message["Ni"], message["Nj"]) == (144, 73)
                assert (message["packingType"], message["bitsPerValue"]) == ("grid_simple", 16)
                assert message["endStep"] == lead
                valid = datetime(2024, 1, 1, init_time // 100) + timedelta(hours=lead)
                assert message["validityDate"] == int(f"{valid:%Y%m%d}")
                assert message["validityTime"] == valid.hour * 100
                if plan.variable.step_type != "instant":
                    assert message["stepType"] == plan.variable.step_type
                    assert message["productDefinitionTemplateNumber"] == 8
                    assert message["startStep"] == plan.start_step
                else:
                    assert message["stepType"] == "instant"
                    assert message["productDefinitionTemplateNumber"] == 0
                    assert message["startStep"] == lead


def test_values_match_expected_fields_within_packing(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    lat, lon = gfs_grid(RESOLUTION)
    for init in INITS:
        for lead in (0, 5, 13):
            for message, plan in zip(
                read_messages(grib_path(root, init, lead)), messages_for_lead(lead), strict=True
            ):
                expected = expected_values(plan, init, lat, lon)
                tolerance = packing_tolerance(expected, 16)
                error = np.abs(message["values"] - expected).max()
                assert error <= tolerance, (plan.variable.name, lead, error, tolerance)
                # The fields are not trivially flat: packing error is far below their spread.
                assert np.ptp(expected) > 1000 * tolerance / 2


def test_realistic_magnitudes() -> None:
    lat, lon = gfs_grid(1.0)
    init = datetime(2024, 7, 1, 12)
    ranges = {
        "temperature_2m": (240, 320),
        "relative_humidity_2m": (0, 100),
        "pressure_reduced_to_mean_sea_level": (97_000, 105_000),
        "wind_u_10m": (-30, 30),
        "wind_v_10m": (-30, 30),
        "geopotential_height_500hpa": (4800, 6000),
        "temperature_2hpa": (200, 260),
        "temperature_850hpa": (235, 295),
        "precipitation_rate": (0, 5e-4),
    }
    for name, (low, high) in ranges.items():
        for lead in (0, 7, 120, 384):
            values = expected_field(name, init, lead, lat, lon)
            assert values.shape == (181, 360)
            assert low <= values.min() < values.max() <= high, name
    t2m = expected_field("temperature_2m", init, 0, lat, lon)
    assert t2m.min() >= 250 and t2m.max() <= 310
    assert t2m[90].mean() > t2m[0].mean() + 20  # equator warmer than the pole
    rate = expected_precipitation_rate(init, 1, lat, lon)
    assert rate.min() == 0.0
    assert 2e-5 < rate.mean() < 2e-4
    assert 1e-4 < rate.max() < 5e-4
    assert 0.2 < (rate == 0).mean() < 0.8
    with pytest.raises(ValueError, match="accumulated"):
        expected_field("precipitation_surface", init, 1, lat, lon)
    with pytest.raises(ValueError, match="leads >= 1"):
        expected_precipitation_rate(init, 0, lat, lon)


def test_fields_depend_on_init_lead_and_position() -> None:
    lat, lon = gfs_grid(5)
    base = expected_field("temperature_2m", datetime(2024, 1, 1), 6, lat, lon)
    later_init = expected_field("temperature_2m", datetime(2024, 1, 1, 6), 0, lat, lon)
    assert not np.allclose(base, later_init, atol=0.01)  # same valid time, different values
    assert not np.allclose(
        base, expected_field("temperature_2m", datetime(2024, 1, 1), 7, lat, lon)
    )
    assert np.ptp(base[:, 0]) > 10 and np.ptp(base[18]) > 1
    # Same values from datetime64, naive and aware datetimes.
    np.testing.assert_array_equal(
        base, expected_field("2t", np.datetime64("2024-01-01T00:00"), 6, lat, lon)
    )
    np.testing.assert_array_equal(
        base, expected_field("2t", datetime(2024, 1, 1, tzinfo=UTC), 6, lat, lon)
    )
    with pytest.raises(ValueError, match="whole hour"):
        expected_field("2t", datetime(2024, 1, 1, 0, 30), 6, lat, lon)


def test_noise_is_seeded_and_pointwise() -> None:
    lat, lon = gfs_grid(2.5)
    init = datetime(2024, 1, 1)
    smooth = expected_field("temperature_2m", init, 3, lat, lon)
    noisy = expected_field("temperature_2m", init, 3, lat, lon, noise_seed=1)
    again = expected_field("temperature_2m", init, 3, lat, lon, noise_seed=1)
    other = expected_field("temperature_2m", init, 3, lat, lon, noise_seed=2)
    np.testing.assert_array_equal(noisy, again)
    difference = noisy - smooth
    assert 0.4 < np.abs(difference).max() <= 0.5
    assert abs(difference.mean()) < 0.05
    assert not np.array_equal(noisy, other)
    # Each point's noise depends on its coordinates only, not on the rest of the grid.
    subset = expected_field("temperature_2m", init, 3, lat[10:20], lon[[3, 50, 7]], noise_seed=1)
    np.testing.assert_array_equal(subset, noisy[10:20][:, [3, 50, 7]])
    # Arrays of any other shape are broadcast point by point.
    lat2d, lon2d = np.meshgrid(lat, lon, indexing="ij")
    np.testing.assert_array_equal(
        expected_field("temperature_2m", init, 3, lat2d, lon2d, noise_seed=1), noisy
    )
    rows, columns = [4, 9, 0], [7, 2, 143]
    points = expected_field(
        "temperature_2m", init, 3, lat[rows][None, :], lon[columns][None, :], noise_seed=1
    )
    np.testing.assert_array_equal(points, [noisy[rows, columns]])
    rate = expected_precipitation_rate(init, 3, lat, lon, noise_seed=1)
    smooth_rate = expected_precipitation_rate(init, 3, lat, lon)
    assert rate.min() >= 0
    assert np.all((rate == 0) == (smooth_rate == 0))
    ratio = rate[smooth_rate > 0] / smooth_rate[smooth_rate > 0]
    assert ratio.min() >= 0.5 and ratio.max() < 1.5


def test_noisy_archive_matches_noisy_expectations(tmp_path: Path) -> None:
    init = datetime(2024, 5, 1, 12)
    (path,) = write_synthetic_gfs_archive(
        tmp_path, [init], [8], resolution_degrees=5, bits_per_value=24, noise_seed=7
    )
    lat, lon = gfs_grid(5)
    for message, plan in zip(read_messages(path), messages_for_lead(8), strict=True):
        assert message["bitsPerValue"] == 24
        expected = expected_values(plan, init, lat, lon, noise_seed=7)
        assert np.abs(message["values"] - expected).max() <= packing_tolerance(expected, 24)


# ------------------------------------------------------------------------------------- idx


def test_idx_text_is_wgrib2_format(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    path = grib_path(root, INITS[1], 7)
    lines = path.with_name(path.name + ".idx").read_text().splitlines()
    sizes = [int(m["totalLength"]) for m in read_messages(path)]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()
    assert lines == [
        f"1:{offsets[0]}:d=2024010106:PRMSL:mean sea level:7 hour fcst:",
        f"2:{offsets[1]}:d=2024010106:TMP:2 mb:7 hour fcst:",
        f"3:{offsets[2]}:d=2024010106:HGT:500 mb:7 hour fcst:",
        f"4:{offsets[3]}:d=2024010106:TMP:850 mb:7 hour fcst:",
        f"5:{offsets[4]}:d=2024010106:TMP:2 m above ground:7 hour fcst:",
        f"6:{offsets[5]}:d=2024010106:RH:2 m above ground:7 hour fcst:",
        f"7:{offsets[6]}:d=2024010106:UGRD:10 m above ground:7 hour fcst:",
        f"8:{offsets[7]}:d=2024010106:VGRD:10 m above ground:7 hour fcst:",
        f"9:{offsets[8]}:d=2024010106:PRATE:surface:7 hour fcst:",
        f"10:{offsets[9]}:d=2024010106:PRATE:surface:6-7 hour ave fcst:",
        f"11:{offsets[10]}:d=2024010106:APCP:surface:6-7 hour acc fcst:",
        f"12:{offsets[11]}:d=2024010106:APCP:surface:0-7 hour acc fcst:",
        f"13:{offsets[12]}:d=2024010106:ACPCP:surface:6-7 hour acc fcst:",
        f"14:{offsets[13]}:d=2024010106:ACPCP:surface:0-7 hour acc fcst:",
    ]
    f000 = grib_path(root, INITS[0], 0)
    text = f000.with_name(f000.name + ".idx").read_text()
    assert text.startswith("1:0:d=2024010100:PRMSL:mean sea level:anl:\n")
    assert "APCP" not in text and "ACPCP" not in text and " ave " not in text
    assert [line.split(":", 3)[3] for line in text.splitlines()][-2:] == [
        "VGRD:10 m above ground:anl:",
        "PRATE:surface:anl:",
    ]


def test_idx_byte_ranges_decode_to_the_right_messages(archive: tuple[Path, list[Path]]) -> None:
    _, paths = archive
    step_types = {None: "instant", "acc": "accum", "ave": "avg"}
    by_idx = {(v.idx_variable, v.idx_level, v.step_type): v for v in VARIABLES.values()}
    for path in paths:
        data = path.read_bytes()
        entries = parse_index(path.with_name(path.name + ".idx").read_text())
        lead = int(path.name[-3:])
        assert len(entries) == len(messages_for_lead(lead))
        assert entries[-1].end is None
        assert sum(len(data[e.start : e.end]) for e in entries) == len(data)
        for entry in entries:
            chunk = data[entry.start : entry.end]
            assert chunk[:4] == b"GRIB" and chunk[-4:] == b"7777"
            forecast = parse_forecast(entry.forecast)
            handle = eccodes.codes_new_from_message(chunk)
            try:
                step_type = eccodes.codes_get(handle, "stepType")
                assert step_type == step_types[forecast.statistic]
                variable = by_idx[(entry.variable, entry.level, step_type)]
                assert eccodes.codes_get(handle, "shortName") == variable.short_name
                assert eccodes.codes_get(handle, "startStep") == forecast.start_hours
                assert eccodes.codes_get(handle, "endStep") == forecast.end_hours == lead
            finally:
                eccodes.codes_release(handle)


def test_select_bucket_from_synthetic_idx(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    path = grib_path(root, INITS[0], 7)
    entries = parse_index(path.with_name(path.name + ".idx").read_text())
    (bucket,) = select(entries, "APCP", "surface", "6-7 hour acc fcst")
    (t2m,) = select(entries, "TMP", "2 m above ground", "7 hour fcst")
    assert [e.level for e in select(entries, "TMP", "2 mb")] == ["2 mb"]
    lat, lon = gfs_grid(RESOLUTION)
    data = path.read_bytes()
    handle = eccodes.codes_new_from_message(data[bucket.start : bucket.end])
    try:
        values = eccodes.codes_get_values(handle).reshape(73, 144)
    finally:
        eccodes.codes_release(handle)
    expected = expected_accumulation(INITS[0], 6, 7, lat, lon)
    assert np.abs(values - expected).max() <= packing_tolerance(expected)
    assert t2m.start < bucket.start


# ---------------------------------------------------------------------------------- cfgrib


def test_cfgrib_reads_2m_fields_and_coordinates(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    lat, lon = gfs_grid(RESOLUTION)
    init = INITS[1]
    with open_cfgrib(grib_path(root, init, 5), typeOfLevel="heightAboveGround", level=2) as ds:
        assert sorted(ds.data_vars) == ["r2", "t2m"]
        np.testing.assert_array_equal(ds.latitude.values, lat)
        np.testing.assert_array_equal(ds.longitude.values, lon)
        assert ds.time.values == np.datetime64("2024-01-01T06:00", "ns")
        assert ds.step.values == np.timedelta64(5, "h")
        assert ds.valid_time.values == np.datetime64("2024-01-01T11:00", "ns")
        assert ds.t2m.attrs["GRIB_stepType"] == "instant"
        for name, variable in (("t2m", "temperature_2m"), ("r2", "relative_humidity_2m")):
            expected = expected_field(variable, init, 5, lat, lon)
            tolerance = packing_tolerance(expected) + F32 * np.abs(expected).max()
            assert np.abs(ds[name].values - expected).max() <= tolerance


def test_cfgrib_reads_mslp_and_10m_wind(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    lat, lon = gfs_grid(RESOLUTION)
    path = grib_path(root, INITS[0], 0)
    with open_cfgrib(path, typeOfLevel="meanSea") as ds:
        assert list(ds.data_vars) == ["prmsl"]
        expected = expected_field("pressure_reduced_to_mean_sea_level", INITS[0], 0, lat, lon)
        tolerance = packing_tolerance(expected) + F32 * np.abs(expected).max()
        assert np.abs(ds.prmsl.values - expected).max() <= tolerance
    with open_cfgrib(path, typeOfLevel="heightAboveGround", level=10) as ds:
        assert sorted(ds.data_vars) == ["u10", "v10"]
        assert ds.step.values == np.timedelta64(0)
        for name, variable in (("u10", "wind_u_10m"), ("v10", "wind_v_10m")):
            expected = expected_field(variable, INITS[0], 0, lat, lon)
            tolerance = packing_tolerance(expected) + F32 * np.abs(expected).max()
            assert np.abs(ds[name].values - expected).max() <= tolerance
    # The unrelated messages (two isobaric levels: cfgrib needs one level at a time).
    with open_cfgrib(path, typeOfLevel="isobaricInhPa", level=500) as ds:
        assert list(ds.data_vars) == ["gh"]
        expected = expected_field("geopotential_height_500hpa", INITS[0], 0, lat, lon)
        assert np.abs(ds.gh.values - expected).max() <= 2 * packing_tolerance(expected)
    with open_cfgrib(path, typeOfLevel="isobaricInhPa", level=2) as ds:
        assert list(ds.data_vars) == ["t"]


def test_cfgrib_reads_both_precipitation_messages(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    lat, lon = gfs_grid(RESOLUTION)
    path = grib_path(root, INITS[0], 13)
    for start in (12, 0):
        with open_cfgrib(path, shortName="tp", startStep=start) as ds:
            assert ds.tp.attrs["GRIB_stepType"] == "accum"
            assert ds.tp.attrs["GRIB_units"] == "kg m**-2"
            assert ds.step.values == np.timedelta64(13, "h")
            expected = expected_accumulation(INITS[0], start, 13, lat, lon)
            tolerance = packing_tolerance(expected) + F32 * np.abs(expected).max()
            assert np.abs(ds.tp.values - expected).max() <= tolerance
    # Filtering on the keys but the step range, cfgrib silently keeps only the first message.
    with open_cfgrib(path, shortName="tp", typeOfLevel="surface", stepType="accum") as ds:
        expected = expected_accumulation(INITS[0], 12, 13, lat, lon)
        assert np.abs(ds.tp.values - expected).max() <= 1e-3


def test_deaccumulated_apcp_equals_the_rate(archive: tuple[Path, list[Path]]) -> None:
    root, _ = archive
    lat, lon = gfs_grid(RESOLUTION)
    for init in INITS:
        buckets: dict[int, np.ndarray] = {}
        totals: dict[int, np.ndarray] = {}
        for lead in LEADS[1:]:
            tp = [m for m in read_messages(grib_path(root, init, lead)) if m["shortName"] == "tp"]
            bucket, total = tp  # the bucket first, then the total since the start
            assert bucket["startStep"] == precipitation_bucket_start(lead)
            assert total["startStep"] == 0
            buckets[lead], totals[lead] = bucket["values"], total["values"]
        for lead in LEADS[1:]:
            bucket_start = precipitation_bucket_start(lead)
            previous = buckets[lead - 1] if lead - 1 > bucket_start else 0.0
            rate = (buckets[lead] - previous) / 3600.0
            expected = expected_precipitation_rate(init, lead, lat, lon)
            tolerance = 2 * packing_tolerance(expected_accumulation(init, 0, 13, lat, lon)) / 3600
            assert np.abs(rate - expected).max() <= tolerance, (lead, tolerance)
            assert tolerance < 1e-3 * expected.max()
        for lead, total in totals.items():
            # The running total is the sum of the completed buckets and the current one.
            summed = buckets[lead] + sum(buckets[b] for b in range(6, lead, 6))
            assert np.abs(total - summed).max() <= 4 * packing_tolerance(total)


def test_statistics_agree_with_the_hourly_rates_through_day_units(tmp_path: Path) -> None:
    init = datetime(2024, 3, 1, 18)
    leads = range(1, 26)
    paths = write_synthetic_gfs_archive(tmp_path, [init], leads, resolution_degrees=5)
    lat, lon = gfs_grid(5)
    rates = {h: expected_precipitation_rate(init, h, lat, lon) for h in leads}

    def accumulated(start: int, end: int) -> np.ndarray:
        return sum(rates[h] * 3600.0 for h in range(start + 1, end + 1))

    for lead, path in zip(leads, paths, strict=True):
        lines = [line.split(":", 3)[3] for line in Path(f"{path}.idx").read_text().splitlines()]
        data = path.read_bytes()
        entries = parse_index(Path(f"{path}.idx").read_text())
        messages = read_messages(path)
        bucket = precipitation_bucket_start(lead)
        # Bucket then total since the start, for APCP and ACPCP; the total at whole days in days.
        total = f"0-{lead // 24} day" if lead % 24 == 0 else f"0-{lead} hour"
        assert lines[-5:] == [
            f"PRATE:surface:{bucket}-{lead} hour ave fcst:",
            f"APCP:surface:{bucket}-{lead} hour acc fcst:",
            f"APCP:surface:{total} acc fcst:",
            f"ACPCP:surface:{bucket}-{lead} hour acc fcst:",
            f"ACPCP:surface:{total} acc fcst:",
        ]
        average, apcp_bucket, apcp_total, acpcp_bucket, acpcp_total = messages[-5:]
        expectations = [
            (average, accumulated(bucket, lead) / ((lead - bucket) * 3600.0)),
            (apcp_bucket, accumulated(bucket, lead)),
            (apcp_total, accumulated(0, lead)),
            (acpcp_bucket, CONVECTIVE_FRACTION * accumulated(bucket, lead)),
            (acpcp_total, CONVECTIVE_FRACTION * accumulated(0, lead)),
        ]
        for message, expected in expectations:
            assert np.abs(message["values"] - expected).max() <= packing_tolerance(expected)
        assert [m["stepRange"] for m in messages[-5:]] == [
            f"{bucket}-{lead}",
            f"{bucket}-{lead}",
            f"0-{lead}",
            f"{bucket}-{lead}",
            f"0-{lead}",
        ]
        if lead <= 6:  # the bucket is the total: the same line and the same bytes, twice
            for first, second in (entries[-4:-2], entries[-2:]):
                assert first.search_string == second.search_string
                assert data[first.start : first.end] == data[second.start : second.end]


# ------------------------------------------------------------------------------- options


def test_subset_of_variables_without_distractors(tmp_path: Path) -> None:
    paths = write_synthetic_gfs_archive(
        tmp_path,
        [datetime(2024, 1, 2, 18)],
        [0, 7],
        resolution_degrees=5,
        variables=["temperature_2m", "tp"],
        include_distractors=False,
    )
    assert [m["stepRange"] for m in read_messages(paths[0])] == ["0"]
    assert [m["shortName"] for m in read_messages(paths[1])] == ["2t", "tp", "tp"]
    idx = paths[1].with_name(paths[1].name + ".idx").read_text().splitlines()
    assert [line.split(":", 3)[3] for line in idx] == [
        "TMP:2 m above ground:7 hour fcst:",
        "APCP:surface:6-7 hour acc fcst:",
        "APCP:surface:0-7 hour acc fcst:",
    ]


def test_complex_packing_like_real_gfs(tmp_path: Path) -> None:
    init = datetime(2024, 1, 1)
    (path,) = write_synthetic_gfs_archive(
        tmp_path,
        [init],
        [3],
        resolution_degrees=5,
        packing_type="grid_complex_spatial_differencing",
        bits_per_value=16,
    )
    lat, lon = gfs_grid(5)
    messages = read_messages(path)
    assert {m["packingType"] for m in messages} == {"grid_complex_spatial_differencing"}
    t2m = next(m for m in messages if m["shortName"] == "2t")
    expected = expected_field("temperature_2m", init, 3, lat, lon)
    assert np.abs(t2m["values"] - expected).max() <= packing_tolerance(expected)


def test_default_variables_table() -> None:
    assert set(DEFAULT_VARIABLES) | set(DISTRACTOR_VARIABLES) == set(VARIABLES)
    assert [VARIABLES[v].short_name for v in DEFAULT_VARIABLES] == [
        "prmsl",
        "2t",
        "2r",
        "10u",
        "10v",
        "tp",
    ]


def test_sixty_files_in_a_few_seconds(tmp_path: Path) -> None:
    inits = [np.datetime64("2024-01-01T00") + np.timedelta64(6 * i, "h") for i in range(4)]
    started = time.perf_counter()
    paths = write_synthetic_gfs_archive(tmp_path, inits, range(15), resolution_degrees=2.5)
    elapsed = time.perf_counter() - started
    assert len(paths) == 60
    assert elapsed < 10, elapsed
