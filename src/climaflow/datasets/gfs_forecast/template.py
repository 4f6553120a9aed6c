"""The ``gfs-forecast`` output dataset: NOAA GFS 0.25° forecasts by init and lead time.

Chunks and shards (real grid, float32):

- chunk ``1 init x 105 leads x 121 lat x 121 lon`` = 6.2 MB uncompressed: a point's full
  forecast is 2 chunks per init time; a map at one lead is 6 x 12 chunks.
- shard ``1 init x 210 leads x 363 lat x 363 lon`` = 110 MB uncompressed (about 20-40 MB
  after rounding and zstd): objects large enough for cloud storage, and 8 independent
  shard writes per variable and init time so writes spread over workers.

One init time is one shard deep, so every init time is its own region job.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from climaflow.datasets.gfs_forecast.data_var import GfsDataVar
from climaflow.datasets.gfs_forecast.data_vars import gfs_data_vars
from climaflow.reformat.template import Template

HOUR = np.timedelta64(1, "h")

#: The real GFS lead times: hourly to 120 h, then 3-hourly to 384 h (209 steps).
GFS_LEAD_TIMES_HOURS: tuple[int, ...] = (*range(0, 121), *range(123, 385, 3))
GFS_INIT_TIME_START = np.datetime64("2021-05-01T00", "ns")
GFS_INIT_TIME_FREQUENCY = np.timedelta64(6, "h")
#: When all of an init time's files are on NOAA's servers, counted from the init time.
GFS_SOURCE_LATENCY = np.timedelta64(6, "h")
GFS_RESOLUTION_DEGREES = 0.25
GFS_CHUNKS = (1, 105, 121, 121)
GFS_SHARDS = (1, 210, 363, 363)


def gfs_grid(resolution_degrees: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """The global GFS regular lat-lon grid at a resolution.

    Parameters
    ----------
    resolution_degrees
        Grid spacing in degrees; 180 and 360 must be whole multiples of it and it must be a
        whole number of micro-degrees (GRIB2's unit), e.g. 0.25 (real GFS: 721 x 1440), 2.5, 5.

    Returns
    -------
    latitudes, longitudes
        Float64 1-D arrays: latitudes from 90 down to -90 inclusive, longitudes from 0 up to
        ``360 - resolution_degrees``.
    """
    res = float(resolution_degrees)
    if not res > 0:
        raise ValueError(f"resolution must be positive, got {resolution_degrees}")
    n_lat = round(180.0 / res)
    n_lon = round(360.0 / res)
    micro = round(res * 1e6)
    if abs(n_lat * res - 180.0) > 1e-9 or abs(n_lon * res - 360.0) > 1e-9:
        raise ValueError(f"180 and 360 must be whole multiples of the resolution {res}")
    if abs(micro - res * 1e6) > 1e-6:
        raise ValueError(f"resolution {res} is not a whole number of micro-degrees")
    latitudes = 90.0 - res * np.arange(n_lat + 1, dtype=np.float64)
    longitudes = res * np.arange(n_lon, dtype=np.float64)
    return latitudes, longitudes


@dataclass(frozen=True, kw_only=True)
class GfsForecastTemplate(Template[GfsDataVar]):
    """``init_time x lead_time x latitude x longitude``; append dimension ``init_time``.

    The defaults describe the real 0.25° GFS; tests scale the grid, leads and chunks down
    with :func:`make_gfs_template`.
    """

    dataset_id: str = "gfs-forecast"
    dims: tuple[str, ...] = ("init_time", "lead_time", "latitude", "longitude")
    append_dim: str = "init_time"
    data_vars: tuple[GfsDataVar, ...] = field(
        default_factory=lambda: gfs_data_vars(GFS_CHUNKS, GFS_SHARDS)
    )
    attrs: Mapping[str, Any] = field(
        default_factory=lambda: {
            "title": "NOAA GFS forecast",
            "source": "NOAA Global Forecast System, 0.25 degree GRIB2 (pgrb2.0p25)",
            "institution": "NOAA NCEP",
            "Conventions": "CF-1.10",
        }
    )
    coordinate_attrs: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {
            "init_time": {
                "long_name": "Forecast initialization time",
                "standard_name": "forecast_reference_time",
            },
            "lead_time": {"long_name": "Forecast lead time", "standard_name": "forecast_period"},
            "valid_time": {"long_name": "Valid time", "standard_name": "time"},
            "latitude": {"units": "degrees_north", "standard_name": "latitude"},
            "longitude": {"units": "degrees_east", "standard_name": "longitude"},
        }
    )
    coordinate_encoding: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {
            "init_time": {"units": "seconds since 1970-01-01", "dtype": "int64"},
            "lead_time": {"units": "seconds", "dtype": "int64"},
            "valid_time": {"units": "seconds since 1970-01-01", "dtype": "int64"},
        }
    )
    init_time_start: np.datetime64 = GFS_INIT_TIME_START
    init_time_frequency: np.timedelta64 = GFS_INIT_TIME_FREQUENCY
    lead_times_hours: tuple[int, ...] = GFS_LEAD_TIMES_HOURS
    resolution_degrees: float = GFS_RESOLUTION_DEGREES
    # NOAA publishes an init's files over about 4 hours, from about 3.5 hours after it; an
    # update goes back 2 days (8 inits) for inits a run left incomplete or failed.
    update_lookback: int = 8
    source_latency: np.timedelta64 | None = GFS_SOURCE_LATENCY

    def dimension_coordinates(self, append_dim_end: Any) -> dict[str, np.ndarray]:
        latitudes, longitudes = gfs_grid(self.resolution_degrees)
        return {
            "init_time": np.arange(
                # numpy's stub omits the datetime64-and-unit form of the constructor.
                np.datetime64(self.init_time_start, "ns"),  # type: ignore[call-overload]
                np.datetime64(append_dim_end, "ns"),
                self.init_time_frequency,
            ).astype("datetime64[ns]"),
            "lead_time": (np.array(self.lead_times_hours) * HOUR).astype("timedelta64[ns]"),
            "latitude": latitudes,
            "longitude": longitudes,
        }

    def derived_coordinates(
        self, dimension_coordinates: Mapping[str, np.ndarray]
    ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        init = dimension_coordinates["init_time"][:, None]
        lead = dimension_coordinates["lead_time"][None, :]
        return {"valid_time": (("init_time", "lead_time"), init + lead)}


def make_gfs_template(
    *,
    resolution_degrees: float = GFS_RESOLUTION_DEGREES,
    lead_times_hours: tuple[int, ...] = GFS_LEAD_TIMES_HOURS,
    init_time_start: np.datetime64 = GFS_INIT_TIME_START,
    chunks: tuple[int, ...] = GFS_CHUNKS,
    shards: tuple[int, ...] | None = GFS_SHARDS,
) -> GfsForecastTemplate:
    """A ``gfs-forecast`` template; the defaults are the real dataset's."""
    return GfsForecastTemplate(
        data_vars=gfs_data_vars(chunks, shards),
        resolution_degrees=resolution_degrees,
        lead_times_hours=lead_times_hours,
        init_time_start=init_time_start,
    )
