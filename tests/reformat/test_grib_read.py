"""Reading GRIB2 messages by explicit keys, on real NOAA files."""

import re
from dataclasses import replace
from pathlib import Path

import eccodes
import numpy as np
import pytest

from climaflow.datasets.gfs_forecast import GfsDataVar, GfsForecastRegionJob, GfsSourceFileCoord
from climaflow.datasets.gfs_forecast.template import gfs_grid, make_gfs_template
from climaflow.reformat.grib_read import (
    GribReadError,
    MessageKeys,
    read_grib_message,
    read_grib_messages,
)
from climaflow.reformat.source_file_coord import SourceFileStatus
from climaflow.reformat.tasks import read_coord

GFS_0P25 = "nwpconsumer__gfs.t06z.pgrb2.0p25.f001"
GFS_2P5 = "pygrib__gfs.t12z.pgrbf120.2p5deg.grib2"


def message(path: Path, number: int) -> dict[str, np.ndarray]:
    """Values (NaN where the bitmap says missing), latitudes and longitudes of the
    ``number``-th message (1-based), via eccodes."""
    with path.open("rb") as f:
        for _ in range(number - 1):
            eccodes.codes_release(eccodes.codes_grib_new_from_file(f))
        handle = eccodes.codes_grib_new_from_file(f)
    try:
        shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
        decoded = {
            key: eccodes.codes_get_array(handle, key).reshape(shape)
            for key in ("values", "latitudes", "longitudes")
        }
        if eccodes.codes_get(handle, "bitmapPresent"):
            present = eccodes.codes_get_array(handle, "bitmap").reshape(shape) == 1
            decoded["values"] = np.where(present, decoded["values"], np.nan)
        return decoded
    finally:
        eccodes.codes_release(handle)


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
def test_real_gfs_0p25_lands_on_the_template_grid(realdata, engine):
    latitudes, longitudes = gfs_grid(0.25)
    assert (latitudes.size, longitudes.size) == (721, 1440)
    values = read_grib_message(
        realdata / GFS_0P25,
        short_name="t",
        type_of_level="isobaricInhPa",
        level=900,
        step_type="instant",
        expected_grid=(latitudes, longitudes),
        engine=engine,
    )
    reference = message(realdata / GFS_0P25, 1)
    # eccodes' own per-point coordinates: row i is latitude i, column j longitude j
    np.testing.assert_allclose(reference["latitudes"][:, 0], latitudes)
    np.testing.assert_allclose(reference["longitudes"][0, :], longitudes)
    np.testing.assert_array_equal(values, reference["values"].astype("float32"))


GFS_2P5_MESSAGES = [
    # (variable, message number in the file)
    ("temperature_2m", 191),
    ("relative_humidity_2m", 193),
    ("wind_u_10m", 196),
    ("precipitation_surface", 199),  # tp 114-120 h accumulation, not acpcp (message 200)
    ("pressure_reduced_to_mean_sea_level", 303),
]


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
@pytest.mark.parametrize(("name", "number"), GFS_2P5_MESSAGES)
def test_real_307_message_file_yields_exactly_the_requested_variable(
    realdata, engine, name, number, tmp_path
):
    template = make_gfs_template(
        resolution_degrees=2.5, init_time_start=np.datetime64("2020-01-01T12")
    )
    job = GfsForecastRegionJob(
        template=template,
        store=tmp_path / "unused.zarr",
        append_dim_end=np.datetime64("2020-01-01T18"),
        region=slice(0, 1),
        grib_reader=engine,
    )
    coord = GfsSourceFileCoord(
        base_url="unused",
        init_time=np.datetime64("2020-01-01T12"),
        lead_time=np.timedelta64(120, "h"),
        data_var_names=(name,),
        downloaded_path=realdata / GFS_2P5,
    )
    values = job.read_data(coord, template.data_var(name))
    np.testing.assert_array_equal(
        values, message(realdata / GFS_2P5, number)["values"].astype("float32")
    )


def test_ambiguous_and_absent_messages_are_errors(realdata):
    grid = gfs_grid(2.5)
    with pytest.raises(GribReadError, match=r"expected 1 message .* found 3"):
        read_grib_message(  # three soil layers share typeOfLevel and level 0
            realdata / GFS_2P5,
            short_name="t",
            type_of_level="depthBelowLandLayer",
            level=0,
            step_type="instant",
            expected_grid=grid,
        )
    with pytest.raises(GribReadError, match=f"{GFS_2P5}: expected 1 message .* found 0"):
        read_grib_message(
            realdata / GFS_2P5,
            short_name="10v",
            type_of_level="heightAboveGround",
            level=10,
            step_type="instant",
            expected_grid=grid,
        )


def test_a_grid_other_than_the_template_is_refused(realdata):
    with pytest.raises(GribReadError, match=r"on a 73x144 grid"):
        read_grib_message(
            realdata / GFS_2P5,
            short_name="2t",
            type_of_level="heightAboveGround",
            level=2,
            step_type="instant",
            expected_grid=gfs_grid(0.25),
        )


# ------------------------------------------------------------------- step ranges, duplicates

S2S = "reformatters__s2s_control_2026-08-10T00Z.grib2"  # 2t averaged over 0-24 h, then 24-48 h
S2S_GRID = (np.linspace(90, -90, 121), np.arange(240) * 1.5)


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
def test_messages_differing_in_step_range_need_it_pinned(realdata, engine):
    path = realdata / S2S
    keys = {"short_name": "2t", "type_of_level": "heightAboveGround", "level": 2}
    for step_range, number in (("0-24", 1), ("24-48", 2)):
        values = read_grib_message(
            path, **keys, step_type="avg", step_range=step_range, expected_grid=S2S_GRID,
            engine=engine,
        )  # fmt: skip
        np.testing.assert_array_equal(values, message(path, number)["values"].astype("float32"))
    with pytest.raises(
        GribReadError,
        match=re.escape(
            f"{S2S}: expected 1 message with shortName=2t typeOfLevel=heightAboveGround level=2 "
            "stepType=avg, found 2 different fields: message 1 (stepRange=0-24), "
            "message 2 (stepRange=24-48)"
        ),
    ):
        read_grib_message(path, **keys, step_type="avg", expected_grid=S2S_GRID, engine=engine)


def _messages_bytes(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        messages = []
        while (handle := eccodes.codes_grib_new_from_file(f)) is not None:
            messages.append(eccodes.codes_get_message(handle))
            eccodes.codes_release(handle)
    return messages


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
def test_identical_messages_count_as_one_and_the_first_is_read(realdata, tmp_path, engine):
    # As GFS at leads 1-6: the bucket and the total since the start, the same message twice.
    messages = _messages_bytes(realdata / GFS_2P5)
    tp, acpcp = messages[198], messages[199]  # tp 114-120 h, then acpcp 114-120 h
    path = tmp_path / "duplicated.grib2"
    path.write_bytes(acpcp + tp + tp + acpcp)
    values = read_grib_message(
        path,
        short_name="tp",
        type_of_level="surface",
        level=0,
        step_type="accum",
        step_range="114-120",
        expected_grid=gfs_grid(2.5),
        engine=engine,
    )
    np.testing.assert_array_equal(values, message(path, 2)["values"].astype("float32"))
    assert not np.array_equal(values, message(path, 1)["values"].astype("float32"))


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
def test_one_header_with_two_sets_of_values_is_ambiguous(realdata, tmp_path, engine):
    tp = _messages_bytes(realdata / GFS_2P5)[198]
    handle = eccodes.codes_new_from_message(tp)
    try:  # the same field (keys, grid, product definition), other values
        eccodes.codes_set_values(handle, eccodes.codes_get_values(handle) * 2 + 1)
        other = eccodes.codes_get_message(handle)
    finally:
        eccodes.codes_release(handle)
    keys = {
        "short_name": "tp",
        "type_of_level": "surface",
        "level": 0,
        "step_type": "accum",
        "expected_grid": gfs_grid(2.5),
        "engine": engine,
    }
    for order in ((tp, other), (other, tp)):
        path = tmp_path / "two.grib2"
        path.write_bytes(b"".join(order))
        with pytest.raises(GribReadError, match=r"found 2 different fields: message 1 .*message 2"):
            read_grib_message(path, **keys)
    path.write_bytes(tp + other + tp)  # a repeat of the first with its values counts as one
    with pytest.raises(GribReadError, match="found 2 different fields"):
        read_grib_message(path, **keys)
    path.write_bytes(tp + tp)
    np.testing.assert_array_equal(
        read_grib_message(path, **keys), message(path, 1)["values"].astype("float32")
    )


def test_identical_keys_but_different_fields_are_still_ambiguous(realdata, tmp_path):
    # The same keys, but another level in the product definition: not the same field.
    soil = [message(realdata / GFS_2P5, n)["values"] for n in (181, 183)]
    assert not np.array_equal(*soil)
    messages = _messages_bytes(realdata / GFS_2P5)
    path = tmp_path / "soil.grib2"
    path.write_bytes(messages[180] + messages[182])
    with pytest.raises(GribReadError, match=r"found 2 different fields: message 1 .*, message 2"):
        read_grib_message(
            path,
            short_name="t",
            type_of_level="depthBelowLandLayer",
            level=0,
            step_type="instant",
            step_range="120",
            expected_grid=gfs_grid(2.5),
        )


# ---------------------------------------------------------------------- grids and longitudes

WAVE = "wgrib2__gdaswave.t00z.wcoast.0p16.f000.grib2"  # 1/6 degree, 210-250 E, increment 0.166667
LAMBERT = "cfgrib__lambert_grid.grib"  # GRIB1, one nlwrs message on a 475 x 475 Lambert grid


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
@pytest.mark.parametrize(
    "longitudes",
    [np.linspace(210, 250, 241), np.linspace(-150, -110, 241), 210 + np.arange(241) / 6],
    ids=["east", "signed", "arange"],
)
def test_both_engines_place_a_rounded_increment_grid_in_any_longitude_convention(
    realdata, engine, longitudes
):
    reference = message(realdata / WAVE, 1)
    np.testing.assert_allclose(reference["longitudes"][0, [0, -1]], [210, 250])
    assert 0 < np.isnan(reference["values"]).mean() < 0.9  # land is masked out
    values = read_grib_message(
        realdata / WAVE,
        short_name="ws",
        type_of_level="surface",
        level=1,
        step_type="instant",
        step_range="0",
        expected_grid=(np.linspace(50, 25, 151), longitudes),
        engine=engine,
    )
    np.testing.assert_array_equal(values, reference["values"].astype("float32"))


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
def test_a_grid_that_cannot_be_placed_fails_only_its_requests(realdata, engine):
    path = realdata / LAMBERT
    assert path.stat().st_size < 1_000_000
    found = read_grib_messages(
        path,
        {
            "net_longwave": MessageKeys("nlwrs", "heightAboveGround", 0, "instant", "18"),
            "temperature_2m": MessageKeys("2t", "heightAboveGround", 2, "instant"),
        },
        expected_grid=gfs_grid(2.5),
        engine=engine,
    )
    assert all(isinstance(error, GribReadError) for error in found.values())
    assert str(found["net_longwave"]) == (
        f"{path}: shortName=nlwrs typeOfLevel=heightAboveGround level=0 stepType=instant "
        "stepRange=18 (message 1) is on a lambert grid; only regular latitude-longitude grids "
        "can be placed on the template's grid"
    )
    assert "found 0" in str(found["temperature_2m"])


@pytest.mark.parametrize("engine", ["eccodes", "cfgrib"])
def test_a_lambert_file_is_read_failed_per_variable_in_a_region_job(realdata, tmp_path, engine):
    template = make_gfs_template(
        resolution_degrees=2.5, init_time_start=np.datetime64("1990-01-25")
    )
    longwave = GfsDataVar(
        name="net_longwave_radiation",
        encoding=template.data_vars[0].encoding,
        grib_element="NLWRS",
        grib_level="surface",
        grib_short_name="nlwrs",
        grib_type_of_level="heightAboveGround",
        grib_level_value=0,
    )
    template = replace(template, data_vars=(*template.data_vars[:1], longwave))
    job = GfsForecastRegionJob(
        template=template,
        store=tmp_path / "unused.zarr",
        append_dim_end=np.datetime64("1990-01-25T06"),
        region=slice(0, 1),
        grib_reader=engine,
    )
    coord = GfsSourceFileCoord(
        base_url="unused",
        init_time=np.datetime64("1990-01-25T00"),
        lead_time=np.timedelta64(18, "h"),
        data_var_names=("temperature_2m", longwave.name),
        downloaded_path=realdata / LAMBERT,
    )
    results = read_coord(job, coord, template.data_vars)
    assert {name: r.coord.status for name, r in results.items()} == {
        "temperature_2m": SourceFileStatus.READ_FAILED,
        longwave.name: SourceFileStatus.READ_FAILED,
    }
    assert all(r.values is None for r in results.values())
    error = results[longwave.name].coord.error
    assert error.startswith(f"{realdata / LAMBERT}: {longwave.name}: ")
    assert "stepRange=18 (message 1) is on a lambert grid" in error
    assert "found 0" in results["temperature_2m"].coord.error
