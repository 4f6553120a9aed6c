"""The normals graph: batches of target years laid out in worker lanes, sharing year tasks.

Task groups are named by stage and variable (``yearsum-tas``: one read of an input year for
every region) and by region for the batches (``normals-tas-CONUS``), so the dashboard shows
per-stage, per-variable progress.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from distributed import Client

from climaflow.normals.archive import YearInput
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
    """``config.batch_size``, or the largest batch whose window fits a worker thread's memory.

    A lane runs the batches of every region of a variable side by side (they share year
    tasks), so a year's size is the sum over the regions of its (model, variable).
    """
    if config.batch_size is not None:
        return config.batch_size
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    memory_per_thread = min(
        (w["memory_limit"] / max(w["nthreads"], 1) for w in workers if w.get("memory_limit")),
        default=2**31,
    )
    year_nbytes: dict[tuple[str, str], int] = defaultdict(int)
    for (model, variable, _), region in plan.slices.items():
        grid = plan.grids[(model, variable)]
        year_nbytes[(model, variable)] += (
            days_per_year(grid.calendar)
            * int(np.prod(region.shape))
            * np.result_type(grid.dtype, np.float32).itemsize
        )
    return default_batch_size(max(year_nbytes.values()), config.window, int(memory_per_thread))


@dataclass(frozen=True)
class _Batch:
    """Consecutive target years of one (model, variable, region, scenario)."""

    model: str
    variable: str
    region: str
    scenario: str
    index: int
    jobs: tuple[TargetJob, ...]


_YearKey = tuple[str, str, str, int]  # model, variable, source scenario, year


def batch_tasks(
    config: NormalsConfig,
    plan: NormalsPlan,
    jobs: Sequence[TargetJob],
    replacing: frozenset[Path],
    batch_size: int,
    workers: Sequence[str],
) -> list[tuple[Any, tuple[TargetJob, ...]]]:
    """One delayed batch task per batch (with its jobs), sharing one year task per input.

    A year task reads its input once for every region whose batches need it. Batches, ordered
    by model, variable, first target year and region, are split into one contiguous lane per
    worker. Each batch, and each year task it is the first to need, carries a loose
    restriction to its lane's worker: consecutive batches then find most of their years where
    they run, instead of fetching them from other workers. The year tasks first needed by a
    lane's batch k wait for its batch k - :data:`READ_AHEAD_BATCHES`, so reading stays at most
    that many batches ahead and memory does not grow with the number of target years. Keys
    carry a token of this run, so two runs at once share no key (nor progress display).
    """
    run = uuid.uuid4().hex[:8]
    batches = _batches(jobs, batch_size)
    lanes = _lanes(batches, workers)
    regions_of = _regions_per_year(batches)
    year_tasks: dict[_YearKey, Any] = {}
    grids: dict[tuple[str, str], Delayed] = {}
    lane_tasks: dict[str | None, list[Any]] = defaultdict(list)
    tasks = []
    for batch, lane in zip(batches, lanes, strict=True):
        earlier = lane_tasks[lane]
        gate = None
        if len(earlier) >= READ_AHEAD_BATCHES:
            # The key alone: the batch's graph comes with the run's other outputs. Carrying
            # it here would chain every lane's graph into the next task's (quadratic cost).
            gate = _key_only(earlier[-READ_AHEAD_BATCHES])
        with _in_lane(lane):
            year_results = []
            for key, source in _batch_inputs(batch):
                if key not in year_tasks:
                    grid = grids.get(key[:2])
                    if grid is None:
                        grid = grids[key[:2]] = _grid_key(plan, key[0], key[1], run)
                    year_tasks[key] = _year_task(
                        config, plan, key, source, regions_of[key], grid, gate, run
                    )
                year_results.append(year_tasks[key])
            # Static arguments are bound, not passed: dask would walk every dataclass in them.
            task = _delayed(partial(compute_batch, _batch_spec(config, plan, batch, replacing)))(
                *year_results,
                dask_key_name=(
                    f"normals-{batch.variable}-{batch.region}",
                    run,
                    batch.model,
                    batch.scenario,
                    batch.index,
                ),
            )
        earlier.append(task)
        tasks.append((task, batch.jobs))
    return tasks


def _batches(jobs: Sequence[TargetJob], batch_size: int) -> list[_Batch]:
    """Batches of ``batch_size`` consecutive targets, regions of a variable interleaved."""
    groups: dict[tuple[str, str, str, str], list[TargetJob]] = defaultdict(list)
    for job in jobs:
        groups[(job.model, job.variable, job.region.name, job.scenario)].append(job)
    batches = []
    for (model, variable, region, scenario), group in groups.items():
        group.sort(key=lambda job: job.target_year)
        for index in range(0, len(group), batch_size):
            batch_jobs = tuple(group[index : index + batch_size])
            batches.append(
                _Batch(model, variable, region, scenario, index // batch_size, batch_jobs)
            )
    batches.sort(key=lambda b: (b.model, b.variable, b.jobs[0].target_year, b.region, b.scenario))
    return batches


def _lanes(batches: Sequence[_Batch], workers: Sequence[str]) -> list[str | None]:
    """Each batch's worker: contiguous runs of about equal numbers of target years."""
    total = sum(len(batch.jobs) for batch in batches)
    lanes: list[str | None] = []
    done = 0
    for batch in batches:
        lanes.append(workers[done * len(workers) // total] if workers else None)
        done += len(batch.jobs)
    return lanes


def _batch_inputs(batch: _Batch) -> list[tuple[_YearKey, YearInput]]:
    """The inputs of a batch's windows, each once, by year."""
    sources = {source for job in batch.jobs for source in job.inputs}
    return [
        ((batch.model, batch.variable, source.scenario, source.year), source)
        for source in sorted(sources, key=lambda source: (source.year, source.scenario))
    ]


def _regions_per_year(batches: Sequence[_Batch]) -> dict[_YearKey, list[str]]:
    """The regions whose batches need each input year (so it is read once for all)."""
    regions: dict[_YearKey, list[str]] = defaultdict(list)
    for batch in batches:
        for key, _ in _batch_inputs(batch):
            if batch.region not in regions[key]:
                regions[key].append(batch.region)
    return regions


def _year_task(
    config: NormalsConfig,
    plan: NormalsPlan,
    key: _YearKey,
    source: YearInput,
    regions: Sequence[str],
    grid: Delayed,
    gate: Any,
    run: str,
) -> Any:
    """The delayed :func:`reduce_year` of one input for ``regions``, waiting for ``gate``.

    ``grid`` is the (model, variable)'s planned ``(lat, lon)``: one key of the graph, shared
    by its year tasks.
    """
    model, variable, _, _ = key
    regions_slices = tuple(plan.slices[(model, variable, region)] for region in regions)
    read = partial(reduce_year, source, regions_slices)
    return _delayed(read)(
        grid,
        config.allow_incomplete_years,
        config.storage_options,
        gate,  # positional: dask culls the whole graph upstream of a delayed keyword argument
        dask_key_name=(f"yearsum-{variable}", run, model, source.scenario, source.year),
    )


def _in_lane(lane: str | None) -> AbstractContextManager[None]:
    """Loosely restrict the tasks built inside to ``lane``'s worker (no lane: no workers yet,
    e.g. a cluster whose workers are still queued on a batch system)."""
    if lane is None:
        return nullcontext()
    return dask.annotate(workers=[lane], allow_other_workers=True)


def _key_only(task: Delayed) -> Delayed:
    """A reference to ``task``'s key that carries none of its graph (an empty layer of its own)."""
    layer = f"ref-{task.key}"
    return Delayed(task.key, HighLevelGraph({layer: {}}, {layer: set()}), layer=layer)


def _delayed(function: partial[Any]) -> Any:
    """``function`` (with its static arguments bound) as a delayed callable, not hashed:
    every call names its key."""
    return dask.delayed(function, name=function.func.__name__, pure=True, traverse=False)


def _grid_key(plan: NormalsPlan, model: str, variable: str, run: str) -> Delayed:
    """The planned ``(lat, lon)`` of a (model, variable) as one key of the graph."""
    grid = plan.grids[(model, variable)]
    shared: Delayed = dask.delayed(
        (grid.lat, grid.lon), name=(f"grid-{variable}", run, model), traverse=False
    )
    return shared


def _batch_spec(
    config: NormalsConfig, plan: NormalsPlan, batch: _Batch, replacing: frozenset[Path]
) -> BatchSpec:
    """What :func:`compute_batch` needs: the region's coordinates, attributes and rules."""
    slices = plan.slices[(batch.model, batch.variable, batch.region)]
    grid = plan.grids[(batch.model, batch.variable)]
    return BatchSpec(
        region=batch.region,
        jobs=batch.jobs,
        replacing=frozenset(job.path for job in batch.jobs) & replacing,
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
