"""Choosing the Dask cluster every climaflow command runs on.

One function, :func:`cluster_client`, decides: a running scheduler when an address is given
(argument or ``DASK_SCHEDULER_ADDRESS``), otherwise a ``LocalCluster`` sized to this machine.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
from distributed import Client, LocalCluster

logger = logging.getLogger(__name__)

SCHEDULER_ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"


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
    with decoding. Workers share 90 % of physical memory. Any argument given wins.
    """
    cores = os.cpu_count() or 1
    n_workers = n_workers or cores
    threads_per_worker = threads_per_worker or 2
    if memory_limit_bytes is None:
        memory_limit_bytes = int(psutil.virtual_memory().total * 0.9 / n_workers)
    return LocalClusterSize(n_workers, threads_per_worker, memory_limit_bytes)


@contextmanager
def cluster_client(
    scheduler: str | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    memory_limit_bytes: int | None = None,
    dashboard_address: str = ":8787",
) -> Iterator[Client]:
    """Yield a ``distributed.Client`` for a climaflow run and close what it started.

    Parameters
    ----------
    scheduler
        Address of a running ``dask scheduler`` (``tcp://host:8786``). When ``None``,
        ``DASK_SCHEDULER_ADDRESS`` is used if set; otherwise a ``LocalCluster`` is started.
    n_workers, threads_per_worker, memory_limit_bytes
        Size of the ``LocalCluster``; ignored when connecting to a running scheduler.
    dashboard_address
        Where the ``LocalCluster`` serves its dashboard (``":0"`` picks a free port).
    """
    scheduler = scheduler or os.environ.get(SCHEDULER_ADDRESS_ENV)
    if scheduler:
        with Client(scheduler) as client:
            logger.info(
                "Connected to scheduler %s; dashboard: %s", scheduler, client.dashboard_link
            )
            yield client
        return

    size = default_local_cluster_size(n_workers, threads_per_worker, memory_limit_bytes)
    logger.info("Starting a LocalCluster: %s", size.describe())
    with (
        LocalCluster(
            n_workers=size.n_workers,
            threads_per_worker=size.threads_per_worker,
            memory_limit=size.memory_limit_bytes,
            dashboard_address=dashboard_address,
        ) as cluster,
        Client(cluster) as client,
    ):
        logger.info("Dashboard: %s", client.dashboard_link)
        yield client
