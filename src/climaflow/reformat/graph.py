"""Building and running region jobs' Dask graphs.

One graph per submission, all jobs together; every write task owns whole shards, checked
across jobs by :func:`check_exclusive_shards`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dask.delayed import Delayed, delayed
from distributed import Client, Future

from climaflow import config
from climaflow.progress import announce, count, show_task_progress
from climaflow.reformat.results import JobResult, append_label
from climaflow.reformat.tasks import (
    cleanup_downloads,
    download_coord,
    job_result,
    reformat_variable,
)

if TYPE_CHECKING:
    from climaflow.reformat.region_job import RegionJob


def job_graph(job: RegionJob[Any, Any], job_label: str) -> Delayed:
    """A region job's Dask graph, as the delayed :class:`JobResult` of the job.

    One ``download-{dataset}`` task per source file of each variable group, then one
    ``reformat-{var}`` task per variable (read its values from the group's downloads,
    assemble, transform and write each shard, tile by tile: see
    :func:`~climaflow.reformat.tasks.reformat_variable`), one ``cleanup-{dataset}`` per
    group and the ``job-{dataset}`` result. ``job_label`` makes the keys unique (e.g.
    dataset, region and a run token); the first element of each key names the stage and
    variable, so the dashboard shows one task group per stage and variable. The job object
    is in the graph once (key ``("regionjob-{dataset}", job_label)``) and every task refers
    to it: it is not hashed, nor pickled per task.
    """
    dataset_id = job.template.dataset_id
    processing_ds = job.processing_dataset()
    processing = job.get_processing_region()
    assert processing.start <= job.region.start and job.region.stop <= processing.stop, (
        f"processing region {processing} must contain the region {job.region}"
    )
    job_ref = delayed(job, name=(f"regionjob-{dataset_id}", job_label))
    summaries, cleanups = [], []
    for group_index, group in enumerate(job.group_data_vars(processing_ds)):
        downloads: list[Delayed] = []
        downloads_by_var: dict[str, list[Delayed]] = {var.name: [] for var in group}
        for i, coord in enumerate(job.generate_source_file_coords(processing_ds, group)):
            key = (f"download-{dataset_id}", job_label, group_index, i)
            downloaded = _task(download_coord, key)(job_ref, coord)
            downloads.append(downloaded)
            for var in group:
                if coord.contains(var.name):
                    downloads_by_var[var.name].append(downloaded)
        group_summaries = [
            _task(reformat_variable, (f"reformat-{var.name}", job_label))(
                job_ref, var, *downloads_by_var[var.name]
            )
            for var in group
        ]
        summaries.extend(group_summaries)
        cleanups.append(
            _task(cleanup_downloads, (f"cleanup-{dataset_id}", job_label, group_index))(
                job_ref, *downloads, *group_summaries
            )
        )
    return _task(job_result, (f"job-{dataset_id}", job_label))(job_ref, *summaries, *cleanups)


def _task(function: Callable[..., Any], key: tuple[Any, ...]) -> Callable[..., Delayed]:
    """``function`` as a delayed task with this key (named, so its arguments are not hashed).

    Tasks take other tasks' results as positional arguments, never in lists: dask wraps a
    list of delayed values in a task of its own and culls a graph for it, which made
    building a graph several times slower.
    """

    def call(*args: Any) -> Delayed:
        task: Delayed = delayed(function, pure=True)(*args, dask_key_name=key)
        return task

    return call


def process_jobs(
    jobs: Sequence[RegionJob[Any, Any]],
    client: Client | None = None,
    *,
    show_progress: bool = False,
) -> list[JobResult]:
    """Run region jobs as one Dask graph on ``client`` and return their results in order.

    Asserts that no two jobs write the same shard. With ``client=None`` a LocalCluster
    sized to this machine is started for the call. ``show_progress`` says what is planned and
    shows the progress (:func:`climaflow.progress.show_task_progress`).
    """
    if client is None:
        from climaflow.cluster import cluster_client

        with cluster_client() as local_client:
            return process_jobs(jobs, local_client, show_progress=show_progress)
    clock = time.perf_counter()
    if show_progress and jobs:
        first, last = jobs[0], jobs[-1]
        append_dim = first.template.append_dim
        values = first.coordinates[append_dim]
        announce(
            f"{first.template.dataset_id}: planning {count(len(jobs), 'region job')}, {append_dim} "
            f"{append_label(values[first.region.start])} to "
            f"{append_label(values[min(last.region.stop, len(values)) - 1])}, "
            f"{count(len(first.data_vars), 'variable')}"
        )
    futures = submit_jobs(jobs, client)
    if show_progress:
        announce(f"   submitted in {time.perf_counter() - clock:.1f} s; running")
        show_task_progress(futures)
    results: list[JobResult] = client.gather(futures)
    return results


def submit_jobs(jobs: Sequence[RegionJob[Any, Any]], client: Client) -> list[Future[JobResult]]:
    """Submit region jobs to ``client``; return one future per job (for progress bars).

    Task retries (``climaflow.tasks.retries``) are given to ``Client.compute``, where they
    survive (annotations on a graph may be dropped by optimization, which is off here).
    """
    check_exclusive_shards(jobs)
    run_token = uuid.uuid4().hex[:8]
    results = [
        job_graph(
            job, f"{job.template.dataset_id}[{job.region.start}:{job.region.stop}]#{run_token}"
        )
        for job in jobs
    ]
    futures: list[Future[JobResult]] = client.compute(
        results, optimize_graph=False, retries=int(config.get("tasks.retries"))
    )
    return futures


def check_exclusive_shards(jobs: Sequence[RegionJob[Any, Any]]) -> None:
    """Assert that no shard of any variable is written by two jobs."""
    owners: dict[tuple[str, tuple[tuple[int, int], ...]], RegionJob[Any, Any]] = {}
    for job in jobs:
        for data_var in job.data_vars:
            for selection in job.shard_selections(data_var):
                shard = (data_var.name, tuple((s.start, s.stop) for s in selection))
                assert shard not in owners, (
                    f"{data_var.name} shard {selection} is written by both {owners[shard]} "
                    f"and {job}: jobs must not share shards"
                )
                owners[shard] = job
