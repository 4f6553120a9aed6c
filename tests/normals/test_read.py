"""Reading inputs: metadata at planning (locally and by byte ranges over HTTP), years in regions."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climaflow.normals.archive import NexGddpArchive, YearInput
from climaflow.normals.read import inspect_input, read_year, read_year_regions
from climaflow.normals.regions import Region, region_slices
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive
from tests.normals.test_archive import LAT, LON, MODEL, REGION, archive_root, expected_subset

__all__ = ["archive_root"]  # the module fixture, shared with test_archive


def test_read_year_cuts_the_region_by_index_slices(archive_root):
    inputs = NexGddpArchive(archive_root, MODEL).year_inputs("tas", "historical", [2000, 2001])
    slices = region_slices(REGION, LAT, LON)
    data = read_year(inputs[2000], slices)
    assert data.dims == ("time", "lat", "lon") and data.shape == (365, 2, 2)
    np.testing.assert_array_equal(data.lon, [251.5, 252.5])
    np.testing.assert_array_equal(data.values, expected_subset("tas", 2000))
    revised = read_year(inputs[2001], slices)
    np.testing.assert_array_equal(revised.values, expected_subset("tas", 2001, "v1.1"))


def test_inspect_reads_grid_calendar_and_attributes(archive_root):
    source = NexGddpArchive(archive_root, MODEL).year_inputs("pr", "historical", [2000])[2000]
    grid = inspect_input(source)
    np.testing.assert_array_equal(grid.lat, LAT)
    np.testing.assert_array_equal(grid.lon, LON)
    assert grid.calendar == "noleap" and grid.dtype == np.float32
    assert grid.variable_attrs["units"] == "kg m-2 s-1"
    assert grid.lat_attrs["units"] == "degrees_north"


def test_unreadable_inputs_are_clear_errors(tmp_path):
    write_synthetic_nex_gddp_archive(tmp_path, model=MODEL, years=[2000, 2001], lat=LAT, lon=LON)
    write_synthetic_nex_gddp_archive(
        tmp_path, model=MODEL, scenario="ssp245", years=[2050], lat=LAT, lon=LON, calendar="360_day"
    )
    archive = NexGddpArchive(tmp_path, MODEL)
    inputs = archive.year_inputs("tas", "historical", [2000, 2001])
    slices = region_slices(REGION, LAT, LON)
    corrupt = Path(inputs[2000].location)
    corrupt.write_bytes(corrupt.read_bytes()[:2000])
    with pytest.raises(OSError, match=f"cannot open {corrupt}"):
        read_year(inputs[2000], slices)
    renamed = Path(inputs[2001].location)
    with pytest.raises(ValueError, match=f"{renamed} has no variable 'pr'"):
        read_year(inputs[2001].__class__(**{**inputs[2001].__dict__, "variable": "pr"}), slices)
    assert inspect_input(archive.year_inputs("tas", "ssp245", [2050])[2050]).calendar == "360_day"


def test_one_opening_reads_every_region(archive_root):
    source = NexGddpArchive(archive_root, MODEL).year_inputs("tas", "historical", [2000])[2000]
    west, east = Region("WEST", 250, 251.6, 40, 43), REGION
    subsets = read_year_regions(source, [region_slices(r, LAT, LON) for r in (west, east)])
    full = expected_subset("tas", 2000)  # lat 41.5-42.5, lon 251.5-252.5
    np.testing.assert_array_equal(subsets[1].values, full)
    np.testing.assert_array_equal(subsets[0].lon, [250.5, 251.5])
    np.testing.assert_array_equal(subsets[0].values[:, 1:, 1], full[:, :, 0])


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An archive root and one yearly file of about 0.8 MB in it (28 x 44 cells)."""
    root = tmp_path_factory.mktemp("large")
    (path,) = write_synthetic_nex_gddp_archive(
        root,
        model=MODEL,
        years=[2000],
        lat=np.arange(46.25, 60, 0.5),
        lon=np.arange(170.25, 192, 0.5),
    )
    return root, path


def served_bytes(server, path: Path, root: Path) -> int:
    name = "/" + path.relative_to(root).as_posix()
    return sum(r.bytes_sent for r in server.requests if r.path == name)


def test_inspecting_over_http_reads_the_header_not_the_file(large_file):
    root, path = large_file
    local = NexGddpArchive(root, MODEL).year_inputs("tas", "historical", [2000])[2000]
    expected = inspect_input(local)
    with serve_directory(root) as server:
        source = NexGddpArchive(server.url, MODEL).year_inputs("tas", "historical", [2000])[2000]
        server.clear_requests()
        grid = inspect_input(source)
        assert all(r.range is not None for r in server.requests if r.method == "GET")
        assert 0 < served_bytes(server, path, root) < path.stat().st_size / 20
    np.testing.assert_array_equal(grid.lat, expected.lat)
    np.testing.assert_array_equal(grid.lon, expected.lon)
    assert (grid.calendar, grid.dtype, grid.variable_attrs) == (
        expected.calendar,
        expected.dtype,
        expected.variable_attrs,
    )


def test_inspecting_falls_back_to_the_whole_file(large_file):
    """With storage options (which netCDF-C cannot take), or when netCDF-C fails (here: the
    HEAD request it starts with is refused), the file is fetched whole through climaflow.io."""
    root, path = large_file
    with serve_directory(root) as server:
        source = NexGddpArchive(server.url, MODEL).year_inputs("tas", "historical", [2000])[2000]
        server.clear_requests()
        options = {"client_options": {"timeout": "30 s"}}
        assert inspect_input(source, storage_options=options).calendar == "noleap"
        assert served_bytes(server, path, root) == path.stat().st_size
        server.clear_requests()
        server.add_fault("*.nc", "status", status=403, methods=("HEAD",), times=None)
        assert inspect_input(source).calendar == "noleap"
        whole = [r for r in server.requests if r.method == "GET" and r.status == 200]
        assert [r.bytes_sent for r in whole] == [path.stat().st_size]


def _write_declared_fills(path: Path, packed: bool) -> np.ndarray:
    """A year of ``tas`` (noleap) with declared fills: float32 with ``_FillValue`` -999 and
    ``missing_value`` 1e20, or int16 packed by ``scale_factor``/``add_offset``; returns the
    values as written (fills included). Latitudes are packed too (int16, scale 0.5)."""
    import netCDF4

    rng = np.random.default_rng(3)
    kelvin = rng.normal(280, 5, (365, LAT.size, LON.size))
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        for name, size in (("time", 365), ("lat", LAT.size), ("lon", LON.size)):
            nc.createDimension(name, size)
        time = nc.createVariable("time", "f8", ("time",))
        time.units, time.calendar = "days since 2000-01-01", "noleap"
        time[:] = np.arange(365) + 0.5
        lat = nc.createVariable("lat", "i2", ("lat",))
        lat.scale_factor, lat.units = 0.5, "degrees_north"
        lat.set_auto_maskandscale(False)
        lat[:] = np.round(LAT / 0.5).astype(np.int16)
        nc.createVariable("lon", "f8", ("lon",))[:] = LON
        if packed:
            tas = nc.createVariable("tas", "i2", ("time", "lat", "lon"), fill_value=-32768)
            tas.scale_factor, tas.add_offset = np.float32(0.01), np.float32(280.0)
            tas.set_auto_maskandscale(False)
            raw = np.round((kelvin - 280.0) / 0.01).astype(np.int16)
            raw[0, 0, 0] = -32768
        else:
            tas = nc.createVariable("tas", "f4", ("time", "lat", "lon"), fill_value=-999.0)
            tas.missing_value = np.float32(1e20)
            raw = kelvin.astype(np.float32)
            raw[0, 0, 0], raw[5, 1, 2] = -999.0, 1e20
        tas[:] = raw
    return raw


@pytest.mark.filterwarnings("ignore:variable 'tas' has multiple fill values")  # the reference's
@pytest.mark.parametrize("packed", [False, True], ids=["float32 with fills", "int16 packed"])
def test_declared_fills_and_packing_read_as_xarray_decodes_them(tmp_path, packed):
    path = tmp_path / "tas_day_TEST_historical_r1i1p1f1_gn_2000.nc"
    raw = _write_declared_fills(path, packed)
    source = YearInput("tas", "historical", 2000, str(path), "test")
    np.testing.assert_array_equal(inspect_input(source).lat, LAT)
    everywhere = region_slices(Region("ALL", 0, 360, -90, 90), LAT, LON)
    data = read_year_regions(source, [everywhere], grid=(LAT, LON))[0]
    np.testing.assert_array_equal(data["lat"].values, LAT)  # packed coordinates are decoded
    with xr.open_dataset(path) as decoded:
        expected = decoded["tas"].values
    np.testing.assert_array_equal(data.values, expected)  # bit for bit
    assert np.isnan(data.values[0, 0, 0]) and np.isnan(expected[0, 0, 0])
    assert data.dtype == expected.dtype
    if not packed:
        assert np.isnan(data.values[5, 1, 2]) and raw[5, 1, 2] == np.float32(1e20)
        assert "_FillValue" not in data.attrs and data.encoding["_FillValue"] == -999.0
