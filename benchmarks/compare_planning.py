"""What planning and submitting a graph costs, per task, at the sizes users run.

Nothing runs: graphs go to a scheduler without workers, and the time counted is the client's
(templates, region jobs, graph building) plus the submission until the scheduler holds every
task. Cases, all on the real templates and grids:

- ``nex-gddp-cmip6`` reformat (0.25° global, 4 variables) of 1, 10 and 100 years;
- ``gfs-forecast`` reformat (0.25°, 209 leads, 6 variables) of 1 and 30 days of init times;
- normals "on paper": the graph of every target year (1950-2100, 30-year windows) of
  ``--models``  models x 4 variables x 3 scenarios x CONUS at 0.25°, from a plan built in
  memory (no archive is listed or opened), as :func:`climaflow.normals.graph.batch_tasks`
  builds it.

Run::

    .venv/bin/python benchmarks/compare_planning.py              # every case
    .venv/bin/python benchmarks/compare_planning.py --models 35  # normals of the full archive

Prints, per case, tasks, seconds and milliseconds per task.
"""

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from distributed import Client, LocalCluster

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob
from climaflow.datasets.gfs_forecast.template import GfsForecastTemplate
from climaflow.datasets.nex_gddp_cmip6 import NexGddpRegionJob, make_nex_gddp_template
from climaflow.normals import REGIONS, NormalsConfig
from climaflow.normals.archive import YearInput
from climaflow.normals.graph import batch_tasks, default_batch_size, submit_batches
from climaflow.normals.periods import DEFAULT_PERIODS, target_windows
from climaflow.normals.plan import NormalsPlan, TargetJob
from climaflow.normals.read import InputGrid
from climaflow.normals.regions import region_slices
from climaflow.reformat.graph import submit_jobs

NEX_VARIABLES = ("pr", "tas", "tasmax", "tasmin")
NEX_SCENARIOS = ("ssp126", "ssp245", "ssp585")


def _registered(dask_scheduler: Any, keys: list[Any]) -> int | None:
    """The scheduler's task count once it holds ``keys`` (a graph is registered at once)."""
    if all(key in dask_scheduler.tasks for key in keys):
        return len(dask_scheduler.tasks)
    return None


def timed_submission(client: Client, build: Callable[[], list[Any]]) -> tuple[int, float]:
    """Build and submit a graph; its task count and the seconds until the scheduler holds it."""
    start = time.perf_counter()
    futures = build()
    keys = [future.key for future in futures]
    while (count := client.run_on_scheduler(_registered, keys=keys)) is None:
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    del futures  # released: the scheduler forgets the graph
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        time.sleep(0.05)
    return count, seconds


def reformat_case(client: Client, template: Any, job_class: Any, end: Any, **kwargs: Any) -> Any:
    """A builder: the template's metadata and region jobs from its start to ``end``, submitted."""

    def build() -> list[Any]:
        store = Path(tempfile.mkdtemp(prefix="climaflow-planning-")) / "store.zarr"
        template.write_metadata(store, end)
        return submit_jobs(job_class.get_jobs(template, store, end, **kwargs), client)

    return build


def normals_plan(models: int) -> tuple[NormalsConfig, NormalsPlan]:
    """Every target job of ``models`` models x 4 variables x 3 scenarios x CONUS, in memory."""
    lat = np.arange(-59.875, 90, 0.25)
    lon = np.arange(0.125, 360, 0.25)
    grid = InputGrid(lat=lat, lon=lon, calendar="noleap", dtype=np.dtype("float32"))
    region = REGIONS["CONUS"]
    slices = region_slices(region, lat, lon)
    config = NormalsConfig(
        input="/archive",
        output=Path("/normals"),
        models=tuple(f"MODEL-{m}" for m in range(models)),
        variables=NEX_VARIABLES,
        regions=(region,),
        scenarios=NEX_SCENARIOS,
    )
    windows = {
        (w.scenario, w.target_year): w
        for scenario in NEX_SCENARIOS
        for w in target_windows(scenario, periods=DEFAULT_PERIODS)
    }
    jobs = []
    for model in config.models:
        for variable in NEX_VARIABLES:
            inputs = {
                (source, year): YearInput(
                    variable, source, year, f"/archive/{model}/{source}/{variable}/{year}.nc", "x"
                )
                for window in windows.values()
                for source, year in window.year_sources
            }
            jobs.extend(
                TargetJob(
                    model=model,
                    variable=variable,
                    region=region,
                    window=window,
                    path=Path(f"/normals/{model}/{variable}/{scenario}/{target}.nc"),
                    inputs=tuple(inputs[key] for key in window.year_sources),
                    missing=(),
                    fingerprint="f" * 32,
                )
                for (scenario, target), window in sorted(windows.items())
            )
    plan = NormalsPlan(
        jobs=tuple(jobs),
        grids={(m, v): grid for m in config.models for v in NEX_VARIABLES},
        slices={(m, v, region.name): slices for m in config.models for v in NEX_VARIABLES},
    )
    return config, plan


def normals_case(client: Client, models: int) -> Any:
    """A builder: the normals graph of ``models`` models (see :func:`normals_plan`), submitted
    as :func:`~climaflow.normals.pipeline.run_normals` submits it."""

    def build() -> list[Any]:
        config, plan = normals_plan(models)
        year_nbytes = 365 * int(np.prod(plan.slices[next(iter(plan.slices))].shape)) * 4
        size = default_batch_size(year_nbytes, config.window, 4 * 2**30)
        workers = ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"]
        return submit_batches(
            client, batch_tasks(config, plan, plan.jobs, frozenset(), size, workers)
        )

    return build


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=5, help="models in the normals case")
    args = parser.parse_args(argv)
    with (
        LocalCluster(n_workers=0, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        gfs = GfsForecastTemplate()
        start = gfs.init_time_start
        cases: list[tuple[str, Any]] = [
            (
                f"nex-gddp-cmip6 reformat, {years} years",
                reformat_case(
                    client,
                    make_nex_gddp_template(),
                    NexGddpRegionJob,
                    1950 + years,
                    source_url="/archive",
                ),
            )
            for years in (1, 10, 100)
        ] + [
            (
                f"gfs-forecast reformat, {days} days",
                reformat_case(
                    client,
                    gfs,
                    GfsForecastRegionJob,
                    start + np.timedelta64(days, "D"),
                    source_url="/archive",
                ),
            )
            for days in (1, 30)
        ]
        cases.append((f"normals on paper, {args.models} models", normals_case(client, args.models)))
        print(f"{'case':<40} {'tasks':>8} {'seconds':>9} {'ms/task':>8}")
        for name, build in cases:
            count, seconds = timed_submission(client, build)
            print(f"{name:<40} {count:>8} {seconds:>9.2f} {1000 * seconds / count:>8.3f}")


if __name__ == "__main__":
    main()
