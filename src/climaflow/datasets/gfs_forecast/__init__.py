"""``gfs-forecast``: NOAA GFS 0.25° forecasts from GRIB2, fetched by ``.idx`` byte ranges."""

from climaflow.datasets.gfs_forecast.data_var import GfsDataVar
from climaflow.datasets.gfs_forecast.inventory import inventory
from climaflow.datasets.gfs_forecast.region_job import GfsForecastRegionJob
from climaflow.datasets.gfs_forecast.source_file_coord import NOAA_GFS_BASE_URL, GfsSourceFileCoord
from climaflow.datasets.gfs_forecast.template import GfsForecastTemplate, make_gfs_template
from climaflow.datasets.registry import DatasetIntegration

GFS_FORECAST = DatasetIntegration(
    dataset_id="gfs-forecast",
    description="NOAA GFS 0.25° forecasts (GRIB2): init_time x lead_time x latitude x longitude",
    make_template=make_gfs_template,
    region_job=GfsForecastRegionJob,
    default_source_url=NOAA_GFS_BASE_URL,
    inventory=inventory,
)

__all__ = [
    "GFS_FORECAST",
    "GfsDataVar",
    "GfsForecastRegionJob",
    "GfsForecastTemplate",
    "GfsSourceFileCoord",
    "make_gfs_template",
]
