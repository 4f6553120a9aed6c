"""asv benchmarks of region jobs: time of one small job, peak memory against dataset length.

Run: ``.venv/bin/asv run --python=same --quick --show-stderr --bench reformat``

Both use :mod:`benchmarks.synthetic_job` (values computed in ``read_data``: no downloads
or decoding, so they measure the framework: graph, assembly, transforms, shard writes) on
an in-process client (``Client(processes=False, n_workers=1, threads_per_worker=2)``), so
``peakmem_*``, which only sees the benchmark process, sees the workers' memory too.

- ``RegionJobTime.time_process_region_job``: one job of one shard (16 steps of
  256 x 512 float32, 8 MB) written to a local Zarr v3 store.
- ``RegionJobPeakMemory.peakmem_process_first_region``: the job of the first 16 steps of
  a dataset 64 or 1024 steps long. A job only materialises its processing region, so the
  peak should not grow with the dataset's length (a 1024-step array would be 512 MB).
"""

import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

from distributed import Client

from climaflow.reformat.graph import process_jobs

from .synthetic_job import STEPS_PER_SHARD, make_jobs


class _InProcessJob:
    """A fresh store for a dataset of ``n_steps`` and an in-process client."""

    timeout = 60

    def _setup(self, n_steps: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="climaflow-asv-"))
        self.jobs = make_jobs(self.directory / "bench.zarr", n_steps, 0, STEPS_PER_SHARD)
        assert len(self.jobs) == 1
        self.client = Client(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        )

    def teardown(self, *params: object) -> None:
        self.client.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class RegionJobTime(_InProcessJob):
    """Process one 16-step region (one shard deep, 2 shards) of a 64-step dataset."""

    def setup(self) -> None:
        self._setup(64)
        process_jobs(self.jobs, self.client)  # warm up: imports, numba caches, the store

    def time_process_region_job(self) -> None:
        process_jobs(self.jobs, self.client)


class RegionJobPeakMemory(_InProcessJob):
    """Peak memory of the first 16-step region job against the dataset's length."""

    params: ClassVar[list[int]] = [64, 1024]
    param_names: ClassVar[list[str]] = ["dataset_steps"]

    def setup(self, n_steps: int) -> None:
        self._setup(n_steps)

    def peakmem_process_first_region(self, n_steps: int) -> None:
        process_jobs(self.jobs, self.client)
