"""Running normals: models x variables x regions x scenarios x target-year batches as one graph.

:func:`run_normals` plans the run (:mod:`climaflow.normals.plan`), checks existing outputs,
builds the graph (:mod:`climaflow.normals.graph`) of the task functions
(:mod:`climaflow.normals.tasks`) and gathers the outcomes (:mod:`climaflow.normals.outcomes`).

Stages, as Dask task groups named by stage and variable (and region, for batches):

- ``check-{var}-{REGION}``: does a valid output exist already? (one task per existing file)
- ``yearsum-{var}``, key ``(group, run, model, source scenario, year)``: open one yearly
  input (a remote one fetched once), check its grid, cut every region by index slices, mask
  undeclared fill values, reduce each region to per-day sums and counts with flox. One task
  per input year, shared by every batch of every region whose windows contain that year, so
  each input is read once per run however many regions and target years need it. A year
  lacking some of its calendar's days is left out.
- ``normals-{var}-{REGION}``, key ``(group, run, model, scenario, batch index)``: for a batch of
  consecutive target years, each target's window mean
  (:func:`~climaflow.normals.window.window_mean`, the same arithmetic as the Python API), and
  its NetCDF file (temporary name, then rename).

Batches run in one lane per worker (loose worker restrictions, see
:func:`~climaflow.normals.graph.batch_tasks`), so
the years a batch needs are mostly computed where it runs.

Failures are data: a missing or unreadable input year is left out of its windows and named
in the outcome and a :class:`~climaflow.normals.compute.MissingYearsWarning`; a target short
of ``min_years`` gets no file and a ``too_few_years`` outcome; a failed write or batch is a
``failed`` outcome. :func:`run_normals` returns a :class:`NormalsSummary` of all of them.
"""

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import distributed
import numpy as np
from distributed import Client

from climaflow.io.urls import redact_url
from climaflow.normals.calendar import days_per_year
from climaflow.normals.compute import MissingYearsWarning, warn_at_caller
from climaflow.normals.graph import (
    NormalsGraph,
    batch_size_for,
    batch_tasks,
    output_coordinates,
    submit_batches,
)
from climaflow.normals.outcomes import (
    NormalsSummary,
    Status,
    TargetOutcome,
    missing_inputs,
    outcome_of,
    warn_left_out_years,
    warn_masked_fills,
)
from climaflow.normals.output import OutputCheck, check_output, normal_dataset
from climaflow.normals.periods import HISTORICAL
from climaflow.normals.plan import NormalsConfig, NormalsPlan, TargetJob, plan_normals
from climaflow.normals.zarr_output import check_target, prepare_normals_store
from climaflow.progress import announce, count, show_task_progress
from climaflow.reformat.run_record import write_run_record

logger = logging.getLogger(__name__)


def run_normals(
    config: NormalsConfig,
    client: Client,
    *,
    plan: NormalsPlan | None = None,
    show_progress: bool = False,
) -> NormalsSummary:
    """Compute and write every normal of ``config`` on ``client``'s cluster.

    Existing outputs are checked first (in parallel on the workers): valid ones are skipped,
    stale or truncated ones recomputed. The rest runs as one graph over all models,
    variables, regions and scenarios. Years left out of windows are named in one
    :class:`~climaflow.normals.compute.MissingYearsWarning`, inputs with undeclared fill
    values in one :class:`~climaflow.normals.compute.UndeclaredFillWarning` each. A run record
    (parameters, every target's outcome and the years it used, timings) is written beside
    the output root, ``{output}.runs/{UTC time}-{run id}.json``; its path is
    ``NormalsSummary.record``.

    ``plan`` is :func:`plan_run`'s for ``config`` when the caller planned already (to check
    the request before starting a cluster); ``show_progress`` says what is planned and shows
    the progress (:func:`climaflow.progress.show_task_progress`).
    """
    started = datetime.now(UTC).isoformat()
    clock = time.perf_counter()
    seconds: dict[str, float] = {}
    say = announce if show_progress else logger.info
    if plan is None:
        plan = plan_run(config, show_progress=show_progress)
    summary = NormalsSummary(left_out_models=list(plan.left_out_models))
    if plan.left_out_models:
        warn_at_caller(
            "left out for want of inputs:\n"
            + "\n".join(f"  {m} {v}: {reason}" for m, v, reason in plan.left_out_models),
            MissingYearsWarning,
        )
    seconds["plan"] = time.perf_counter() - clock
    existing = _check_existing(plan, config, client)
    seconds["check_existing"] = time.perf_counter() - clock - sum(seconds.values())
    if existing:
        say(
            f"   {count(len(existing), 'existing output')} checked in {seconds['check_existing']:.1f} s"
        )
    to_compute = _jobs_to_compute(plan, config, existing, summary)
    if config.output_format == "zarr":
        _prepare_stores(plan, config, to_compute)
    replacing = frozenset(
        key for key, check in existing.items() if check.exists and not check.valid
    )
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    graph = batch_tasks(
        config, plan, to_compute, replacing, batch_size_for(config, plan, client), workers
    )
    say(
        f"   {count(len(to_compute), 'output')} to compute in "
        f"{count(len(graph.batches), 'batch task')} of target years, graph built in "
        f"{time.perf_counter() - clock - sum(seconds.values()):.1f} s"
    )
    summary.outcomes.extend(_run_batches(client, graph, show_progress))
    seconds["compute"] = time.perf_counter() - clock - sum(seconds.values())
    warn_left_out_years(summary.outcomes)
    warn_masked_fills(summary.outcomes)
    summary.outcomes.sort(key=lambda o: (o.model, o.variable, o.region, o.scenario, o.target_year))
    summary.record = write_run_record(config.output, _run_record(config, summary, started, seconds))
    return summary


def _run_record(
    config: NormalsConfig, summary: NormalsSummary, started: str, seconds: Mapping[str, float]
) -> dict[str, Any]:
    """What a normals run record says: its parameters, timings and every target's outcome."""
    parameters = {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config)
        if field.name != "storage_options"  # may hold credentials
    }
    parameters["input"] = redact_url(config.input)
    return {
        "kind": "normals",
        "started": started,
        "parameters": _plain(parameters),
        "seconds": {stage: round(spent, 3) for stage, spent in seconds.items()},
        "counts": {str(status): count for status, count in summary.counts().items()},
        "left_out_models": summary.left_out_models,
        "targets": [_plain(dataclasses.asdict(outcome)) for outcome in summary.outcomes],
    }


def _plain(value: Any) -> Any:
    """Dataclasses (regions, periods) as dicts, recursively, for JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _jobs_to_compute(
    plan: NormalsPlan,
    config: NormalsConfig,
    existing: Mapping[tuple[Path, int], OutputCheck],
    summary: NormalsSummary,
) -> list[TargetJob]:
    """The jobs to run; the outcomes of those skipped (valid output, too few inputs) go to
    ``summary``."""
    to_compute: list[TargetJob] = []
    for job in plan.jobs:
        check = existing.get(job.output_key)
        if check is not None and check.valid:
            summary.outcomes.append(
                outcome_of(job, Status.SKIPPED_VALID, message="valid output exists")
            )
        elif (reason := _too_few_years(job, config)) is not None:
            summary.outcomes.append(
                outcome_of(job, Status.TOO_FEW_YEARS, left_out=missing_inputs(job), message=reason)
            )
        else:
            to_compute.append(job)
    return to_compute


def _too_few_years(job: TargetJob, config: NormalsConfig) -> str | None:
    """Why the job's inputs cannot make its normal, or ``None`` when they can: fewer than
    ``min_years`` window years, or none of the years of a scenario (not historical) its
    window takes years from (a normal of the other years would not be that scenario's)."""
    needed = {source for source, _ in job.window.year_sources if source != HISTORICAL}
    missing = needed - {year_input.scenario for year_input in job.inputs}
    if missing:
        return (
            f"none of its {min(missing)} years has an input file: a normal of its other "
            "years would not be this scenario's"
        )
    if len(job.inputs) < config.min_years:
        return (
            f"{len(job.inputs)} of {config.window} window years have input files; "
            f"{config.min_years} needed"
        )
    return None


def plan_run(config: NormalsConfig, *, show_progress: bool = False) -> NormalsPlan:
    """:func:`~climaflow.normals.plan.plan_normals`, saying what it plans and how long it took.

    Checks the request against the archive (models, variables, scenarios, regions, target
    years) from listings and one file header per (model, variable): call it before starting
    a cluster to fail before any side effect.
    """
    say = announce if show_progress else logger.info
    clock = time.perf_counter()
    say(
        "normals: planning "
        + " x ".join(
            count(len(names), kind)
            for kind, names in (
                ("model", config.models),
                ("variable", config.variables),
                ("region", config.regions),
                ("scenario", config.scenarios),
            )
        )
        + f" from {config.input}"
    )
    plan = plan_normals(config)
    say(
        f"   {count(len(plan.jobs), 'target output')} planned in {time.perf_counter() - clock:.1f} s"
    )
    return plan


def _run_batches(client: Client, graph: NormalsGraph, show_progress: bool) -> list[TargetOutcome]:
    """Compute the graph's batches; the outcomes of every batch's targets as they complete."""
    if not graph.batches:
        return []
    futures = submit_batches(client, graph)
    jobs_of = dict(zip(futures, (jobs for _, jobs in graph.batches), strict=True))
    if show_progress:
        show_task_progress(futures)
    outcomes: list[TargetOutcome] = []
    for future in distributed.as_completed(futures):
        outcomes.extend(_batch_outcomes(future, jobs_of[future]))
    return outcomes


def _check_existing(
    plan: NormalsPlan, config: NormalsConfig, client: Client
) -> dict[tuple[Path, int], OutputCheck]:
    """Check every existing output, in parallel on the workers."""
    jobs = [job for job in plan.jobs if job.path.exists()]
    futures = []
    for job in jobs:
        if config.output_format == "zarr":
            check: Callable[..., OutputCheck] = partial(check_target, job.path, job.target_year)
        else:
            days = days_per_year(plan.grids[(job.model, job.variable)].calendar)
            shape = (1, days, *plan.slices[(job.model, job.variable, job.region.name)].shape)
            check = partial(check_output, job.path, shape=shape)
        futures.append(
            client.submit(
                check,
                variable=job.variable,
                expected=job.expected_attrs(config),
                key=(
                    f"check-{job.variable}-{job.region.name}",
                    job.model,
                    job.scenario,
                    job.target_year,
                ),
                pure=False,
            )
        )
    return dict(zip((job.output_key for job in jobs), client.gather(futures), strict=True))


def _prepare_stores(
    plan: NormalsPlan, config: NormalsConfig, to_compute: Sequence[TargetJob]
) -> None:
    """Write or extend the metadata of every Zarr store the run writes to, before any task.

    A store's target years are all of the plan's for it (also those skipped or short of
    years), so reruns find the same layout.
    """
    writing = {job.path for job in to_compute}
    by_store: dict[Path, list[TargetJob]] = {}
    for job in plan.jobs:
        if job.path in writing:
            by_store.setdefault(job.path, []).append(job)
    for path, jobs in by_store.items():
        first = jobs[0]
        calendar = plan.grids[(first.model, first.variable)].calendar
        lat, lon, variable_attrs = output_coordinates(
            plan, first.model, first.variable, first.region.name
        )
        metadata = first.metadata(
            calendar=calendar,
            window=config.window,
            min_years=config.min_years,
            variable_attrs=variable_attrs,
            years=first.window.year_sources,
        )
        values = np.zeros((days_per_year(calendar), lat.size, lon.size), np.float32)
        sample = normal_dataset(values, lat, lon, metadata)
        prepare_normals_store(path, [job.target_year for job in jobs], sample, first.variable)


def _batch_outcomes(
    future: distributed.Future[list[TargetOutcome]], jobs: Sequence[TargetJob]
) -> list[TargetOutcome]:
    try:
        return future.result()
    except Exception as error:
        return [outcome_of(job, Status.FAILED, message=f"batch failed: {error}") for job in jobs]
