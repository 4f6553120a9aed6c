"""asv benchmarks of planning: building the graphs of both pipelines on the real templates.

Nothing is submitted or run; ``benchmarks/compare_planning.py`` also times the submission to
a scheduler and prints the cost per task.
"""

import tempfile
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob
from climaflow.datasets.gfs_forecast.template import GfsForecastTemplate
from climaflow.datasets.nex_gddp_cmip6 import NexGddpRegionJob, make_nex_gddp_template
from climaflow.normals.graph import batch_tasks

from .compare_planning import normals_plan


class ReformatGraphs:
    """Metadata, region jobs and their graphs: NEX-GDDP years and GFS days of init times."""

    params = (["nex-gddp-cmip6 10 years", "gfs-forecast 1 day"],)
    param_names: ClassVar[list[str]] = ["case"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, case: str) -> None:
        warnings.simplefilter("ignore")
        self.store = Path(tempfile.mkdtemp(prefix="climaflow-asv-planning-")) / "store.zarr"
        if case.startswith("nex"):
            self.template: Any = make_nex_gddp_template()
            self.job_class: Any = NexGddpRegionJob
            self.end: Any = 1960
        else:
            self.template = GfsForecastTemplate()
            self.job_class = GfsForecastRegionJob
            self.end = self.template.init_time_start + np.timedelta64(1, "D")

    def time_metadata_and_graphs(self, case: str) -> None:
        self.template.write_metadata(self.store, self.end)
        jobs = self.job_class.get_jobs(self.template, self.store, self.end, source_url="/archive")
        for index, job in enumerate(jobs):
            job.to_graph(f"asv-{index}")


class NormalsGraph:
    """The normals graph of one model x 4 variables x 3 scenarios x CONUS, 1950-2100."""

    timeout = 600
    number = 1
    repeat = 3

    def setup(self) -> None:
        self.config, self.plan = normals_plan(models=1)

    def time_batch_tasks(self) -> None:
        batch_tasks(self.config, self.plan, self.plan.jobs, frozenset(), 10, workers=["a", "b"])
