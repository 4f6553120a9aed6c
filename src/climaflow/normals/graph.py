"""The normals graph: batches of target years laid out in worker lanes, sharing year tasks.

Task groups are named by stage and variable (``yearsum-tas``: one read of an input year for
every region) and by region for the batches (``normals-tas-CONUS``), so the dashboard shows
per-stage, per-variable progress.
"""

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
from distributed import Client, Future

from climaflow.normals.archive import YearInput
from climaflow.normals.calendar import days_per_year
from climaflow.normals.plan import NormalsConfig, NormalsPlan, TargetJob
from climaflow.normals.tasks import BatchSpec, compute_batch, kept_attrs, reduce_year

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 10

# How many batches of a lane reading may run ahead of: 2 keeps peak memory flat in the number
# of target years; 3 ran about 20 % faster on 121 CONUS targets but held 40 % more memory.
READ_AHEAD_BATCHES = 2

# Lanes of a graph built while the cluster has no workers yet: enough batches in flight for
# the workers that join, each lane keeping its own read-ahead.
VIRTUAL_LANES = 8

# Share of a worker thread's memory a batch may plan to hold.
BATCH_MEMORY_FRACTION = 0.5

_KEPT_VARIABLE_ATTRS = ("units", "standard_name", "long_name", "cell_methods")

_KEPT_COORDINATE_ATTRS = ("units", "standard_name", "long_name", "axis")


def default_batch_size(year_nbytes: int, window: int, memory_per_thread: int) -> int:
    """Target years per batch so that a batch's year inputs fit in its share of memory.

    A batch of B target years holds B + window - 1 per-year results and B normals (each no
    bigger than a year's result); it may use :data:`BATCH_MEMORY_FRACTION` of a worker
    thread's memory. Capped at :data:`MAX_BATCH_SIZE` to keep enough batches for every worker.
    """
    years_fitting = int(memory_per_thread * BATCH_MEMORY_FRACTION // max(year_nbytes, 1))
    fitting = (years_fitting - window + 1) // 2
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

Key = tuple[str | int, ...]


@dataclass
class NormalsGraph:
    """The normals run as one low-level graph.

    ``tasks`` are Dask task tuples by key; ``lanes`` the worker each restricted key should run
    on (loosely: another worker may take it); ``batches`` the batch keys, in order, with the
    target jobs each computes.
    """

    tasks: dict[Key, Any] = field(default_factory=dict)
    lanes: dict[Key, str] = field(default_factory=dict)
    batches: list[tuple[Key, tuple[TargetJob, ...]]] = field(default_factory=list)

    def to_highlevelgraph(self) -> HighLevelGraph:
        """One layer with per-key worker restrictions: the scheduler registers a graph of one
        layer in time linear in its tasks (one layer per task grows faster)."""
        annotations = None
        if self.lanes:
            annotations = {
                "workers": self.lanes.get,
                "allow_other_workers": dict.fromkeys(self.lanes, True).get,
            }
        layer = MaterializedLayer(self.tasks, annotations=annotations)
        return HighLevelGraph({"normals": layer}, {"normals": set()})


def batch_tasks(
    config: NormalsConfig,
    plan: NormalsPlan,
    jobs: Sequence[TargetJob],
    replacing: frozenset[tuple[Path, int]],
    batch_size: int,
    workers: Sequence[str],
) -> NormalsGraph:
    """One batch task per batch, sharing one year task per input, as one graph.

    A year task reads its input once for every region whose batches need it. Batches, ordered
    by model, variable, first target year and region, are split into contiguous lanes, one per
    worker (:data:`VIRTUAL_LANES` without restrictions when the cluster has no workers yet).
    Each batch, and each year task, carries a loose restriction to its lane's worker (a year
    task: the lane that needs it earliest): consecutive batches then find most of their years
    where they run. Every other lane runs its batches backwards (:func:`_lane_positions`), so
    the years two neighbouring lanes share are needed by both at the same time, at both lanes'
    start or both lanes' end, rather than read by one lane first and held until the other
    reaches them at its end. A year task first needed by the k-th batch of a lane waits for
    that lane's batch k - :data:`READ_AHEAD_BATCHES`, so reading stays at most that many
    batches ahead and memory does not grow with the number of target years, while every lane
    starts at once.
    Keys carry a token of this run, so two runs at once share no key (nor progress display).
    Static arguments are bound to the task functions (:func:`functools.partial`): only keys
    are left for Dask to look for in the tasks' arguments.
    """
    run = uuid.uuid4().hex[:8]
    batches = _batches(jobs, batch_size)
    lanes = _lanes(batches, len(workers) or VIRTUAL_LANES)
    positions = _lane_positions(lanes)
    keys = [_batch_key(batch, run) for batch in batches]
    keys_by_lane: dict[int, dict[int, Key]] = defaultdict(dict)
    for lane, position, key in zip(lanes, positions, keys, strict=True):
        keys_by_lane[lane][position] = key
    graph = NormalsGraph()
    for model, variable in {(batch.model, batch.variable) for batch in batches}:
        graph.tasks[_grid_key(model, variable, run)] = plan.grids[(model, variable)]
    year_keys: dict[_YearKey, Key] = {}
    for year, need in _year_needs(batches, lanes, positions).items():
        key = year_keys[year] = _year_key(year, run)
        gate = None
        if need.position >= READ_AHEAD_BATCHES:
            gate = keys_by_lane[need.lane][need.position - READ_AHEAD_BATCHES]
        graph.tasks[key] = _year_task(config, plan, year, need, gate, run)
        if workers:
            graph.lanes[key] = workers[need.lane]
    for batch, lane, key in zip(batches, lanes, keys, strict=True):
        spec = _batch_spec(config, plan, batch, replacing)
        inputs = [year_keys[year] for year, _ in _batch_inputs(batch)]
        graph.tasks[key] = (partial(compute_batch, spec), *inputs)
        if workers:
            graph.lanes[key] = workers[lane]
        graph.batches.append((key, batch.jobs))
    return graph


def submit_batches(client: Client, graph: NormalsGraph) -> list[Future[Any]]:
    """Submit a :func:`batch_tasks` graph; one future per batch, in order."""
    futures: list[Future[Any]] = client.get(
        graph.to_highlevelgraph(), [key for key, _ in graph.batches], sync=False
    )
    return futures


def _batch_key(batch: _Batch, run: str) -> Key:
    return (
        f"normals-{batch.variable}-{batch.region}",
        run,
        batch.model,
        batch.scenario,
        batch.index,
    )


def _year_key(year: _YearKey, run: str) -> Key:
    model, variable, scenario, number = year
    return (f"yearsum-{variable}", run, model, scenario, number)


def _grid_key(model: str, variable: str, run: str) -> Key:
    """The key of a (model, variable)'s planned grid: one value of the graph, shared by its
    year tasks."""
    return (f"grid-{variable}", run, model)


@dataclass
class _YearNeed:
    """Where an input year is needed first (lane, position in it) and by which regions."""

    source: YearInput
    lane: int
    position: int
    regions: list[str]


def _year_needs(
    batches: Sequence[_Batch], lanes: Sequence[int], positions: Sequence[int]
) -> dict[_YearKey, _YearNeed]:
    """Every input year of the batches: the regions needing it, and the lane that reads it.

    That is the lane needing it at the earliest position (its read-ahead gate is counted
    there); of lanes needing it first at the same position, the one using it longest, so
    that the worker holding a year is the one still using it.
    """
    regions: dict[_YearKey, list[str]] = defaultdict(list)
    sources: dict[_YearKey, YearInput] = {}
    uses: dict[_YearKey, dict[int, tuple[int, int]]] = defaultdict(dict)  # lane: first, last
    for batch, lane, position in zip(batches, lanes, positions, strict=True):
        for key, source in _batch_inputs(batch):
            sources[key] = source
            if batch.region not in regions[key]:
                regions[key].append(batch.region)
            first, last = uses[key].get(lane, (position, position))
            uses[key][lane] = (min(first, position), max(last, position))
    needs = {}
    for key, by_lane in uses.items():
        lane = min(by_lane, key=lambda lane: (by_lane[lane][0], -by_lane[lane][1]))
        needs[key] = _YearNeed(sources[key], lane, by_lane[lane][0], regions[key])
    return needs


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


def _lanes(batches: Sequence[_Batch], count: int) -> list[int]:
    """Each batch's lane: ``count`` contiguous runs of about equal numbers of target years."""
    total = sum(len(batch.jobs) for batch in batches)
    lanes = []
    done = 0
    for batch in batches:
        lanes.append(done * count // total)
        done += len(batch.jobs)
    return lanes


def _lane_positions(lanes: Sequence[int]) -> list[int]:
    """Each batch's place in its lane's running order: the first lane runs its batches in
    order, the next backwards, and so on alternately.

    ``lanes`` is non-decreasing (:func:`_lanes`), so neighbouring lanes share the years around
    the target years where one lane ends and the next begins; with alternating directions,
    both lanes come to those targets together, both first or both last.
    """
    sizes = Counter(lanes)
    backwards = {lane: rank % 2 == 1 for rank, lane in enumerate(sorted(sizes))}
    seen: Counter[int] = Counter()
    positions = []
    for lane in lanes:
        index = seen[lane]
        seen[lane] += 1
        positions.append(sizes[lane] - 1 - index if backwards[lane] else index)
    return positions


def _batch_inputs(batch: _Batch) -> list[tuple[_YearKey, YearInput]]:
    """The inputs of a batch's windows, each once, by year."""
    sources = {source for job in batch.jobs for source in job.inputs}
    return [
        ((batch.model, batch.variable, source.scenario, source.year), source)
        for source in sorted(sources, key=lambda source: (source.year, source.scenario))
    ]


def _year_task(
    config: NormalsConfig,
    plan: NormalsPlan,
    year: _YearKey,
    need: _YearNeed,
    gate: Key | None,
    run: str,
) -> tuple[Any, ...]:
    """The task of :func:`reduce_year` on one input for the regions needing it, reading the
    (model, variable)'s grid from its key and waiting for the batch keyed ``gate``."""
    model, variable, _, _ = year
    regions_slices = tuple(plan.slices[(model, variable, region)] for region in need.regions)
    read = partial(
        reduce_year,
        need.source,
        regions_slices,
        config.allow_incomplete_years,
        config.storage_options,
    )
    return (read, _grid_key(model, variable, run), gate)


def _batch_spec(
    config: NormalsConfig,
    plan: NormalsPlan,
    batch: _Batch,
    replacing: frozenset[tuple[Path, int]],
) -> BatchSpec:
    """What :func:`compute_batch` needs: the region's coordinates, attributes and rules."""
    lat, lon, variable_attrs = output_coordinates(plan, batch.model, batch.variable, batch.region)
    return BatchSpec(
        region=batch.region,
        jobs=batch.jobs,
        replacing=frozenset(job.output_key for job in batch.jobs) & replacing,
        output_format=config.output_format,
        lat=lat,
        lon=lon,
        variable_attrs=variable_attrs,
        calendar=plan.grids[(batch.model, batch.variable)].calendar,
        window=config.window,
        min_years=config.min_years,
    )


def output_coordinates(
    plan: NormalsPlan, model: str, variable: str, region: str
) -> tuple[xr.DataArray, xr.DataArray, dict[str, Any]]:
    """A region's latitudes and longitudes as its outputs carry them, and the variable's
    attributes the outputs keep."""
    slices = plan.slices[(model, variable, region)]
    grid = plan.grids[(model, variable)]
    lat = xr.DataArray(
        grid.lat[slices.lat_slice],
        dims="lat",
        attrs=kept_attrs(grid.lat_attrs, _KEPT_COORDINATE_ATTRS),
    )
    lon = xr.DataArray(
        slices.lon, dims="lon", attrs=kept_attrs(grid.lon_attrs, _KEPT_COORDINATE_ATTRS)
    )
    return lat, lon, kept_attrs(grid.variable_attrs, _KEPT_VARIABLE_ATTRS)
