"""Choosing the Dask cluster every climaflow command runs on.

One function, :func:`cluster_client`, decides:

- a running ``dask scheduler`` when an address is given (argument or
  ``DASK_SCHEDULER_ADDRESS``), after checking that its workers can import climaflow and
  reach the paths the run writes to;
- a SLURM or PBS cluster through dask-jobqueue (``cluster="slurm"`` or ``"pbs"``), configured
  by dask's own ``jobqueue`` config (``~/.config/dask/jobqueue.yaml``);
- otherwise a ``LocalCluster`` sized to this machine.
"""

import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dask.config
import psutil
from distributed import Client, LocalCluster

from climaflow import config
from climaflow.io.icechunk_stores import is_icechunk_url, repository_location

logger = logging.getLogger(__name__)

SCHEDULER_ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
ClusterKind = Literal["local", "slurm", "pbs"]


class ClusterError(RuntimeError):
    """The cluster cannot run climaflow; the message says why and what to do."""


@dataclass(frozen=True)
class LocalClusterSize:
    """Workers, threads and memory of a default ``LocalCluster``."""

    n_workers: int
    threads_per_worker: int
    memory_limit_bytes: int

    def describe(self) -> str:
        gib = self.memory_limit_bytes / 2**30
        return (
            f"{self.n_workers} workers x {self.threads_per_worker} threads, "
            f"{gib:.1f} GiB memory limit per worker"
        )


def default_local_cluster_size(
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    memory_limit_bytes: int | None = None,
) -> LocalClusterSize:
    """Size a ``LocalCluster`` for this machine.

    One worker process per core (NetCDF/HDF5 and eccodes decoding parallelise across
    processes, not threads) with two threads each, so downloads and shard writes overlap
    with decoding. Workers share 90 % of physical memory. Any argument given wins, and
    ``climaflow.cluster.*`` in ``dask.config`` fills in what is not given.
    """
    cores = os.cpu_count() or 1
    n_workers = n_workers or config.get("cluster.n-workers") or cores
    threads_per_worker = threads_per_worker or config.get("cluster.threads-per-worker") or 2
    if memory_limit_bytes is None:
        memory_limit_bytes = int(psutil.virtual_memory().total * 0.9 / n_workers)
    return LocalClusterSize(n_workers, threads_per_worker, memory_limit_bytes)


def check_workers(client: Client, writable_paths: Sequence[str | Path] = ()) -> None:
    """Raise :class:`ClusterError` unless every worker imports climaflow and can write
    (or create) each of ``writable_paths`` (an Icechunk repository's directory for an
    ``icechunk://`` URL, whose writers also need the icechunk package)."""
    paths = [
        repository_location(os.fspath(path)) if is_icechunk_url(path) else str(path)
        for path in writable_paths
    ]
    needs_icechunk = any(is_icechunk_url(path) for path in writable_paths)
    try:
        reports = client.run(_worker_report, paths, needs_icechunk)
    except Exception as error:  # e.g. climaflow is not importable where the function runs
        raise ClusterError(
            f"the workers could not run climaflow's check ({error}): install climaflow "
            "in the workers' environment"
        ) from error
    problems = [f"{worker}: {problem}" for worker, found in reports.items() for problem in found]
    if problems:
        raise ClusterError(
            "the cluster's workers cannot run this job: "
            + "; ".join(problems)
            + ". Install climaflow where the workers run and put outputs on a filesystem "
            "they share."
        )


def _worker_report(paths: Sequence[str], needs_icechunk: bool = False) -> list[str]:
    """On a worker: what keeps it from running climaflow (empty when nothing does)."""
    problems = []
    try:
        import climaflow  # noqa: F401
    except ImportError as error:
        problems.append(f"cannot import climaflow ({error})")
    if needs_icechunk and importlib.util.find_spec("icechunk") is None:
        problems.append("cannot import icechunk (pip install 'climaflow[icechunk]')")
    for path in paths:
        if "://" in path:
            continue  # object stores: credentials are checked by the first write
        existing = Path(path)
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing != Path(path) and not existing.is_dir():
            problems.append(f"cannot write to {path} ({existing} is not a directory)")
        elif not os.access(existing, os.W_OK):
            problems.append(f"cannot write to {path} ({existing} is not writable)")
    return problems


def jobqueue_cluster(kind: Literal["slurm", "pbs"], **kwargs: Any) -> Any:
    """A dask-jobqueue cluster configured by dask's ``jobqueue.{kind}`` settings.

    Keyword arguments override the configuration (``cores``, ``memory``, ``queue``...).
    """
    try:
        import dask_jobqueue
    except ImportError as error:
        raise ClusterError(
            f"--cluster {kind} needs dask-jobqueue: pip install 'climaflow[jobqueue]'"
        ) from error
    cluster_class = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    return cluster_class(**kwargs)


@contextmanager
def cluster_client(
    scheduler: str | None = None,
    *,
    cluster: ClusterKind = "local",
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    memory_limit_bytes: int | None = None,
    dashboard_address: str = ":8787",
    writable_paths: Sequence[str | Path] = (),
) -> Iterator[Client]:
    """Yield a ``distributed.Client`` for a climaflow run and close what it started.

    Parameters
    ----------
    scheduler
        Address of a running ``dask scheduler`` (``tcp://host:8786``). When ``None``,
        ``DASK_SCHEDULER_ADDRESS`` is used if set.
    cluster
        Without a scheduler address: ``"local"`` starts a ``LocalCluster``; ``"slurm"`` and
        ``"pbs"`` submit ``n_workers`` worker jobs through dask-jobqueue.
    n_workers, threads_per_worker, memory_limit_bytes
        Size of the ``LocalCluster`` (see :func:`default_local_cluster_size`); for
        jobqueue clusters ``n_workers`` is the number of jobs.
    dashboard_address
        Where a ``LocalCluster`` serves its dashboard (``":0"`` picks a free port).
    writable_paths
        Outputs of the run; on a remote cluster every worker must be able to write them.

    Raises
    ------
    ClusterError
        When no scheduler answers at the address, or its workers cannot run climaflow.
    """
    scheduler = scheduler or os.environ.get(SCHEDULER_ADDRESS_ENV)
    if scheduler:
        chosen = _scheduler_client(scheduler, writable_paths)
    elif cluster in ("slurm", "pbs"):
        chosen = _jobqueue_client(cluster, n_jobs=n_workers or 1)
    else:
        size = default_local_cluster_size(n_workers, threads_per_worker, memory_limit_bytes)
        chosen = _local_cluster_client(size, dashboard_address)
    with chosen as client:
        yield client


@contextmanager
def _scheduler_client(
    scheduler: str, writable_paths: Sequence[str | Path] = ()
) -> Iterator[Client]:
    """Yield a client of the running ``dask scheduler`` at ``scheduler``; close it after.

    The scheduler's workers are checked first (see :func:`check_workers`).

    Raises
    ------
    ClusterError
        When no scheduler answers within ``distributed.comm.timeouts.connect``, or its
        workers cannot run climaflow or write ``writable_paths``.
    """
    timeout = dask.config.get("distributed.comm.timeouts.connect")
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"no dask scheduler answers at {scheduler} (within {timeout}): start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out "
            "--scheduler/DASK_SCHEDULER_ADDRESS to use a LocalCluster"
        ) from error
    with client:
        logger.info("Connected to %s; dashboard: %s", scheduler, client.dashboard_link)
        check_workers(client, writable_paths)
        yield client


@contextmanager
def _jobqueue_client(kind: Literal["slurm", "pbs"], *, n_jobs: int) -> Iterator[Client]:
    """Yield a client of a dask-jobqueue cluster of ``n_jobs`` worker jobs; close both after.

    The cluster is configured by dask's ``jobqueue.{kind}`` settings (see
    :func:`jobqueue_cluster`).
    """
    with jobqueue_cluster(kind) as jobs, Client(jobs) as client:
        jobs.scale(jobs=n_jobs)
        logger.info("Submitted %d %s worker jobs", n_jobs, kind)
        yield client


def worker_environ() -> dict[str, str]:
    """The environment a ``LocalCluster`` started by climaflow gives its worker processes.

    distributed's ``distributed.nanny.pre-spawn-environ`` with climaflow's
    ``climaflow.cluster.worker-environ`` on top (glibc's allocator settings: see
    ``climaflow.yaml`` and docs/performance.md). As with distributed's own setting, a
    variable already in the environment of the process starting the cluster wins, and one
    set to ``None`` is left out. Set the same on ``dask worker`` processes of a cluster you
    start yourself.
    """
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.update(config.get("cluster.worker-environ") or {})
    # distributed's convention: None unsets a variable the defaults would set.
    return {name: str(value) for name, value in environ.items() if value is not None}


@contextmanager
def _local_cluster_client(size: LocalClusterSize, dashboard_address: str) -> Iterator[Client]:
    """Yield a client of a new ``LocalCluster`` of ``size``; close both after.

    ``dashboard_address`` is where the cluster serves its dashboard (``":0"``: a free port).
    """
    logger.info("Starting a LocalCluster: %s", size.describe())
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
        local = LocalCluster(
            n_workers=size.n_workers,
            threads_per_worker=size.threads_per_worker,
            memory_limit=size.memory_limit_bytes,
            dashboard_address=dashboard_address,
        )
    with local, Client(local) as client:
        logger.info("Dashboard: %s", client.dashboard_link)
        yield client
