"""The normals pipeline: models x variables x regions x scenarios x target-year batches as one Dask graph.

Stages, as Dask task groups named by stage, variable and region:

- ``check-{var}-{REGION}``: does a valid output exist already? (one task per existing file)
- ``yearsum-{var}-{REGION}``, key ``(group, model, source scenario, year)``: open one yearly
  input, check its grid, cut the region by index slices, mask undeclared fill values, reduce
  to per-day sums and counts with flox. One task per input year, shared by every batch whose
  windows contain that year, so each input is read once per (variable, region) however many
  target years need it. A year lacking some of its calendar's days is left out.
- ``normals-{var}-{REGION}``, key ``(group, model, scenario, batch index)``: for a batch of
  consecutive target years, each target's window mean
  (:func:`~climaflow.normals.window.window_mean`, the same arithmetic as the Python API), and
  its NetCDF file (temporary name, then rename).

Batches run in one lane per worker (loose worker restrictions, see :func:`_batch_tasks`), so
the years a batch needs are mostly computed where it runs.

Failures are data: a missing or unreadable input year is left out of its windows and named
in the outcome and a :class:`~climaflow.normals.compute.MissingYearsWarning`; a target short
of ``min_years`` gets no file and a ``too-few-years`` outcome; a failed write or batch is a
``failed`` outcome. :func:`run_normals` returns a :class:`NormalsSummary` of all of them.
"""

import hashlib
import json
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import dask
import distributed
import numpy as np
import xarray as xr
from dask.sizeof import sizeof
from distributed import Client

from climaflow.datasets.nex_gddp_cmip6.models import UnknownModelError
from climaflow.normals.archive import (
    Archive,
    InputGrid,
    YearInput,
    inspect_input,
    open_archive,
    read_year,
)
from climaflow.normals.calendar import days_per_year, years_and_days
from climaflow.normals.compute import (
    MissingYearsWarning,
    UndeclaredFillWarning,
    dayofyear_sums,
    validate_window,
    warn_at_caller,
)
from climaflow.normals.output import (
    NormalMetadata,
    OutputCheck,
    check_output,
    normal_dataset,
    normal_path,
    write_normal,
)
from climaflow.normals.periods import (
    DEFAULT_PERIODS,
    LAST_HISTORICAL_YEAR,
    Period,
    TargetWindow,
    format_years,
    target_windows,
)
from climaflow.normals.regions import Region, RegionSlices, region_slices
from climaflow.normals.window import window_mean

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 10
# How many batches of a lane reading may run ahead of: 2 keeps peak memory flat in the number
# of target years; 3 ran about 20 % faster on 121 CONUS targets but held 40 % more memory.
READ_AHEAD_BATCHES = 2
# Share of a worker thread's memory a batch may plan to hold.
BATCH_MEMORY_FRACTION = 0.5
_KEPT_VARIABLE_ATTRS = ("units", "standard_name", "long_name", "cell_methods")
_KEPT_COORDINATE_ATTRS = ("units", "standard_name", "long_name", "axis")


class Status(StrEnum):
    """What happened to one target year's output."""

    WRITTEN = "written"
    SKIPPED_VALID = "skipped-valid"
    RECOMPUTED = "recomputed"
    TOO_FEW_YEARS = "too-few-years"
    FAILED = "failed"


@dataclass(frozen=True)
class NormalsConfig:
    """One normals run: inputs, outputs, what to compute and how to batch it.

    Parameters
    ----------
    input
        NEX-GDDP-style archive root (local path or URL) or Zarr store (see
        :mod:`climaflow.normals.archive`).
    output
        Output root; files go to ``{output}/{model}/{var}/{scenario}/{REGION}/...``.
    models, variables, regions, scenarios
        What to compute: ``scenarios`` are the scenarios of hybrid and future periods
        (historical targets are computed once whatever they are). Every model runs in the
        same graph, each on its own grid and calendar.
    variant_label, grid_label
        The models' file labels when not those the archive lists or the table of the real
        archive's models gives (see :mod:`climaflow.datasets.nex_gddp_cmip6.models`).
    periods, target_years, last_historical_year
        Which target years: every year of ``periods``, restricted to ``target_years`` when
        given; hybrid windows take years up to ``last_historical_year`` from historical files.
    window, min_years
        Window length and the minimum number of available years for a normal.
    batch_size
        Target years per batch task; ``None`` sizes batches to the workers' memory.
    allow_incomplete_years
        Use years that lack some of their calendar's days; by default they are left out of
        every window (and do not count toward ``min_years``).
    skip_models_without_inputs
        Leave out (and name) a model that has no input for a variable, or whose labels
        cannot be found, instead of failing the run: for runs over every model of an
        archive, where not every model has every variable.
    """

    input: str
    output: Path
    models: tuple[str, ...]
    variables: tuple[str, ...]
    regions: tuple[Region, ...]
    scenarios: tuple[str, ...]
    periods: tuple[Period, ...] = DEFAULT_PERIODS
    target_years: tuple[int, ...] | None = None
    window: int = 30
    min_years: int = 25
    batch_size: int | None = None
    last_historical_year: int = LAST_HISTORICAL_YEAR
    variant_label: str | None = None
    grid_label: str | None = None
    allow_incomplete_years: bool = False
    skip_models_without_inputs: bool = False

    def __post_init__(self) -> None:
        validate_window(self.window, self.min_years)
        for name in ("models", "variables", "regions", "scenarios", "periods"):
            if not getattr(self, name):
                raise ValueError(f"no {name} given")
        if (self.variant_label or self.grid_label) and len(self.models) > 1:
            raise ValueError(
                "a variant or grid label applies to one model; models differ in their labels "
                f"(give one model, not {len(self.models)})"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.target_years is not None:
            covered = {year for period in self.periods for year in period.target_years}
            outside = sorted(set(self.target_years) - covered)
            if outside:
                spans = ", ".join(
                    f"{p.name} {p.first_target}-{p.last_target}" for p in self.periods
                )
                raise ValueError(
                    f"target years {format_years(outside, ', ')} are outside the periods "
                    f"computed ({spans})"
                )


@dataclass(frozen=True)
class TargetJob:
    """One output: a (model, variable, region, scenario, target year) and its window's inputs."""

    model: str
    variable: str
    region: Region
    window: TargetWindow
    path: Path
    inputs: tuple[YearInput, ...]
    missing: tuple[tuple[str, int], ...]
    fingerprint: str

    @property
    def target_year(self) -> int:
        return self.window.target_year

    @property
    def scenario(self) -> str:
        return self.window.scenario

    def expected_attrs(self, config: NormalsConfig) -> dict[str, Any]:
        """The recorded parameters an existing output must match to be kept."""
        return {
            "window": config.window,
            "min_years": config.min_years,
            "inputs_fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class TargetOutcome:
    """What happened to one target year, with the years used and any skipped ones.

    ``left_out`` lists ``(source scenario, year, reason)`` of window years not used;
    ``masked_fills`` lists ``(input, count)`` of window inputs holding undeclared fill values.
    """

    model: str
    variable: str
    region: str
    scenario: str
    target_year: int
    status: Status
    path: Path
    source_years: tuple[int, ...] = ()
    left_out: tuple[tuple[str, int, str], ...] = ()
    masked_fills: tuple[tuple[str, int], ...] = ()
    message: str = ""


@dataclass
class NormalsSummary:
    """All outcomes of a run, with counts by status, and the (model, variable) pairs left out
    for want of inputs (``(model, variable, reason)``)."""

    outcomes: list[TargetOutcome] = field(default_factory=list)
    left_out_models: list[tuple[str, str, str]] = field(default_factory=list)

    def counts(self) -> dict[Status, int]:
        counted = Counter(outcome.status for outcome in self.outcomes)
        return {status: counted.get(status, 0) for status in Status}

    @property
    def failed(self) -> int:
        return self.counts()[Status.FAILED]

    def table(self) -> str:
        """A text table: one row per (variable, region, scenario), one column per status."""
        rows: dict[tuple[str, str, str, str], Counter[Status]] = defaultdict(Counter)
        for o in self.outcomes:
            rows[(o.model, o.variable, o.region, o.scenario)][o.status] += 1
        header = ["model", "variable", "region", "scenario", *Status]
        body = [[*key, *(str(rows[key][status]) for status in Status)] for key in sorted(rows)]
        body.append(["total", "", "", "", *(str(count) for count in self.counts().values())])
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [header, *body]
        ]
        return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class YearResult:
    """One input year's per-day sums and counts in a region, or why it is left out.

    ``sums`` are NaN where a day has no valid value. ``counts`` is ``None`` for daily data
    (at most one value per day): ``sums`` then hold the values themselves, in the input's dtype.
    ``error`` says why a year is left out (unreadable, incomplete); ``masked_fills`` counts
    undeclared fill values set to NaN.
    """

    scenario: str
    year: int
    location: str
    sums: np.ndarray | None = None
    counts: np.ndarray | None = None
    error: str | None = None
    masked_fills: int = 0


@sizeof.register(YearResult)
def _sizeof_year_result(result: YearResult) -> int:
    """Tell Dask's memory management how big a year result is (its arrays)."""
    return sum(array.nbytes for array in (result.sums, result.counts) if array is not None)


@dataclass(frozen=True)
class _Batch:
    """What a batch task needs besides the year results."""

    jobs: tuple[TargetJob, ...]
    replacing: frozenset[Path]
    lat: xr.DataArray
    lon: xr.DataArray
    variable_attrs: dict[str, Any]
    calendar: str
    window: int
    min_years: int


@dataclass(frozen=True)
class NormalsPlan:
    """Every target job of a run, and the grid each (model, variable)'s inputs are on."""

    jobs: tuple[TargetJob, ...]
    grids: Mapping[tuple[str, str], InputGrid]
    slices: Mapping[tuple[str, str, str], RegionSlices]
    left_out_models: tuple[tuple[str, str, str], ...] = ()


def plan_normals(config: NormalsConfig) -> NormalsPlan:
    """List every target job: its window's available inputs, missing years and output path.

    Reads only directory listings and one input's metadata per (model, variable).

    Raises
    ------
    FileNotFoundError, UnknownModelError
        If the archive has no input at all for a (model, variable), or a model's labels
        cannot be found (unless ``config.skip_models_without_inputs``: then the pair is
        left out and named in ``left_out_models``).
    ValueError, UnsupportedCalendarError
        For a region outside the grid or an unsupported calendar.
    """
    windows: dict[tuple[str, int], TargetWindow] = {}
    for scenario in config.scenarios:
        for window in target_windows(
            scenario,
            periods=config.periods,
            window=config.window,
            target_years=config.target_years,
            last_historical_year=config.last_historical_year,
        ):
            windows.setdefault((window.scenario, window.target_year), window)
    needed: dict[str, set[int]] = defaultdict(set)
    for window in windows.values():
        for source, year in window.year_sources:
            needed[source].add(year)

    jobs: list[TargetJob] = []
    grids: dict[tuple[str, str], InputGrid] = {}
    slices: dict[tuple[str, str, str], RegionSlices] = {}
    left_out: list[tuple[str, str, str]] = []
    for model in config.models:
        archive = open_archive(
            config.input,
            model,
            variant_label=config.variant_label,
            grid_label=config.grid_label,
        )
        for variable in config.variables:
            try:
                inputs = {
                    source: archive.year_inputs(variable, source, years)
                    for source, years in needed.items()
                }
                grid = grids[(model, variable)] = _inspect_first(archive, variable, inputs)
            except (FileNotFoundError, UnknownModelError) as error:
                if not config.skip_models_without_inputs:
                    raise
                left_out.append((model, variable, str(error)))
                continue
            for region in config.regions:
                slices[(model, variable, region.name)] = region_slices(region, grid.lat, grid.lon)
                jobs.extend(
                    _target_job(config, archive, model, variable, region, window, inputs)
                    for _, window in sorted(windows.items())
                )
    return NormalsPlan(
        jobs=tuple(jobs), grids=grids, slices=slices, left_out_models=tuple(left_out)
    )


def _inspect_first(
    archive: Archive, variable: str, inputs: Mapping[str, Mapping[int, YearInput]]
) -> InputGrid:
    first_input = next((i for by_year in inputs.values() for i in by_year.values()), None)
    if first_input is None:
        raise FileNotFoundError(
            f"no input for variable {variable!r} in {archive.describe()} "
            f"(scenarios {', '.join(sorted(inputs))})"
        )
    return inspect_input(first_input)


def _target_job(
    config: NormalsConfig,
    archive: Archive,
    model: str,
    variable: str,
    region: Region,
    window: TargetWindow,
    inputs: Mapping[str, Mapping[int, YearInput]],
) -> TargetJob:
    available = tuple(
        inputs[source][year] for source, year in window.year_sources if year in inputs[source]
    )
    return TargetJob(
        model=model,
        variable=variable,
        region=region,
        window=window,
        path=normal_path(
            config.output,
            model,
            variable,
            window.scenario,
            region.name,
            window.target_year,
            config.window,
        ),
        inputs=available,
        missing=tuple(
            (source, year) for source, year in window.year_sources if year not in inputs[source]
        ),
        fingerprint=_fingerprint(config, model, variable, region, available),
    )


def run_normals(
    config: NormalsConfig, client: Client, *, show_progress: bool = False
) -> NormalsSummary:
    """Compute and write every normal of ``config`` on ``client``'s cluster.

    Existing outputs are checked first (in parallel on the workers): valid ones are skipped,
    stale or truncated ones recomputed. The rest runs as one graph over all models,
    variables, regions and scenarios. Years left out of windows are named in one
    :class:`~climaflow.normals.compute.MissingYearsWarning`, inputs with undeclared fill
    values in one :class:`~climaflow.normals.compute.UndeclaredFillWarning` each.
    """
    plan = plan_normals(config)
    logger.info("%d target outputs planned from %s", len(plan.jobs), config.input)

    summary = NormalsSummary(left_out_models=list(plan.left_out_models))
    if plan.left_out_models:
        warn_at_caller(
            "left out for want of inputs:\n"
            + "\n".join(f"  {m} {v}: {reason}" for m, v, reason in plan.left_out_models),
            MissingYearsWarning,
        )
    existing = _check_existing(plan, config, client)
    to_compute: list[TargetJob] = []
    for job in plan.jobs:
        check = existing.get(job.path)
        if check is not None and check.valid:
            summary.outcomes.append(
                _outcome(job, Status.SKIPPED_VALID, message="valid output exists")
            )
        elif len(job.inputs) < config.min_years:
            summary.outcomes.append(
                _outcome(
                    job,
                    Status.TOO_FEW_YEARS,
                    left_out=_missing(job),
                    message=f"{len(job.inputs)} of {config.window} window years have input files; "
                    f"{config.min_years} needed",
                )
            )
        else:
            to_compute.append(job)
    replacing = frozenset(
        path for path, check in existing.items() if check.exists and not check.valid
    )

    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    batches = _batch_tasks(
        config, plan, to_compute, replacing, _batch_size(config, plan, client), workers
    )
    if batches:
        futures = client.compute([task for task, _ in batches], optimize_graph=False)
        jobs_of = dict(zip(futures, (jobs for _, jobs in batches), strict=True))
        progress = _Progress(sum(map(len, jobs_of.values()))) if show_progress else None
        for future in distributed.as_completed(futures):
            summary.outcomes.extend(_batch_outcomes(future, jobs_of[future]))
            if progress:
                progress.advance(len(jobs_of[future]))
    _warn_left_out_years(summary.outcomes)
    _warn_masked_fills(summary.outcomes)
    summary.outcomes.sort(key=lambda o: (o.model, o.variable, o.region, o.scenario, o.target_year))
    return summary


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


def reduce_year(
    source: YearInput,
    slices: RegionSlices,
    grid: tuple[np.ndarray, np.ndarray],
    allow_incomplete: bool,
    after: object = None,
) -> YearResult:
    """Task: one input year's per-day sums and counts in a region (see :class:`YearResult`).

    The input must be on ``grid`` (the planned ``(lat, lon)``). Undeclared fill values are
    masked and counted; a year lacking some of its calendar's days is left out unless
    ``allow_incomplete``. ``after`` is ignored: it is the batch this read waits for, so that
    reading runs at most :data:`READ_AHEAD_BATCHES` batches ahead of writing. Errors (missing
    variable, corrupt file, other grid...) are returned, not raised.
    """
    try:
        data = read_year(source, slices, grid)
        yearly = dayofyear_sums(data, allow_incomplete_years=True)
    except Exception as error:
        return YearResult(source.scenario, source.year, source.location, error=f"{error}")
    masked = yearly.masked_fills or 0
    if yearly.incomplete_years and not allow_incomplete:
        _, dayofyear = years_and_days(data["time"], yearly.calendar)
        days = np.unique(dayofyear[dayofyear > 0]).size
        return YearResult(
            source.scenario,
            source.year,
            source.location,
            error=f"incomplete: {source.location} holds {days} of the "
            f"{yearly.sums.sizes['dayofyear']} days of its {yearly.calendar} year",
            masked_fills=masked,
        )
    # C order: the window arithmetic and transfers between workers run several times faster.
    sums = np.ascontiguousarray(yearly.sums.sel(year=source.year).values)
    counts = None
    if yearly.values_per_day > 1:
        counts = np.ascontiguousarray(yearly.counts.sel(year=source.year).values, dtype=np.uint16)
    return YearResult(
        source.scenario,
        source.year,
        source.location,
        sums=sums,
        counts=counts,
        masked_fills=masked,
    )


def compute_batch(batch: _Batch, *years: YearResult) -> list[TargetOutcome]:
    """Task: the normals of a batch's target years, each written to its file."""
    results = {(r.scenario, r.year): r for r in years}
    outcomes = []
    for job in sorted(batch.jobs, key=lambda job: job.target_year):
        window = [results[(i.scenario, i.year)] for i in job.inputs]
        used = sorted((r for r in window if r.error is None), key=lambda r: r.year)
        left_out = _missing(job) + tuple(
            (r.scenario, r.year, r.error or "") for r in window if r.error is not None
        )
        fills = tuple((r.location, r.masked_fills) for r in window if r.masked_fills)
        if len(used) < batch.min_years:
            outcomes.append(
                _outcome(
                    job,
                    Status.TOO_FEW_YEARS,
                    left_out=left_out,
                    masked_fills=fills,
                    message=f"{len(used)} of {batch.window} window years usable; "
                    f"{batch.min_years} needed",
                )
            )
            continue
        try:
            normal = window_mean(
                ((r.sums, r.counts) for r in used if r.sums is not None),
                min_years=batch.min_years,
            )
            metadata = NormalMetadata(
                variable=job.variable,
                target_year=job.target_year,
                period=job.window.period,
                scenario=job.scenario,
                model=job.model,
                calendar=batch.calendar,
                region=job.region,
                window=batch.window,
                min_years=batch.min_years,
                inputs_fingerprint=job.fingerprint,
                source_years=tuple(r.year for r in used),
                source_scenarios=tuple(r.scenario for r in used),
                variable_attrs=batch.variable_attrs,
            )
            write_normal(normal_dataset(normal, batch.lat, batch.lon, metadata), job.path)
        except Exception as error:
            outcomes.append(_outcome(job, Status.FAILED, left_out=left_out, message=f"{error}"))
            continue
        status = Status.RECOMPUTED if job.path in batch.replacing else Status.WRITTEN
        outcomes.append(
            _outcome(
                job,
                status,
                source_years=metadata.source_years,
                left_out=left_out,
                masked_fills=fills,
            )
        )
    return outcomes


def _check_existing(
    plan: NormalsPlan, config: NormalsConfig, client: Client
) -> dict[Path, OutputCheck]:
    jobs = [job for job in plan.jobs if job.path.exists()]
    futures = [
        client.submit(
            check_output,
            job.path,
            variable=job.variable,
            expected=job.expected_attrs(config),
            shape=(
                1,
                days_per_year(plan.grids[(job.model, job.variable)].calendar),
                *plan.slices[(job.model, job.variable, job.region.name)].shape,
            ),
            key=(
                f"check-{job.variable}-{job.region.name}",
                job.model,
                job.scenario,
                job.target_year,
            ),
            pure=False,
        )
        for job in jobs
    ]
    return dict(zip((job.path for job in jobs), client.gather(futures), strict=True))


def _batch_size(config: NormalsConfig, plan: NormalsPlan, client: Client) -> int:
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


def _batch_tasks(
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
    """
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
                            model,
                            source.scenario,
                            source.year,
                        ),
                    )
                year_results.append(year_tasks[key])
            batch = _Batch(
                jobs=batch_jobs,
                replacing=frozenset(job.path for job in batch_jobs) & replacing,
                lat=xr.DataArray(
                    grid.lat[slices.lat_slice],
                    dims="lat",
                    attrs=_kept(grid.lat_attrs, _KEPT_COORDINATE_ATTRS),
                ),
                lon=xr.DataArray(
                    slices.lon, dims="lon", attrs=_kept(grid.lon_attrs, _KEPT_COORDINATE_ATTRS)
                ),
                variable_attrs=_kept(grid.variable_attrs, _KEPT_VARIABLE_ATTRS),
                calendar=grid.calendar,
                window=config.window,
                min_years=config.min_years,
            )
            task = dask.delayed(compute_batch, pure=True)(
                batch,
                *year_results,
                dask_key_name=(f"normals-{variable}-{region_name}", model, scenario, index),
            )
        lane_tasks[lane].append(task)
        tasks.append((task, batch_jobs))
    return tasks


class _Progress:
    """A text progress bar of target years done, drawn on stderr as batches complete.

    (``distributed.progress`` names its scheduler plugin after the keys, so two runs of the same
    graph at once would replace each other's bar and wait forever.)
    """

    WIDTH = 40

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self._draw()

    def advance(self, n: int) -> None:
        self.done += n
        self._draw()

    def _draw(self) -> None:
        filled = self.WIDTH * self.done // max(self.total, 1)
        end = "\n" if self.done >= self.total else ""
        print(
            f"\r[{'#' * filled}{' ' * (self.WIDTH - filled)}] "
            f"{self.done}/{self.total} target years",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def _batch_outcomes(future: distributed.Future, jobs: Sequence[TargetJob]) -> list[TargetOutcome]:
    try:
        return future.result()
    except Exception as error:
        return [_outcome(job, Status.FAILED, message=f"batch failed: {error}") for job in jobs]


def _outcome(
    job: TargetJob,
    status: Status,
    *,
    source_years: tuple[int, ...] = (),
    left_out: tuple[tuple[str, int, str], ...] = (),
    masked_fills: tuple[tuple[str, int], ...] = (),
    message: str = "",
) -> TargetOutcome:
    return TargetOutcome(
        model=job.model,
        variable=job.variable,
        region=job.region.name,
        scenario=job.scenario,
        target_year=job.target_year,
        status=status,
        path=job.path,
        source_years=source_years,
        left_out=left_out,
        masked_fills=masked_fills,
        message=message,
    )


def _missing(job: TargetJob) -> tuple[tuple[str, int, str], ...]:
    return tuple((source, year, "no input file") for source, year in job.missing)


def _warn_left_out_years(outcomes: Iterable[TargetOutcome]) -> None:
    """One short warning naming, per model, variable and source, the years left out, with
    one line per file that was read but not used (unreadable or incomplete) and why."""
    left_out: dict[tuple[str, str, str], dict[str, set[int]]] = defaultdict(
        lambda: defaultdict(set)
    )
    reasons: dict[tuple[str, str, str, int], str] = {}
    for outcome in outcomes:
        for source, year, reason in outcome.left_out:
            kind = "no input file" if reason == "no input file" else "unreadable"
            if reason.startswith("incomplete"):
                kind = "incomplete"
            left_out[(outcome.model, outcome.variable, source)][kind].add(year)
            if kind != "no input file":
                reasons[(outcome.model, outcome.variable, source, year)] = reason
    if not left_out:
        return
    lines = []
    for (model, variable, source), by_kind in sorted(left_out.items()):
        kinds = "; ".join(
            f"{kind} {format_years(years, ', ')}" for kind, years in sorted(by_kind.items())
        )
        lines.append(f"  {model} {variable} {source}: {kinds}")
        lines.extend(
            f"    {year}: {reason}"
            for (m, v, s, year), reason in sorted(reasons.items())
            if (m, v, s) == (model, variable, source)
        )
    message = "years left out of windows (the other years are used):\n" + "\n".join(lines)
    warn_at_caller(message, MissingYearsWarning)


def _warn_masked_fills(outcomes: Iterable[TargetOutcome]) -> None:
    """One warning per input holding undeclared fill values, with the count per region."""
    found: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for outcome in outcomes:
        for location, count in outcome.masked_fills:
            found[(location, outcome.variable)][outcome.region] = count
    for (location, variable), by_region in sorted(found.items()):
        counts = ", ".join(f"{region} {count}" for region, count in sorted(by_region.items()))
        message = (
            f"{location}: values of {variable} that are non-finite or |x| >= 1e20 without a "
            f"declared fill value were treated as missing ({counts})"
        )
        warn_at_caller(message, UndeclaredFillWarning)


def _fingerprint(
    config: NormalsConfig,
    model: str,
    variable: str,
    region: Region,
    inputs: Iterable[YearInput],
) -> str:
    description = {
        "variable": variable,
        "model": model,
        "region": [region.name, *region.bounds],
        "allow_incomplete_years": config.allow_incomplete_years,
        "inputs": [[i.scenario, i.year, i.fingerprint] for i in inputs],
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _kept(attrs: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: attrs[name] for name in names if name in attrs}
