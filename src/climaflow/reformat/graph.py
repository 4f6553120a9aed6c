"""Building and running region jobs' Dask graphs.

One graph per submission, all jobs together; every write task owns whole shards, checked
across jobs by :func:`check_exclusive_shards`.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from distributed import Client

from climaflow import config
from climaflow.progress import show_task_progress
from climaflow.reformat.results import JobResult
from climaflow.reformat.tasks import (
    assemble_variable,
    cleanup_downloads,
    download_coord,
    job_result,
    read_coord,
    select_variable,
    summarize_variable,
    transform_variable,
    write_shard,
)

if TYPE_CHECKING:
    from climaflow.reformat.region_job import RegionJob


def job_graph(job: RegionJob[Any, Any], job_label: str) -> tuple[dict[Hashable, Any], Hashable]:
    """A region job's Dask graph and the key of its :class:`JobResult`.

    ``job_label`` makes the keys unique (e.g. dataset, region and a run token). Keys are
    tuples whose first element names the stage and variable (``write-temperature_2m``).
    """
    dataset_id = job.template.dataset_id
    processing_ds = job.processing_dataset()
    processing = job.get_processing_region()
    assert processing.start <= job.region.start and job.region.stop <= processing.stop, (
        f"processing region {processing} must contain the region {job.region}"
    )
    graph: dict[Hashable, Any] = {}
    summary_keys = []
    cleanup_keys = []
    for group_index, group in enumerate(job.group_data_vars(processing_ds)):
        coords = job.generate_source_file_coords(processing_ds, group)
        download_keys = []
        reads_by_var: dict[str, list[Hashable]] = {var.name: [] for var in group}
        for i, coord in enumerate(coords):
            download_key = (f"download-{dataset_id}", job_label, group_index, i)
            graph[download_key] = (download_coord, job, coord)
            download_keys.append(download_key)
            held = [var for var in group if coord.contains(var.name)]
            read_key = (f"read-{dataset_id}", job_label, group_index, i)
            graph[read_key] = (read_coord, job, download_key, held)
            for var in held:
                if len(held) == 1:
                    reads_by_var[var.name].append(read_key)
                else:  # only this variable's array travels to its assemble task
                    select_key = (f"select-{var.name}", job_label, i)
                    graph[select_key] = (select_variable, read_key, var.name)
                    reads_by_var[var.name].append(select_key)
        write_keys = []
        for data_var in group:
            name = data_var.name
            assemble_key = (f"assemble-{name}", job_label)
            graph[assemble_key] = (assemble_variable, job, data_var, reads_by_var[name])
            transform_key = (f"transform-{name}", job_label)
            graph[transform_key] = (transform_variable, job, data_var, assemble_key)
            var_writes = []
            for s, selection in enumerate(job.shard_selections(data_var)):
                key = (f"write-{name}", job_label, s)
                graph[key] = (write_shard, job, data_var, transform_key, selection)
                var_writes.append(key)
            write_keys.extend(var_writes)
            summary_key = (f"summarize-{name}", job_label)
            graph[summary_key] = (summarize_variable, job, data_var, transform_key, var_writes)
            summary_keys.append(summary_key)
        cleanup_key = (f"cleanup-{dataset_id}", job_label, group_index)
        graph[cleanup_key] = (cleanup_downloads, job, download_keys, write_keys)
        cleanup_keys.append(cleanup_key)
    result_key = (f"job-{dataset_id}", job_label)
    graph[result_key] = (job_result, job, summary_keys, cleanup_keys)
    return graph, result_key


def process_jobs(
    jobs: Sequence[RegionJob[Any, Any]],
    client: Client | None = None,
    *,
    show_progress: bool = False,
) -> list[JobResult]:
    """Run region jobs as one Dask graph on ``client`` and return their results in order.

    Asserts that no two jobs write the same shard. With ``client=None`` a LocalCluster
    sized to this machine is started for the call. ``show_progress`` shows Dask's progress
    bar (a widget in Jupyter, text in a terminal).
    """
    if client is None:
        from climaflow.cluster import cluster_client

        with cluster_client() as local_client:
            return process_jobs(jobs, local_client, show_progress=show_progress)
    futures = submit_jobs(jobs, client)
    if show_progress:
        show_task_progress(futures)
    return client.gather(futures)


def submit_jobs(jobs: Sequence[RegionJob[Any, Any]], client: Client) -> list[Any]:
    """Submit region jobs to ``client``; return one future per job (for progress bars)."""
    check_exclusive_shards(jobs)
    run_token = uuid.uuid4().hex[:8]
    graph: dict[Hashable, Any] = {}
    result_keys = []
    for job in jobs:
        label = f"{job.template.dataset_id}[{job.region.start}:{job.region.stop}]#{run_token}"
        job_graph, result_key = job.to_graph(label)
        graph.update(job_graph)
        result_keys.append(result_key)
    # Retries given to client.get survive graph optimization (annotations may not).
    return client.get(graph, result_keys, sync=False, retries=int(config.get("tasks.retries")))


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
