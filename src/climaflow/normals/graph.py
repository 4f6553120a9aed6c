"""The normals graph: batches of target years laid out in worker lanes, sharing year tasks.

Task groups are named by stage, variable and region (``yearsum-tas-CONUS``,
``normals-tas-CONUS``) so the dashboard shows per-stage, per-variable progress.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr
from distributed import Client

from climaflow.normals.calendar import days_per_year
from climaflow.normals.plan import NormalsConfig, NormalsPlan, TargetJob
from climaflow.normals.tasks import BatchSpec, compute_batch, kept_attrs, reduce_year

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 10

# How many batches of a lane reading may run ahead of: 2 keeps peak memory flat in the number
# of target years; 3 ran about 20 % faster on 121 CONUS targets but held 40 % more memory.
READ_AHEAD_BATCHES = 2

# Share of a worker thread's memory a batch may plan to hold.
BATCH_MEMORY_FRACTION = 0.5

_KEPT_VARIABLE_ATTRS = ("units", "standard_name", "long_name", "cell_methods")

_KEPT_COORDINATE_ATTRS = ("units", "standard_name", "long_name", "axis")


def default_batch_size(year_nbytes: int, window: int, memory_per_thread: int) -> int:
    """Target years per batch so that a batch's year inputs fit in its share of memory.

    A batch of B target years holds B + window - 1 per-year results and about three
    accumulators; it may use :data:`BATCH_MEMORY_FRACTION` of a worker thread's memory.
    Capped at :data:`MAX_BATCH_SIZE` to keep enough batches for every worker.
    """
    fitting = int(memory_per_thread * BATCH_MEMORY_FRACTION // max(year_nbytes, 1)) - window - 2
    if fitting < 1:
        logger.warning(
            "a %d-year window of %.0f MB per year exceeds the planned share of worker memory; "
            "using batches of 1 target year",
            window,
            year_nbytes / 1e6,
        )
    return max(1, min(MAX_BATCH_SIZE, fitting))


def batch_size_for(config: NormalsConfig, plan: NormalsPlan, client: Client) -> int:
    if config.batch_size is not None:
        return config.batch_size
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    memory_per_thread = min(
        (w["memory_limit"] / max(w["nthreads"], 1) for w in workers if w.get("memory_limit")),
        default=2**31,
    )
    year_nbytes = max(
        days_per_year(plan.grids[(model, variable)].calendar)
        * int(np.prod(region.shape))
        * np.result_type(plan.grids[(model, variable)].dtype, np.float32).itemsize
        for (model, variable, _), region in plan.slices.items()
    )
    return default_batch_size(year_nbytes, config.window, int(memory_per_thread))


def batch_tasks(
    config: NormalsConfig,
    plan: NormalsPlan,
    jobs: Sequence[TargetJob],
    replacing: frozenset[Path],
    batch_size: int,
    workers: Sequence[str],
) -> list[tuple[Any, tuple[TargetJob, ...]]]:
    """One delayed batch task per batch (with its jobs), sharing one year task per input.

    Batches, ordered by variable, region and first target year, are split into one contiguous
    lane per worker. Each batch, and each year task it is the first to need, carries a loose
    restriction to its lane's worker: consecutive batches then find most of their years where
    they run, instead of fetching half of them from other workers. The year tasks first needed
    by a lane's batch k wait for its batch k - :data:`READ_AHEAD_BATCHES`, so reading stays at
    most that many batches ahead and memory does not grow with the number of target years.
    Keys carry a token of this run, so two runs at once share no key (nor progress display).
    """
    run = uuid.uuid4().hex[:8]
    groups: dict[tuple[str, str, str, str], list[TargetJob]] = defaultdict(list)
    for job in jobs:
        groups[(job.model, job.variable, job.region.name, job.scenario)].append(job)
    batches: list[tuple[str, str, str, str, int, tuple[TargetJob, ...]]] = []
    for (model, variable, region_name, scenario), group in groups.items():
        group.sort(key=lambda job: job.target_year)
        for index in range(0, len(group), batch_size):
            batch_jobs = tuple(group[index : index + batch_size])
            batches.append(
                (model, variable, region_name, scenario, index // batch_size, batch_jobs)
            )
    batches.sort(key=lambda b: (b[0], b[1], b[2], b[5][0].target_year, b[3]))

    year_tasks: dict[tuple[str, str, str, str, int], Any] = {}
    lane_tasks: dict[str | None, list[Any]] = defaultdict(list)
    tasks = []
    done = 0
    for model, variable, region_name, scenario, index, batch_jobs in batches:
        lane = workers[done * len(workers) // len(jobs)] if workers else None
        done += len(batch_jobs)
        earlier = lane_tasks[lane]
        gate = earlier[-READ_AHEAD_BATCHES] if len(earlier) >= READ_AHEAD_BATCHES else None
        with dask.annotate(workers=[lane] if lane else None, allow_other_workers=True):
            slices = plan.slices[(model, variable, region_name)]
            grid = plan.grids[(model, variable)]
            year_results = []
            for source in sorted(
                {i for job in batch_jobs for i in job.inputs}, key=lambda i: (i.year, i.scenario)
            ):
                key = (model, variable, region_name, source.scenario, source.year)
                if key not in year_tasks:
                    year_tasks[key] = dask.delayed(reduce_year, pure=True)(
                        source,
                        slices,
                        (grid.lat, grid.lon),
                        config.allow_incomplete_years,
                        after=gate,
                        dask_key_name=(
                            f"yearsum-{variable}-{region_name}",
                            run,
                            model,
                            source.scenario,
                            source.year,
                        ),
                    )
                year_results.append(year_tasks[key])
            batch = BatchSpec(
                jobs=batch_jobs,
                replacing=frozenset(job.path for job in batch_jobs) & replacing,
                lat=xr.DataArray(
                    grid.lat[slices.lat_slice],
                    dims="lat",
                    attrs=kept_attrs(grid.lat_attrs, _KEPT_COORDINATE_ATTRS),
                ),
                lon=xr.DataArray(
                    slices.lon, dims="lon", attrs=kept_attrs(grid.lon_attrs, _KEPT_COORDINATE_ATTRS)
                ),
                variable_attrs=kept_attrs(grid.variable_attrs, _KEPT_VARIABLE_ATTRS),
                calendar=grid.calendar,
                window=config.window,
                min_years=config.min_years,
            )
            task = dask.delayed(compute_batch, pure=True)(
                batch,
                *year_results,
                dask_key_name=(f"normals-{variable}-{region_name}", run, model, scenario, index),
            )
        lane_tasks[lane].append(task)
        tasks.append((task, batch_jobs))
    return tasks
