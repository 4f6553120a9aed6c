"""NEX-GDDP-CMIP6: NASA's daily, 0.25°, bias-corrected CMIP6 projections in yearly NetCDF files."""

from climaflow.datasets.nex_gddp_cmip6.filenames import DEFAULT_BASE_URL
from climaflow.datasets.nex_gddp_cmip6.inventory import inventory
from climaflow.datasets.nex_gddp_cmip6.region_job import NexGddpRegionJob
from climaflow.datasets.nex_gddp_cmip6.source_file_coord import NexGddpSourceFileCoord
from climaflow.datasets.nex_gddp_cmip6.template import (
    NexGddpDataVar,
    NexGddpTemplate,
    make_nex_gddp_template,
)
from climaflow.datasets.registry import DatasetIntegration

NEX_GDDP_CMIP6 = DatasetIntegration(
    dataset_id="nex-gddp-cmip6",
    description="NASA NEX-GDDP-CMIP6 daily projections (yearly NetCDF): time x lat x lon, "
    "one store per model and scenario",
    make_template=make_nex_gddp_template,
    region_job=NexGddpRegionJob,
    default_source_url=DEFAULT_BASE_URL,
    inventory=inventory,
)

__all__ = [
    "NEX_GDDP_CMIP6",
    "NexGddpDataVar",
    "NexGddpRegionJob",
    "NexGddpSourceFileCoord",
    "NexGddpTemplate",
    "make_nex_gddp_template",
]
