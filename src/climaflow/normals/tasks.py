"""The task functions of the normals graph: reduce one input year, compute and write a batch.

Both run on workers. :func:`reduce_year` reads one year of one variable once, for every
region, and reduces each region to per-day sums and counts; :func:`compute_batch` computes its target years'
window means (:func:`~climaflow.normals.window.window_mean`) and writes their files.
Failures are returned as data (a :class:`YearResult` with an ``error``, a ``failed``
outcome), never raised.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from dask.sizeof import sizeof

from climaflow.normals.archive import YearInput
from climaflow.normals.calendar import years_and_days
from climaflow.normals.outcomes import Status, TargetOutcome, missing_inputs, outcome_of
from climaflow.normals.output import normal_dataset, write_normal
from climaflow.normals.plan import TargetJob
from climaflow.normals.read import InputGrid, read_year_regions
from climaflow.normals.regions import RegionSlices
from climaflow.normals.window import window_means
from climaflow.normals.yearly import dayofyear_sums
from climaflow.normals.zarr_output import write_target


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


def _sizeof_year_result(result: YearResult) -> int:
    """Tell Dask's memory management how big a year result is (its arrays)."""
    return sum(array.nbytes for array in (result.sums, result.counts) if array is not None)


sizeof.register(YearResult, _sizeof_year_result)


@dataclass(frozen=True)
class BatchSpec:
    """What a batch task needs besides the year results (``region``: the jobs' region name)."""

    region: str
    jobs: tuple[TargetJob, ...]
    replacing: frozenset[tuple[Path, int]]
    lat: xr.DataArray
    lon: xr.DataArray
    variable_attrs: dict[str, Any]
    calendar: str
    window: int
    min_years: int
    output_format: str = "netcdf"


def reduce_year(
    source: YearInput,
    regions: tuple[RegionSlices, ...],
    allow_incomplete: bool,
    storage_options: Mapping[str, Any] | None,
    grid: InputGrid,
    after: object = None,
) -> dict[str, YearResult]:
    """Task: one input year's per-day sums and counts in each region, by region name.

    The input is read once for all ``regions`` (fetched once when remote) and must be on
    ``grid`` (the planned grid of its model and variable). Undeclared fill values are masked and counted; a
    year lacking some of its calendar's days is left out unless ``allow_incomplete``.
    ``after`` is ignored: it is the batch this read waits for, so that reading runs at most
    :data:`~climaflow.normals.graph.READ_AHEAD_BATCHES` batches ahead of writing. Errors
    (missing variable, corrupt file, other grid...) are returned in every region's
    :class:`YearResult`, not raised.
    """
    try:
        subsets = read_year_regions(
            source, regions, (grid.lat, grid.lon), storage_options=storage_options
        )
    except Exception as error:
        failed = YearResult(source.scenario, source.year, source.location, error=f"{error}")
        return {slices.region.name: failed for slices in regions}
    return {
        slices.region.name: _year_result(source, data, allow_incomplete)
        for slices, data in zip(regions, subsets, strict=True)
    }


def _year_result(source: YearInput, data: xr.DataArray, allow_incomplete: bool) -> YearResult:
    """Reduce one region's year of values to per-day sums (and counts for sub-daily data)."""
    try:
        # The data were read for this task alone: their array becomes the sums, uncopied.
        yearly = dayofyear_sums(data, allow_incomplete_years=True, overwrite_input=True)
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


def compute_batch(batch: BatchSpec, *years: Mapping[str, YearResult]) -> list[TargetOutcome]:
    """Task: the normals of a batch's target years, each written to its file.

    ``years`` are :func:`reduce_year` results; the batch takes its region's. The means of all
    targets with enough usable years are computed in one pass over the years
    (:func:`~climaflow.normals.window.window_means`), then written one file at a time.
    """
    in_region = (by_region[batch.region] for by_region in years)
    results = {(r.scenario, r.year): r for r in in_region}
    usable = sorted(
        (
            (key, r.sums, r.counts)
            for key, r in results.items()
            if r.error is None and r.sums is not None
        ),
        key=lambda item: (item[0][1], item[0][0]),
    )
    position = {key: k for k, (key, _, _) in enumerate(usable)}
    jobs = sorted(batch.jobs, key=lambda job: job.target_year)
    used = {
        job: sorted(position[key] for key in _input_keys(job) if key in position) for job in jobs
    }
    computed = [job for job in jobs if len(used[job]) >= batch.min_years]
    means: dict[TargetJob, np.ndarray] = {}
    error = None
    if computed:
        try:
            stacked = window_means(
                [(sums, counts) for _, sums, counts in usable],
                [used[job] for job in computed],
                min_years=batch.min_years,
            )
        except Exception as failure:
            error = f"{failure}"
        else:
            means = dict(zip(computed, stacked, strict=True))
    return [
        _target_outcome(
            batch, job, [results[key] for key in _input_keys(job)], means.get(job), error
        )
        for job in jobs
    ]


def _input_keys(job: TargetJob) -> list[tuple[str, int]]:
    return [(source.scenario, source.year) for source in job.inputs]


def _target_outcome(
    batch: BatchSpec,
    job: TargetJob,
    window: list[YearResult],
    normal: np.ndarray | None,
    error: str | None,
) -> TargetOutcome:
    """Write one target's normal (computed from its window's year results), or say why not."""
    used = sorted((r for r in window if r.error is None), key=lambda r: r.year)
    left_out = missing_inputs(job) + tuple(
        (r.scenario, r.year, r.error or "") for r in window if r.error is not None
    )
    fills = tuple((r.location, r.masked_fills) for r in window if r.masked_fills)
    if len(used) < batch.min_years:
        return outcome_of(
            job,
            Status.TOO_FEW_YEARS,
            left_out=left_out,
            masked_fills=fills,
            message=f"{len(used)} of {batch.window} window years usable; {batch.min_years} needed",
        )
    if normal is None:
        return outcome_of(job, Status.FAILED, left_out=left_out, message=f"{error}")
    metadata = job.metadata(
        calendar=batch.calendar,
        window=batch.window,
        min_years=batch.min_years,
        variable_attrs=batch.variable_attrs,
        years=[(r.scenario, r.year) for r in used],
    )
    try:
        dataset = normal_dataset(normal, batch.lat, batch.lon, metadata)
        if batch.output_format == "zarr":
            write_target(job.path, dataset, metadata)
        else:
            write_normal(dataset, job.path)
    except Exception as failure:
        return outcome_of(job, Status.FAILED, left_out=left_out, message=f"{failure}")
    status = Status.RECOMPUTED if job.output_key in batch.replacing else Status.WRITTEN
    return outcome_of(
        job, status, source_years=metadata.source_years, left_out=left_out, masked_fills=fills
    )


def kept_attrs(attrs: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: attrs[name] for name in names if name in attrs}
