"""Shard-write throughput of the RegionJob write stage against one zarr call in one process.

Run from the repository root: ``.venv/bin/python -m benchmarks.compare_shard_writes [--steps 256]``

Both write the same float32 array (``steps x 256 x 512``, shards of 16 x 256 x 256, blosc
zstd 3) to a fresh local Zarr v3 store; the baseline is ``array[:] = values``. For the
region jobs (values computed in ``read_data``, so no I/O but the writes) it reports:

- write-stage throughput: uncompressed bytes over the seconds the variables' tasks spent
  writing shards (``VariableSummary.seconds["write"]``) divided by the cluster's threads
  (what the write stage costs when it has the cluster);
- end-to-end throughput: bytes over the wall time of the whole graph (reads, assembly,
  transfers between workers, transforms and writes interleaved).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from distributed import Client, LocalCluster

from climaflow.reformat.graph import process_jobs

from .synthetic_job import BenchTemplate, expected_array, make_jobs


def region_job_seconds(client: Client, store: Path, n_steps: int) -> tuple[float, float]:
    """(shard-writing seconds per cluster thread, wall seconds of the whole graph)."""
    jobs = make_jobs(store, n_steps)
    start = time.perf_counter()
    results = process_jobs(jobs, client)
    wall = time.perf_counter() - start
    busy = sum(
        summary.seconds["write"] for result in results for summary in result.variables.values()
    )
    threads = sum(client.nthreads().values())
    return busy / threads, wall


def single_call_seconds(store: Path, values: np.ndarray) -> float:
    BenchTemplate().write_metadata(store, values.shape[0])
    array = zarr.open_array(store, path="field", mode="r+", config={"write_empty_chunks": True})
    start = time.perf_counter()
    array[:] = values
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=2)
    args = parser.parse_args()

    values = expected_array(args.steps)
    megabytes = values.nbytes / 1e6
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        root = Path(tmp)
        stage, wall = region_job_seconds(client, root / "stage.zarr", args.steps)
        baseline = single_call_seconds(root / "single.zarr", values)
        written = xr.open_zarr(root / "stage.zarr")["field"].values
        assert np.array_equal(written, values), "the write stage wrote other values"

    print(f"array: {values.shape} float32, {megabytes:.0f} MB uncompressed")
    cluster_size = f"{args.workers} workers x {args.threads_per_worker} threads"
    print(f"one zarr call, one process:   {baseline:.2f} s, {megabytes / baseline:.0f} MB/s")
    print(f"write stage ({cluster_size}): {stage:.2f} s, {megabytes / stage:.0f} MB/s")
    print(f"whole region-job graph:       {wall:.2f} s, {megabytes / wall:.0f} MB/s")
    print(f"ratio write stage / single call: {baseline / stage:.2f}")
    print(f"ratio whole graph / single call: {baseline / wall:.2f}")


if __name__ == "__main__":
    main()
