"""Regions and their index slices, on 0..360 and -180..180 grids."""

import dask.array
import numpy as np
import pytest
import xarray as xr

from climaflow.normals.regions import REGIONS, Region, get_region, region_slices
from climaflow.testing.nex_gddp_archive import nex_gddp_grid


def grid_data(lat: np.ndarray, lon: np.ndarray) -> xr.DataArray:
    """Values that depend on (lat, lon in 0..360) only, so subsets can be compared."""
    values = lat[:, None] * 1000 + (lon[None, :] % 360)
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_named_regions_have_the_design_bounds():
    assert {name: region.bounds for name, region in REGIONS.items()} == {
        "CONUS": (234.0, 294.0, 24.0, 50.0),
        "AK": (170.0, 235.0, 50.0, 72.0),
        "HI": (181.63, 205.20, 18.92, 28.45),
        "PRVI": (292.03, 295.49, 17.62, 18.57),
        "GU": (144.58, 146.12, 13.18, 20.61),
    }


def test_get_region_by_name_or_bounds():
    assert get_region("conus") is REGIONS["CONUS"]
    assert get_region("NE:280,295,40,48") == Region("NE", 280, 295, 40, 48)
    assert get_region(REGIONS["AK"]) is REGIONS["AK"]
    with pytest.raises(ValueError, match=r"unknown region .Mars..*CONUS, AK, HI, PRVI, GU"):
        get_region("Mars")
    with pytest.raises(ValueError, match="NAME:lon_min,lon_max,lat_min,lat_max"):
        get_region("NE:280,295")
    with pytest.raises(ValueError, match=r"0\.\.360"):
        Region("W", -120, -60, 20, 50)
    with pytest.raises(ValueError, match="lat_min < lat_max"):
        Region("X", 10, 20, 50, 40)


def test_conus_on_the_quarter_degree_grid():
    lat, lon = nex_gddp_grid()
    slices = region_slices(REGIONS["CONUS"], lat, lon)
    assert slices.shape == (104, 240)
    assert len(slices.lon_slices) == 1
    assert (slices.lon[0], slices.lon[-1]) == (234.125, 293.875)
    subset = slices.subset(grid_data(lat, lon))
    assert (float(subset.lat[0]), float(subset.lat[-1])) == (24.125, 49.875)


@pytest.mark.parametrize("name", list(REGIONS))
def test_every_region_on_minus_180_grid_equals_the_0_360_result(name):
    lat, lon360 = nex_gddp_grid()
    lon180 = np.concatenate([lon360[lon360 >= 180] - 360, lon360[lon360 < 180]])
    region = REGIONS[name]
    on_360 = region_slices(region, lat, lon360).subset(grid_data(lat, lon360))
    on_180 = region_slices(region, lat, lon180).subset(grid_data(lat, lon180))
    xr.testing.assert_identical(on_180, on_360)
    assert (np.diff(on_180.lon) > 0).all()


def test_alaska_crosses_the_antimeridian_of_a_minus_180_grid():
    lat, lon360 = nex_gddp_grid()
    lon180 = np.concatenate([lon360[lon360 >= 180] - 360, lon360[lon360 < 180]])
    slices = region_slices(REGIONS["AK"], lat, lon180)
    assert len(slices.lon_slices) == 2  # 170..180 at the grid's end, -180..-125 at its start
    np.testing.assert_allclose(np.diff(slices.lon), 0.25)
    assert (slices.lon[0], slices.lon[-1]) == (170.125, 234.875)


def test_a_region_across_0_east_gets_negative_longitudes_west_of_it():
    lat, lon = np.array([50.0, 51.0]), np.arange(0.5, 360, 1.0)
    slices = region_slices(Region("UK", 350, 2, 49, 52), lat, lon)
    np.testing.assert_array_equal(
        slices.lon, [-9.5, -8.5, -7.5, -6.5, -5.5, -4.5, -3.5, -2.5, -1.5, -0.5, 0.5, 1.5]
    )
    subset = slices.subset(grid_data(lat, lon))
    assert subset.sel(lon=-0.5).values[0] == 50 * 1000 + 359.5


def test_descending_latitudes_and_lazy_subsets():
    lat, lon = np.arange(89.5, -90, -1.0), np.arange(0.5, 360, 1.0)
    data = grid_data(lat, lon).chunk({"lat": 30})
    subset = region_slices(REGIONS["HI"], lat, lon).subset(data)
    assert isinstance(subset.data, dask.array.Array)
    assert (np.diff(subset.lat) < 0).all()
    assert float(subset.lat.max()) <= 28.45 and float(subset.lat.min()) >= 18.92
    np.testing.assert_array_equal(subset.values, grid_data(subset.lat.values, subset.lon.values))


def test_region_outside_the_grid_is_a_clear_error():
    lat, lon = np.arange(-10.5, 11, 1.0), np.arange(0.5, 20, 1.0)
    with pytest.raises(ValueError, match=r"CONUS \(234..294 E, 24..50 N\) contains no cell"):
        region_slices(REGIONS["CONUS"], lat, lon)
    with pytest.raises(ValueError, match="longitudes must increase"):
        region_slices(REGIONS["CONUS"], lat, lon[::-1])
