"""Reading GRIB2 messages by explicit keys, on real NOAA files."""

from pathlib import Path

import eccodes
import numpy as np
import pytest

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, GfsSourceFileCoord
from climaflow.datasets.gfs_forecast.template import gfs_grid, make_gfs_template
from climaflow.reformat.grib_read import GribReadError, read_grib_message

GFS_0P25 = "nwpconsumer__gfs.t06z.pgrb2.0p25.f001"
GFS_2P5 = "pygrib__gfs.t12z.pgrbf120.2p5deg.grib2"


def message(path: Path, number: int) -> dict[str, np.ndarray]:
    """Values, latitudes and longitudes of the ``number``-th message (1-based), via eccodes."""
    with path.open("rb") as f:
        for _ in range(number - 1):
            eccodes.codes_release(eccodes.codes_grib_new_from_file(f))
        handle = eccodes.codes_grib_new_from_file(f)
    try:
        shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
        return {
            key: eccodes.codes_get_array(handle, key).reshape(shape)
            for key in ("values", "latitudes", "longitudes")
        }
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
