"""The normals graph: batch sizing, shared year tasks, and a graph that grows linearly."""

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from dask.core import get_dependencies

from climaflow.normals import REGIONS, NormalsConfig
from climaflow.normals.archive import YearInput
from climaflow.normals.graph import (
    READ_AHEAD_BATCHES,
    VIRTUAL_LANES,
    NormalsGraph,
    _batch_inputs,
    _batches,
    _lane_positions,
    _lanes,
    _year_needs,
    batch_tasks,
    default_batch_size,
)
from climaflow.normals.periods import DEFAULT_PERIODS, target_windows
from climaflow.normals.plan import NormalsPlan, TargetJob
from climaflow.normals.read import InputGrid
from climaflow.normals.regions import region_slices


def test_default_batch_size_fits_memory(caplog):
    year = 365 * 104 * 240 * 4  # CONUS at 0.25 degrees, float32
    assert default_batch_size(year, 30, memory_per_thread=5 * 2**30) == 10
    for batch in (1, 3):  # B + 29 year results and B normals in half a thread's memory
        share = (batch + 29 + batch + 0.5) * year
        assert default_batch_size(year, 30, memory_per_thread=int(share * 2)) == batch
    with caplog.at_level(logging.WARNING, logger="climaflow.normals.graph"):
        assert default_batch_size(year, 30, memory_per_thread=2**20) == 1
    assert "exceeds the planned share of worker memory" in caplog.text


def paper_plan(regions: tuple[str, ...]) -> tuple[NormalsConfig, NormalsPlan]:
    """Every target (1980-2100) of one variable in ``regions``, planned in memory."""
    lat, lon = np.arange(15.125, 60, 0.25), np.arange(230.125, 300, 0.25)
    grid = InputGrid(lat=lat, lon=lon, calendar="noleap", dtype=np.dtype("float32"))
    config = NormalsConfig(
        input="/archive",
        output=Path("/normals"),
        models=("M",),
        variables=("tas",),
        regions=tuple(REGIONS[name] for name in regions),
        scenarios=("ssp245",),
    )
    windows = target_windows("historical", periods=DEFAULT_PERIODS)
    inputs = {
        year: YearInput("tas", "historical", year, f"/archive/{year}.nc", "x")
        for window in windows
        for _, year in window.year_sources
    }
    jobs = tuple(
        TargetJob(
            model="M",
            variable="tas",
            region=REGIONS[name],
            window=window,
            path=Path(f"/normals/{name}/{window.target_year}.nc"),
            inputs=tuple(inputs[year] for _, year in window.year_sources),
            missing=(),
            fingerprint="f",
        )
        for name in regions
        for window in windows
    )
    slices = {("M", "tas", name): region_slices(REGIONS[name], lat, lon) for name in regions}
    return config, NormalsPlan(jobs=jobs, grids={("M", "tas"): grid}, slices=slices)


def dependencies(graph: NormalsGraph) -> dict:
    """Each task's dependencies, as Dask reads the graph."""
    return {key: get_dependencies(graph.tasks, key) for key in graph.tasks}


def test_one_year_task_per_input_for_every_region():
    config, plan = paper_plan(("CONUS", "PRVI"))
    graph = batch_tasks(config, plan, plan.jobs, frozenset(), 5, workers=["w0", "w1"])
    groups = Counter(key[0] for key in graph.tasks)
    years = {year for job in plan.jobs for year in (i.year for i in job.inputs)}
    assert groups["yearsum-tas"] == len(years)
    assert groups["grid-tas"] == 1
    assert groups["normals-tas-CONUS"] == groups["normals-tas-PRVI"] == len(graph.batches) // 2
    assert len(graph.tasks) == len(years) + 1 + len(graph.batches)
    assert sum(len(jobs) for _, jobs in graph.batches) == len(plan.jobs)
    batch_keys = {key for key, _ in graph.batches}
    for key, needed in dependencies(graph).items():
        if key in batch_keys:
            assert {k[0] for k in needed} == {"yearsum-tas"}, key
        elif key[0] == "yearsum-tas":
            assert {k[0] for k in needed} <= {"grid-tas", *groups}, key
            assert len(needed) in (1, 2), (key, needed)  # the grid, and a gate after the first


def test_lanes_are_loose_worker_restrictions():
    config, plan = paper_plan(("CONUS",))
    graph = batch_tasks(config, plan, plan.jobs, frozenset(), 5, workers=["w0", "w1"])
    layer = graph.to_highlevelgraph().layers["normals"]
    workers, loose = layer.annotations["workers"], layer.annotations["allow_other_workers"]
    lanes = [workers(key) for key, _ in graph.batches]
    assert lanes == sorted(lanes) and set(lanes) == {"w0", "w1"}
    assert all(loose(key) for key, _ in graph.batches)
    grid = next(key for key in graph.tasks if key[0] == "grid-tas")
    assert workers(grid) is None and loose(grid) is None


def test_no_workers_yet_builds_an_unrestricted_graph():
    """A cluster whose workers are still queued (a batch system) has no lanes."""
    config, plan = paper_plan(("PRVI",))
    graph = batch_tasks(config, plan, plan.jobs, frozenset(), 5, workers=[])
    assert not graph.lanes
    assert graph.to_highlevelgraph().layers["normals"].annotations is None
    assert len(graph.batches) == -(-len(plan.jobs) // 5)


def critical_path(graph: NormalsGraph) -> int:
    """The most tasks any chain of dependencies holds: the graph's length with unlimited
    workers."""
    needed = dependencies(graph)
    length: dict = {}

    def depth(key) -> int:
        if key not in length:
            length[key] = 1 + max((depth(d) for d in needed[key]), default=0)
        return length[key]

    return max(depth(key) for key in graph.tasks)


@pytest.mark.parametrize("workers", [["w0", "w1", "w2", "w3"], []], ids=["4 workers", "none yet"])
def test_lanes_start_at_once(workers):
    """Read-ahead gates hold each lane back by its own batches only: lanes run side by side,
    not one after the other (a year needed by two lanes is gated where it is needed first)."""
    config, plan = paper_plan(("CONUS", "PRVI"))
    graph = batch_tasks(config, plan, plan.jobs, frozenset(), 1, workers=workers)
    lanes = len(workers) or VIRTUAL_LANES
    length = critical_path(graph)
    assert length <= 2 * len(graph.batches) / lanes + 4, (length, len(graph.batches))


def years_held_per_lane(plan: NormalsPlan, targets: int, batch_size: int, n_lanes: int) -> int:
    """The most input years a lane holds when every lane runs its k-th batch at step k: a year
    is held by the lane reading it from ``READ_AHEAD_BATCHES`` steps before it is first needed
    to its last use, in any lane."""
    jobs = [job for job in plan.jobs if job.target_year < 1980 + targets]
    batches = _batches(jobs, batch_size)
    lanes = _lanes(batches, n_lanes)
    positions = _lane_positions(lanes)
    held: Counter[tuple[int, int]] = Counter()
    last: dict = {}
    for batch, position in zip(batches, positions, strict=True):
        for year, _ in _batch_inputs(batch):
            last[year] = max(last.get(year, 0), position)
    for year, need in _year_needs(batches, lanes, positions).items():
        for step in range(max(0, need.position - READ_AHEAD_BATCHES), last[year] + 1):
            held[(need.lane, step)] += 1
    return max(held.values())


@pytest.mark.parametrize("batch_size", [5, 10])
@pytest.mark.parametrize("n_lanes", [2, 3, 4])
def test_a_lane_holds_no_more_years_than_one_lane_alone(n_lanes, batch_size):
    """Neighbouring lanes share the years around the target where one lane ends and the next
    begins. Every other lane runs backwards, so both need those years at the same time: a lane
    holds no more years than a lane running alone, whatever the number of targets. (With every
    lane running forwards, a lane read them first and held them until the lane before it
    reached them at its end: 79 years instead of 59 on 2 lanes of 10-year batches.)"""
    _, plan = paper_plan(("CONUS",))
    alone = years_held_per_lane(plan, 121, batch_size, 1)
    for targets in (30, 60, 90, 121):
        held = years_held_per_lane(plan, targets, batch_size, n_lanes)
        assert held <= alone, (targets, held, alone)


@pytest.mark.parametrize(
    ("lanes", "positions"),
    [
        ([0, 0, 0], [0, 1, 2]),
        ([0, 0, 1, 1, 1], [0, 1, 2, 1, 0]),
        ([0, 1, 2, 2], [0, 0, 0, 1]),
        ([0, 0, 3, 3, 5, 5], [0, 1, 1, 0, 0, 1]),  # lanes left empty by batches of many targets
    ],
)
def test_lane_positions_alternate_directions(lanes, positions):
    assert _lane_positions(lanes) == positions
