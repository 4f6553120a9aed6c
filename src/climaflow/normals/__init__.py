"""Rolling daily climate normals, reading every input year once.

On any daily xarray object (lazy or not)::

    from climaflow.normals import daily_normals
    normals = daily_normals(ds.tas, target_years=range(1980, 2015), window=30, min_years=25)

On a NEX-GDDP-style archive, every variable x region x scenario x target year as one Dask
graph, with NetCDF outputs (also the ``climaflow normals`` command)::

    from climaflow.normals import NormalsConfig, get_region, run_normals
    summary = run_normals(NormalsConfig(...), client)
"""

from climaflow.normals.calendar import UnsupportedCalendarError
from climaflow.normals.compute import (
    IncompleteYearWarning,
    MissingYearsWarning,
    TooFewYearsWarning,
    UndeclaredFillWarning,
    daily_normals,
    normals_from_sums,
)
from climaflow.normals.outcomes import NormalsSummary, Status, TargetOutcome
from climaflow.normals.output import (
    NormalMetadata,
    check_output,
    normal_dataset,
    normal_path,
    write_normal,
)
from climaflow.normals.periods import (
    DEFAULT_PERIODS,
    Period,
    TargetWindow,
    make_periods,
    target_windows,
)
from climaflow.normals.pipeline import run_normals
from climaflow.normals.plan import NormalsConfig, plan_normals
from climaflow.normals.regions import REGIONS, Region, get_region, region_slices
from climaflow.normals.window import window_mean
from climaflow.normals.yearly import YearlySums, dayofyear_sums

__all__ = [
    "DEFAULT_PERIODS",
    "REGIONS",
    "IncompleteYearWarning",
    "MissingYearsWarning",
    "NormalMetadata",
    "NormalsConfig",
    "NormalsSummary",
    "Period",
    "Region",
    "Status",
    "TargetOutcome",
    "TargetWindow",
    "TooFewYearsWarning",
    "UndeclaredFillWarning",
    "UnsupportedCalendarError",
    "YearlySums",
    "check_output",
    "daily_normals",
    "dayofyear_sums",
    "get_region",
    "make_periods",
    "normal_dataset",
    "normal_path",
    "normals_from_sums",
    "plan_normals",
    "region_slices",
    "run_normals",
    "target_windows",
    "window_mean",
    "write_normal",
]
