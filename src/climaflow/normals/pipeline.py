"""The normals pipeline: variables x regions x scenarios x target-year batches as one Dask graph.

Stages, as Dask task groups named by stage, variable and region:

- ``check-{var}-{REGION}``: does a valid output exist already? (one task per existing file)
- ``yearsum-{var}-{REGION}``, key ``(group, source scenario, year)``: open one yearly input,
  cut the region by index slices, drop 29 February, reduce to per-day sums and counts with
  flox. One task per input year, shared by every batch whose windows contain that year, so
  each input is read once per (variable, region) however many target years need it.
- ``normals-{var}-{REGION}``, key ``(group, scenario, batch index)``: for a batch of
  consecutive target years, move a running window over the batch's years (one year in, one
  out per target), and write each target's NetCDF file (temporary name, then rename).

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

from climaflow.normals.archive import (
    Archive,
    InputGrid,
    YearInput,
    inspect_input,
    open_archive,
    read_year,
)
from climaflow.normals.calendar import DAYS_PER_YEAR
from climaflow.normals.compute import (
    MissingYearsWarning,
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
from climaflow.normals.window import WindowAccumulator

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
        Output root; files go to ``{output}/{var}/{scenario}/{REGION}/...``.
    model, variables, regions, scenarios
        What to compute: ``scenarios`` are the scenarios of hybrid and future periods
        (historical targets are computed once whatever they are).
    periods, target_years, last_historical_year
        Which target years: every year of ``periods``, restricted to ``target_years`` when
        given; hybrid windows take years up to ``last_historical_year`` from historical files.
    window, min_years
        Window length and the minimum number of available years for a normal.
    batch_size
        Target years per batch task; ``None`` sizes batches to the workers' memory.
    """

    input: str
    output: Path
    model: str
    variables: tuple[str, ...]
    regions: tuple[Region, ...]
    scenarios: tuple[str, ...]
    periods: tuple[Period, ...] = DEFAULT_PERIODS
    target_years: tuple[int, ...] | None = None
    window: int = 30
    min_years: int = 25
    batch_size: int | None = None
    last_historical_year: int = LAST_HISTORICAL_YEAR

    def __post_init__(self) -> None:
        validate_window(self.window, self.min_years)
        for name in ("variables", "regions", "scenarios", "periods"):
            if not getattr(self, name):
                raise ValueError(f"no {name} given")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")


@dataclass(frozen=True)
class TargetJob:
    """One output: a (variable, region, scenario, target year) and the inputs of its window."""

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
    """What happened to one target year, with the years used and any skipped ones."""

    variable: str
    region: str
    scenario: str
    target_year: int
    status: Status
    path: Path
    source_years: tuple[int, ...] = ()
    skipped: tuple[str, ...] = ()
    message: str = ""


@dataclass
class NormalsSummary:
    """All outcomes of a run, with counts by status."""

    outcomes: list[TargetOutcome] = field(default_factory=list)

    def counts(self) -> dict[Status, int]:
        counted = Counter(outcome.status for outcome in self.outcomes)
        return {status: counted.get(status, 0) for status in Status}

    @property
    def failed(self) -> int:
        return self.counts()[Status.FAILED]

    def table(self) -> str:
        """A text table: one row per (variable, region, scenario), one column per status."""
        rows: dict[tuple[str, str, str], Counter[Status]] = defaultdict(Counter)
        for outcome in self.outcomes:
            rows[(outcome.variable, outcome.region, outcome.scenario)][outcome.status] += 1
        header = ["variable", "region", "scenario", *Status]
        body = [[*key, *(str(rows[key][status]) for status in Status)] for key in sorted(rows)]
        body.append(["total", "", "", *(str(count) for count in self.counts().values())])
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [header, *body]
        ]
        return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class YearResult:
    """One input year's per-day sums and counts in a region, or why it could not be read.

    ``sums`` are NaN where a day has no valid value. ``counts`` is ``None`` for daily data
    (at most one value per day): ``sums`` then hold the values themselves, in the input's dtype.
    """

    scenario: str
    year: int
    location: str
    sums: np.ndarray | None = None
    counts: np.ndarray | None = None
    error: str | None = None


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
    model: str
    window: int
    min_years: int


@dataclass(frozen=True)
class NormalsPlan:
    """Every target job of a run, and the grid each variable's inputs are on."""

    jobs: tuple[TargetJob, ...]
    grids: Mapping[str, InputGrid]
    slices: Mapping[tuple[str, str], RegionSlices]


def plan_normals(config: NormalsConfig, archive: Archive) -> NormalsPlan:
    """List every target job: its window's available inputs, missing years and output path.

    Reads only directory listings and one input's metadata per variable.

    Raises
    ------
    FileNotFoundError
        If the archive has no input at all for a variable.
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
    grids: dict[str, InputGrid] = {}
    slices: dict[tuple[str, str], RegionSlices] = {}
    for variable in config.variables:
        inputs = {
            source: archive.year_inputs(variable, source, years) for source, years in needed.items()
        }
        first_input = next((i for by_year in inputs.values() for i in by_year.values()), None)
        if first_input is None:
            raise FileNotFoundError(
                f"no input for variable {variable!r} in {archive.describe()} "
                f"(scenarios {', '.join(sorted(needed))})"
            )
        grids[variable] = grid = inspect_input(first_input)
        for region in config.regions:
            slices[(variable, region.name)] = region_slices(region, grid.lat, grid.lon)
            for _, window in sorted(windows.items()):
                available = tuple(
                    inputs[source][year]
                    for source, year in window.year_sources
                    if year in inputs[source]
                )
                jobs.append(
                    TargetJob(
                        variable=variable,
                        region=region,
                        window=window,
                        path=normal_path(
                            config.output,
                            variable,
                            window.scenario,
                            region.name,
                            window.target_year,
                            config.window,
                        ),
                        inputs=available,
                        missing=tuple(
                            (source, year)
                            for source, year in window.year_sources
                            if year not in inputs[source]
                        ),
                        fingerprint=_fingerprint(config, variable, region, available),
                    )
                )
    return NormalsPlan(jobs=tuple(jobs), grids=grids, slices=slices)


def run_normals(
    config: NormalsConfig, client: Client, *, show_progress: bool = False
) -> NormalsSummary:
    """Compute and write every normal of ``config`` on ``client``'s cluster.

    Existing outputs are checked first (in parallel on the workers): valid ones are skipped,
    stale or truncated ones recomputed. The rest runs as one graph over all variables,
    regions and scenarios.
    """
    archive = open_archive(config.input, config.model)
    plan = plan_normals(config, archive)
    logger.info("%d target outputs planned from %s", len(plan.jobs), archive.describe())

    summary = NormalsSummary()
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
                    skipped=_describe_missing(job),
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
    _warn_skipped_years(summary.outcomes)
    summary.outcomes.sort(key=lambda o: (o.variable, o.region, o.scenario, o.target_year))
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
    source: YearInput, slices: RegionSlices, expected_lat: np.ndarray, after: object = None
) -> YearResult:
    """Task: one input year's per-day sums and counts in a region (see :class:`YearResult`).

    ``after`` is ignored: it is the batch this read waits for, so that reading runs at most
    :data:`READ_AHEAD_BATCHES` batches ahead of writing. Errors (missing variable, corrupt file, other grid...) are
    returned, not raised.
    """
    try:
        data = read_year(source, slices)
        if data.shape[1:] != (expected_lat.size, slices.lon.size) or not np.allclose(
            data["lat"].values, expected_lat
        ):
            raise ValueError(f"{source.location}: grid differs from the other inputs")
        yearly = dayofyear_sums(data)
    except Exception as error:
        return YearResult(source.scenario, source.year, source.location, error=f"{error}")
    # C order: the window arithmetic and transfers between workers run several times faster.
    sums = np.ascontiguousarray(yearly.sums.sel(year=source.year).values)
    counts = None
    if yearly.values_per_day > 1:
        counts = np.ascontiguousarray(yearly.counts.sel(year=source.year).values, dtype=np.uint16)
    return YearResult(source.scenario, source.year, source.location, sums=sums, counts=counts)


def compute_batch(batch: _Batch, *years: YearResult) -> list[TargetOutcome]:
    """Task: the normals of a batch's target years, each written to its file."""
    readable = {(r.scenario, r.year): (r.sums, r.counts) for r in years if r.error is None}
    errors = {(r.scenario, r.year): r.error for r in years if r.error is not None}
    shape = (DAYS_PER_YEAR, batch.lat.size, batch.lon.size)
    accumulator = WindowAccumulator(shape)
    outcomes = []
    for job in sorted(batch.jobs, key=lambda job: job.target_year):
        used = [(i.scenario, i.year) for i in job.inputs if (i.scenario, i.year) in readable]
        skipped = _describe_missing(job) + tuple(
            f"{year} ({source}: unreadable: {errors[(source, year)]})"
            for source, year in ((i.scenario, i.year) for i in job.inputs)
            if (source, year) in errors
        )
        if len(used) < batch.min_years:
            outcomes.append(
                _outcome(
                    job,
                    Status.TOO_FEW_YEARS,
                    skipped=skipped,
                    message=f"{len(used)} of {batch.window} window years readable; "
                    f"{batch.min_years} needed",
                )
            )
            continue
        try:
            accumulator.move_to(used, readable)
            metadata = NormalMetadata(
                variable=job.variable,
                target_year=job.target_year,
                period=job.window.period,
                scenario=job.scenario,
                model=batch.model,
                region=job.region,
                window=batch.window,
                min_years=batch.min_years,
                inputs_fingerprint=job.fingerprint,
                source_years=tuple(year for _, year in sorted(used, key=lambda k: k[1])),
                source_scenarios=tuple(source for source, _ in sorted(used, key=lambda k: k[1])),
                variable_attrs=batch.variable_attrs,
            )
            write_normal(
                normal_dataset(accumulator.mean(), batch.lat, batch.lon, metadata), job.path
            )
        except Exception as error:
            outcomes.append(_outcome(job, Status.FAILED, skipped=skipped, message=f"{error}"))
            continue
        status = Status.RECOMPUTED if job.path in batch.replacing else Status.WRITTEN
        outcomes.append(_outcome(job, status, source_years=metadata.source_years, skipped=skipped))
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
            shape=(DAYS_PER_YEAR, *plan.slices[(job.variable, job.region.name)].shape),
            key=(f"check-{job.variable}-{job.region.name}", job.scenario, job.target_year),
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
        DAYS_PER_YEAR
        * int(np.prod(region.shape))
        * np.result_type(plan.grids[variable].dtype, np.float32).itemsize
        for (variable, _), region in plan.slices.items()
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
    groups: dict[tuple[str, str, str], list[TargetJob]] = defaultdict(list)
    for job in jobs:
        groups[(job.variable, job.region.name, job.scenario)].append(job)
    batches: list[tuple[str, str, str, int, tuple[TargetJob, ...]]] = []
    for (variable, region_name, scenario), group in groups.items():
        group.sort(key=lambda job: job.target_year)
        for index in range(0, len(group), batch_size):
            batch_jobs = tuple(group[index : index + batch_size])
            batches.append((variable, region_name, scenario, index // batch_size, batch_jobs))
    batches.sort(key=lambda b: (b[0], b[1], b[4][0].target_year, b[2]))

    year_tasks: dict[tuple[str, str, str, int], Any] = {}
    lane_tasks: dict[str | None, list[Any]] = defaultdict(list)
    tasks = []
    done = 0
    for variable, region_name, scenario, index, batch_jobs in batches:
        lane = workers[done * len(workers) // len(jobs)] if workers else None
        done += len(batch_jobs)
        earlier = lane_tasks[lane]
        gate = earlier[-READ_AHEAD_BATCHES] if len(earlier) >= READ_AHEAD_BATCHES else None
        with dask.annotate(workers=[lane] if lane else None, allow_other_workers=True):
            slices = plan.slices[(variable, region_name)]
            grid = plan.grids[variable]
            year_results = []
            for source in sorted(
                {i for job in batch_jobs for i in job.inputs}, key=lambda i: (i.year, i.scenario)
            ):
                key = (variable, region_name, source.scenario, source.year)
                if key not in year_tasks:
                    year_tasks[key] = dask.delayed(reduce_year, pure=True)(
                        source,
                        slices,
                        grid.lat[slices.lat_slice],
                        after=gate,
                        dask_key_name=(
                            f"yearsum-{variable}-{region_name}",
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
                model=config.model,
                window=config.window,
                min_years=config.min_years,
            )
            task = dask.delayed(compute_batch, pure=True)(
                batch,
                *year_results,
                dask_key_name=(f"normals-{variable}-{region_name}", scenario, index),
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
    skipped: tuple[str, ...] = (),
    message: str = "",
) -> TargetOutcome:
    return TargetOutcome(
        variable=job.variable,
        region=job.region.name,
        scenario=job.scenario,
        target_year=job.target_year,
        status=status,
        path=job.path,
        source_years=source_years,
        skipped=skipped,
        message=message,
    )


def _describe_missing(job: TargetJob) -> tuple[str, ...]:
    return tuple(f"{year} ({source}: no input file)" for source, year in job.missing)


def _warn_skipped_years(outcomes: Iterable[TargetOutcome]) -> None:
    skipped: dict[tuple[str, str, str], dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for outcome in outcomes:
        for reason in outcome.skipped:
            skipped[(outcome.variable, outcome.region, outcome.scenario)][reason].append(
                outcome.target_year
            )
    for (variable, region, scenario), reasons in sorted(skipped.items()):
        details = "; ".join(
            f"{reason} for targets {format_years(targets)}"
            for reason, targets in sorted(reasons.items())
        )
        message = f"{variable} {region} {scenario}: years left out of windows: {details}"
        logger.warning(message)
        warn_at_caller(message, MissingYearsWarning)


def _fingerprint(
    config: NormalsConfig, variable: str, region: Region, inputs: Iterable[YearInput]
) -> str:
    description = {
        "variable": variable,
        "model": config.model,
        "region": [region.name, *region.bounds],
        "inputs": [[i.scenario, i.year, i.fingerprint] for i in inputs],
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _kept(attrs: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: attrs[name] for name in names if name in attrs}
