"""Fixtures shared by the whole suite: one real LocalCluster per session, and the real-data folder."""

from collections.abc import Iterator
from pathlib import Path

import dask.config
import pytest
from distributed import Client, LocalCluster

import climaflow.config  # noqa: F401  (registers climaflow's defaults before overriding them)

REALDATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def client() -> Iterator[Client]:
    """A real two-worker, process-based LocalCluster, shared by every test that needs one.

    Workers take the configuration in force when they start: short retry backoffs here.
    """
    with (
        dask.config.set({"climaflow.io.backoff-seconds": 0.05}),
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def realdata() -> Path:
    """``tests/data``: small real GRIB2 and NetCDF files from public projects (see its README)."""
    if not REALDATA.is_dir():
        pytest.fail(f"real test data not found at {REALDATA}")
    return REALDATA
