"""Regions as longitude/latitude boxes, and the index slices that cut them out of a grid.

Region bounds are in degrees east in 0..360 (NEX-GDDP's convention) and degrees north.
Grids with longitudes in 0..360 or -180..180 both work. Subsetting uses index slices computed
once from the grid's coordinates (never masks): one slice per axis, or two longitude slices
when the region wraps around the grid's longitude seam (e.g. Alaska, 170..235 E, on a
-180..180 grid). The subset's longitude axis is always contiguous and increasing, in 0..360
terms (with negative longitudes west of 0 E only for a region that crosses 0 E).
"""

import re
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import xarray as xr

T_Xarray = TypeVar("T_Xarray", xr.DataArray, xr.Dataset)


@dataclass(frozen=True)
class Region:
    """A longitude/latitude box: ``lon_min..lon_max`` degrees east (0..360), ``lat_min..lat_max`` N.

    ``lon_min > lon_max`` describes a box that crosses 0 E (e.g. 350..10).
    """

    name: str
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name):
            raise ValueError(f"region name {self.name!r} must be letters, digits, '_' or '-'")
        if not (0 <= self.lon_min <= 360 and 0 <= self.lon_max <= 360):
            raise ValueError(f"region {self.name}: longitudes must be in 0..360 degrees east")
        if not -90 <= self.lat_min < self.lat_max <= 90:
            raise ValueError(f"region {self.name}: need -90 <= lat_min < lat_max <= 90")

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(lon_min, lon_max, lat_min, lat_max)``."""
        return (self.lon_min, self.lon_max, self.lat_min, self.lat_max)

    def describe(self) -> str:
        """E.g. ``"CONUS (234..294 E, 24..50 N)"``."""
        return (
            f"{self.name} ({self.lon_min:g}..{self.lon_max:g} E, "
            f"{self.lat_min:g}..{self.lat_max:g} N)"
        )


REGIONS: dict[str, Region] = {
    region.name: region
    for region in (
        Region("CONUS", 234.0, 294.0, 24.0, 50.0),
        Region("AK", 170.0, 235.0, 50.0, 72.0),
        Region("HI", 181.63, 205.20, 18.92, 28.45),
        Region("PRVI", 292.03, 295.49, 17.62, 18.57),
        Region("GU", 144.58, 146.12, 13.18, 20.61),
    )
}


def get_region(spec: str | Region) -> Region:
    """A named region (``"CONUS"``, case-insensitive) or a custom one, ``"NAME:lon_min,lon_max,lat_min,lat_max"``.

    Raises
    ------
    ValueError
        For an unknown name or a malformed custom region.
    """
    if isinstance(spec, Region):
        return spec
    name, _, bounds = spec.strip().partition(":")
    if bounds:
        try:
            lon_min, lon_max, lat_min, lat_max = (float(v) for v in bounds.split(","))
        except ValueError:
            raise ValueError(
                f"custom region {spec!r}: expected NAME:lon_min,lon_max,lat_min,lat_max"
            ) from None
        return Region(name, lon_min, lon_max, lat_min, lat_max)
    region = REGIONS.get(name.upper())
    if region is None:
        raise ValueError(
            f"unknown region {name!r}; named regions are {', '.join(REGIONS)}, "
            "or give bounds as NAME:lon_min,lon_max,lat_min,lat_max (degrees east 0..360, north)"
        )
    return region


@dataclass(frozen=True)
class RegionSlices:
    """Where a region sits in a grid: a latitude slice, one or two longitude slices.

    ``lon`` holds the subset's longitudes (contiguous, increasing) that replace the grid's.
    """

    region: Region
    lat_slice: slice
    lon_slices: tuple[slice, ...]
    lon: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_lat, n_lon)`` of the subset."""
        n_lat = self.lat_slice.stop - self.lat_slice.start
        return (n_lat, len(self.lon))

    def subset(self, obj: T_Xarray, *, lat_dim: str = "lat", lon_dim: str = "lon") -> T_Xarray:
        """Cut the region out of ``obj`` (lazy for lazy inputs), longitudes relabelled."""
        obj = obj.isel({lat_dim: self.lat_slice})
        pieces = [obj.isel({lon_dim: piece}) for piece in self.lon_slices]
        subset = pieces[0] if len(pieces) == 1 else xr.concat(pieces, dim=lon_dim)
        return subset.assign_coords({lon_dim: (lon_dim, self.lon, obj[lon_dim].attrs)})


def region_slices(region: Region, lat: np.ndarray, lon: np.ndarray) -> RegionSlices:
    """Index slices of ``region`` in a grid with 1-D ``lat`` and ``lon`` cell centres.

    Cells are in the region when their centre is inside the box, edges included. ``lat`` may
    increase or decrease; ``lon`` must increase (0..360 or -180..180).

    Raises
    ------
    ValueError
        If no cell centre falls inside the region, or the grid is not monotonic.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if lon.size > 1 and np.any(np.diff(lon) <= 0):
        raise ValueError("longitudes must increase along the grid")
    lat_index = np.flatnonzero((lat >= region.lat_min) & (lat <= region.lat_max))
    # Degrees east of the region's western edge, in 0..360: the region is [0, width].
    width = region.lon_max - region.lon_min
    if width < 0:
        width += 360
    east_of_edge = (lon - region.lon_min) % 360
    lon_index = np.flatnonzero(east_of_edge <= width)
    if lat_index.size == 0 or lon_index.size == 0:
        raise ValueError(
            f"region {region.describe()} contains no cell centre of the grid "
            f"(lat {lat.min():g}..{lat.max():g}, lon {lon.min():g}..{lon.max():g})"
        )
    if np.any(np.diff(lat_index) != 1):
        raise ValueError("latitudes must be monotonic along the grid")
    order = lon_index[np.argsort(east_of_edge[lon_index], kind="stable")]
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    lon_slices = tuple(slice(int(run[0]), int(run[-1]) + 1) for run in np.split(order, breaks))
    subset_lon = lon[order] % 360
    wraps = np.flatnonzero(np.diff(subset_lon) < 0)
    if wraps.size:  # the region crosses 0 E: west of it, longitudes become negative
        subset_lon[: wraps[0] + 1] -= 360
    return RegionSlices(
        region=region,
        lat_slice=slice(int(lat_index[0]), int(lat_index[-1]) + 1),
        lon_slices=lon_slices,
        lon=subset_lon,
    )
