"""Reformat a dataset: write (or extend) the template, then run its region jobs."""

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import zarr
from distributed import Client

from climaflow import __version__
from climaflow.io.stores import (
    RunOutput,
    StoreLike,
    open_run_output,
    open_store,
    store_exists,
)
from climaflow.reformat.graph import process_jobs
from climaflow.reformat.region_job import RegionJob
from climaflow.reformat.results import JobResult, RegionOutcome, append_label, region_outcome
from climaflow.reformat.run_record import write_run_record
from climaflow.reformat.template import Template

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReformatResult:
    """The jobs a reformat or update ran, what happened to every source file and region, and
    the run record."""

    dataset_id: str
    jobs: Sequence[JobResult]
    record: str | None = None
    #: Every processed region's status, in append-dim order.
    regions: Sequence[RegionOutcome] = ()
    #: Trailing regions left out of the store: none of their files was available (update).
    trimmed: Sequence[RegionOutcome] = ()

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Files per status, per variable, over all jobs."""
        totals: dict[str, Counter[str]] = {}
        for job in self.jobs:
            for name, summary in job.variables.items():
                totals.setdefault(name, Counter()).update(summary.status_counts)
        return {name: dict(counts) for name, counts in totals.items()}

    @property
    def failed_files(self) -> list[dict[str, Any]]:
        return [dict(record) for job in self.jobs for record in job.failed_files]

    @property
    def bytes_written(self) -> int:
        return sum(v.bytes_written for job in self.jobs for v in job.variables.values())


def reformat(
    template: Template[Any],
    region_job_class: type[RegionJob[Any, Any]],
    store: StoreLike,
    *,
    start: Any,
    end: Any,
    stop: Any | None = None,
    data_vars: Iterable[str] | None = None,
    client: Client | None = None,
    shards_per_job: int = 1,
    show_progress: bool = False,
    source_storage_options: Mapping[str, Any] | None = None,
    store_storage_options: Mapping[str, Any] | None = None,
    **job_kwargs: Any,
) -> ReformatResult:
    """Write or extend ``store`` up to ``end`` (exclusive) and fill it from ``start`` on.

    Every region of whole shards from the one holding ``start`` to the end is processed,
    then the store's metadata is extended to ``end``: data first, metadata last, so a
    reader never sees an append-dimension value whose shards are not written (see
    :meth:`~climaflow.reformat.template.Template.publish_metadata`). With ``stop``, the
    store is extended only as far as processing went. Failed source files leave NaN and
    are listed in the result.

    Parameters
    ----------
    template, region_job_class
        The dataset integration.
    store
        The Zarr v3 store: a path, a URL (``s3://``, ``gs://``, ``https://``...) or a zarr
        ``Store``.
    start, end
        Append-dim labels (e.g. ``"2024-01-01T00"``); ``end`` (exclusive) is where the
        store's append dimension ends: it is extended to ``end`` if shorter.
    stop
        Where processing stops (exclusive; default ``end``), to re-fill a stretch of an
        existing store without touching what follows. Rounded out to whole shards.
    data_vars
        Variable names (default: all).
    client
        The Dask client (default: a LocalCluster sized to this machine).
    shards_per_job
        Append-dim shards per region job.
    show_progress
        Say what is planned and show the jobs' progress
        (:func:`climaflow.progress.show_task_progress`).
    source_storage_options
        Options for reading the source files, e.g. credentials of a private bucket
        (``{"access_key_id": ..., "secret_access_key": ...}``) or
        ``{"client_options": {"timeout": "5 min"}}``; see :mod:`climaflow.io.objects`.
        Every region job carries them to the workers and uses them for every download.
    store_storage_options
        Options for opening ``store`` when it is a URL (same keys): used for its metadata,
        every shard write and the run record.
    job_kwargs
        Passed to the region job (``source_url``, ``download_dir``...).

    Raises
    ------
    ValueError
        When ``start`` is at or after where processing stops.
    """
    data_vars = list(data_vars) if data_vars is not None else None
    position, stop_position = check_request(
        template, start=start, end=end, stop=stop, data_vars=data_vars
    )
    return run_regions(
        template,
        region_job_class,
        store,
        end,
        [(position, stop_position)],
        record={"kind": "reformat", "start": str(start), "end": str(end), "stop": str(stop)},
        data_vars=data_vars,
        client=client,
        shards_per_job=shards_per_job,
        show_progress=show_progress,
        source_storage_options=source_storage_options,
        store_storage_options=store_storage_options,
        **job_kwargs,
    )


def run_regions(
    template: Template[Any],
    region_job_class: type[RegionJob[Any, Any]],
    store: StoreLike,
    end: Any,
    ranges: Sequence[tuple[int, int]],
    *,
    record: Mapping[str, Any],
    trim_unavailable: bool = False,
    keep_shown_on_failure: bool = False,
    data_vars: Iterable[str] | None = None,
    client: Client | None = None,
    shards_per_job: int = 1,
    show_progress: bool = False,
    source_storage_options: Mapping[str, Any] | None = None,
    store_storage_options: Mapping[str, Any] | None = None,
    **job_kwargs: Any,
) -> ReformatResult:
    """Process the regions of whole shards covering ``ranges`` (append-dim positions of the
    dataset ending at ``end``), then publish the store's metadata and write the run record.

    Shards are written with staged metadata and the metadata published last (see
    :func:`reformat`). The store is extended to ``end``, or as far as processing went if
    that is earlier; with ``trim_unavailable``, trailing regions none of whose files were
    available are left out too. With ``keep_shown_on_failure``, regions the store already
    shows keep a variable's shards when one of its files fails (see
    ``RegionJob(keep_shards_on_failure=...)``). ``record`` is merged into the run record.
    """
    output = open_run_output(store, store_storage_options)
    stored = stored_length(template, output.store)
    values = template.dimension_coordinates(end)[template.append_dim]
    if output.transactional:
        _commit_new_arrays(template, output, _end_at(values, stored, end), stored)
    staged = template.stage_metadata(output.store, end)
    array_metadata = staged.array_metadata(var.name for var in template.data_vars)
    jobs_by_region: dict[tuple[int, int], RegionJob[Any, Any]] = {}
    for first, stop in ranges:
        for job in region_job_class.get_jobs(
            template,
            output.task_store,
            end,
            start=first,
            stop=stop,
            data_vars=data_vars,
            shards_per_job=shards_per_job,
            source_storage_options=source_storage_options,
            store_storage_options=store_storage_options,
            array_metadata=array_metadata,
            keep_shards_on_failure=keep_shown_on_failure and first < stored,
            **job_kwargs,
        ):
            jobs_by_region.setdefault((job.region.start, job.region.stop), job)
    jobs = [jobs_by_region[region] for region in sorted(jobs_by_region)]
    logger.info("%s: %d region jobs up to %s", template.dataset_id, len(jobs), end)
    started = datetime.now(UTC).isoformat()
    results = process_jobs(jobs, client, show_progress=show_progress)
    regions = [region_outcome(result, values) for result in results]
    # Trimming ends the store where the sources' data end: whole regions with no file
    # published, and the unpublished tail of the last one.
    ends = [r.data_stop if trim_unavailable else r.stop for r in regions]
    length = max([stored, *(reached for reached in ends if reached is not None)])
    trimmed = [region for region in regions if region.start >= length]
    published_end = _end_at(values, length, end)
    if published_end is not end:
        staged = template.stage_metadata(output.store, published_end)
    output.merge(
        summary.changes
        for result in results
        for summary in result.variables.values()
        if summary.changes is not None
    )
    template.publish_metadata(staged, output.store)
    kind = str(record.get("kind", "reformat"))
    version = output.commit(
        _commit_message(template, kind, regions, published_end),
        {"climaflow_version": __version__, "kind": kind, "dataset_id": template.dataset_id},
    )
    location = write_run_record(
        store,
        {
            **_run_record(template, results, started=started),
            **record,
            "regions": [region.describe() for region in regions],
            "variables": [var.name for var in jobs[0].data_vars],
            "published_end": str(published_end),
            **({"snapshot_id": version} if version is not None else {}),
        },
        storage_options=store_storage_options,
    )
    return ReformatResult(template.dataset_id, results, location, regions, trimmed)


def stored_length(
    template: Template[Any],
    store: StoreLike,
    storage_options: Mapping[str, Any] | None = None,
) -> int:
    """The store's append-dimension length; 0 when it has no metadata yet."""
    if not store_exists(store, storage_options):
        return 0
    opened = open_store(store, storage_options=storage_options)
    array = zarr.open_group(opened, mode="r")[template.append_dim]
    assert isinstance(array, zarr.Array), f"{template.append_dim} is not an array"
    return int(array.shape[0])


def _end_at(values: np.ndarray, length: int, end: Any) -> Any:
    """The end label of the append dimension at ``length`` of ``values`` (which end at
    ``end``)."""
    return end if length >= len(values) else values[length]


def _commit_new_arrays(
    template: Template[Any], output: RunOutput, stored_end: Any, stored: int
) -> None:
    """Commit the template's arrays a transactional store lacks, at its current length.

    Icechunk forks can only write arrays that exist where they were forked from: forks
    creating the same array each make their own, and merging keeps one. A new repository
    gets the dataset's structure with an empty append dimension; a variable new to an
    existing one is all NaN until a run writes its values, as in a plain Zarr store.
    """
    staged = template.stage_metadata(output.store, stored_end)
    existing = (
        {name for name, _ in zarr.open_group(output.store, mode="r").arrays()}
        if store_exists(output.store)
        else set()
    )
    names = {name for name, _ in zarr.open_group(staged.store, mode="r").arrays()}
    if not names - existing:
        return
    template.publish_metadata(staged, output.store)
    output.commit(
        f"climaflow: {template.dataset_id} arrays {', '.join(sorted(names - existing))} "
        f"created ({stored} values of {template.append_dim})",
        {"climaflow_version": __version__, "dataset_id": template.dataset_id},
    )


def _commit_message(
    template: Template[Any], kind: str, regions: Sequence[RegionOutcome], published_end: Any
) -> str:
    """A commit message naming the append-dimension range a run processed, and the end."""
    processed = (
        f"{regions[0].first} to {regions[-1].first} ({len(regions)} regions)"
        if regions
        else "nothing"
    )
    return (
        f"climaflow {kind} {template.dataset_id}: {template.append_dim} {processed} "
        f"processed; the store ends before {append_label(published_end)}"
    )


def check_request(
    template: Template[Any],
    *,
    start: Any,
    end: Any,
    stop: Any | None = None,
    data_vars: Iterable[str] | None = None,
) -> tuple[int, int]:
    """Check a :func:`reformat` request before anything runs or is written; return the
    append-dim positions processing starts at and stops before (exclusive).

    Raises
    ------
    ValueError
        When a label does not parse, or there is nothing to process (``start`` at or after
        ``stop``, or ``end``).
    KeyError
        When a variable is not the template's (the message lists its variables).
    """
    for name in data_vars or ():
        template.data_var(name)
    position = template.append_dim_position(start, end)
    stop_position = template.append_dim_position(end if stop is None else stop, end)
    if position >= stop_position:
        raise ValueError(
            f"start {start} is at or after {'end' if stop is None else 'stop'} "
            f"{end if stop is None else stop}: nothing to reformat for {template.dataset_id}"
        )
    return position, stop_position


def _run_record(
    template: Template[Any], results: Sequence[JobResult], *, started: str
) -> dict[str, Any]:
    """What a run record says about a run: the dataset, when, every file and the time spent."""
    return {
        "dataset_id": template.dataset_id,
        "started": started,
        "files": [f for job in results for v in job.variables.values() for f in v.files],
        "seconds": _seconds_by_variable(results),
    }


def _seconds_by_variable(results: Sequence[JobResult]) -> dict[str, dict[str, float]]:
    """Task seconds by variable and stage (read, assemble, transform, write), over all jobs."""
    seconds: dict[str, dict[str, float]] = {}
    for job in results:
        for name, summary in job.variables.items():
            stages = seconds.setdefault(name, {})
            for stage, spent in summary.seconds.items():
                stages[stage] = round(stages.get(stage, 0.0) + spent, 3)
    return seconds
