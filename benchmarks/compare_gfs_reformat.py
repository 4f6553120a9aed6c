"""End-to-end GFS reformat throughput against a "decode once + write once" lower bound.

Run: ``.venv/bin/python benchmarks/compare_gfs_reformat.py [--inits 4] [--leads 25]
[--resolution 1.0] [--threads-per-worker 2] [--report /tmp/gfs-report.html]``

A synthetic GFS archive (:func:`~climaflow.testing.gfs_archive.write_synthetic_gfs_archive`,
``--inits`` init times x ``--leads`` hourly leads from 0, real GRIB2 with ``.idx``
inventories, simple packing) on a 1° grid (181 x 360) is reformatted into a fresh Zarr v3
store, all six ``gfs-forecast`` variables, two ways, in the same run:

- **climaflow**: :func:`climaflow.reformat.runner.reformat` with
  :class:`~climaflow.datasets.gfs_forecast.GfsForecastRegionJob` (eccodes reader) on a
  2-worker ``LocalCluster``, the archive served by the loopback HTTP server
  (:func:`climaflow.testing.http_server.serve_directory`), downloads by ``.idx`` byte ranges;
- **bound**: a ``ProcessPoolExecutor`` of 2 processes, each owning half of the init times:
  it reads each needed message's bytes straight from the local archive (``.idx`` offsets),
  decodes it once with eccodes, applies the same transforms (binary rounding,
  deaccumulation) and writes every shard of its init times once with
  ``zarr.open_array(...)[selection] = values`` into a store whose metadata the same
  template wrote (``template.write_metadata``).

Both are warmed up first (imports, numba caches, one init time reformatted to a scratch
store) and both wall times include writing the metadata. The outputs are checked to be
identical. Throughput is MB of uncompressed output data per second.

It then profiles the climaflow run: a ``distributed.performance_report`` HTML, compute
and transfer seconds per task stage from the task stream, and the bytes moved between
workers: what the workers counted (``transfer_outgoing_bytes_total``, which relies on
``dask.sizeof``) and the real array bytes of the transferred keys.
"""

import argparse
import contextlib
import multiprocessing
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import dask
import eccodes
import numpy as np
import psutil
import xarray as xr
import zarr
from distributed import Client, LocalCluster, get_task_stream, performance_report

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.datasets.gfs_forecast.region_job import select_messages
from climaflow.datasets.gfs_forecast.source_file_coord import gfs_file_path
from climaflow.datasets.gfs_forecast.template import GfsForecastTemplate
from climaflow.reformat.grib_index import parse_index
from climaflow.reformat.runner import reformat
from climaflow.reformat.shards import shard_selections
from climaflow.reformat.transforms import deaccumulate_to_rates_inplace, round_to_mantissa_bits
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.http_server import serve_directory

INIT_START = np.datetime64("2024-01-01T00", "ns")
INIT_STEP = np.timedelta64(6, "h")
STAGES = ("download", "read", "assemble", "transform", "write", "summarize", "cleanup", "job")


def make_template(n_leads: int, resolution: float) -> GfsForecastTemplate:
    """The real dataset's layout scaled to the grid: 6 x 12 chunks, 2 x 4 shards a map."""
    n_lat = round(180 / resolution) + 1
    n_lon = round(360 / resolution)
    chunk = (1, n_leads, -(-n_lat // 6), n_lon // 12)
    shard = (1, n_leads, 3 * chunk[2], 3 * chunk[3])
    return make_gfs_template(
        resolution_degrees=resolution,
        lead_times_hours=tuple(range(n_leads)),
        init_time_start=INIT_START,
        chunks=chunk,
        shards=shard,
    )


# ------------------------------------------------------------------------------ the bound


def cpu_seconds() -> float:
    """CPU seconds (user + system, all threads) of this process so far."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def warm_up_process() -> None:
    """Import and load the numba caches, as a warmed-up Dask worker has."""
    values = np.ones((1, 3, 2, 2), dtype=np.float32)
    round_to_mantissa_bits(values, 7)
    deaccumulate_to_rates_inplace(
        values, np.arange(3) * np.timedelta64(1, "h"), axis=1, reset_frequency=INIT_STEP
    )


def _decode(data: bytes) -> np.ndarray:
    handle = eccodes.codes_new_from_message(data)
    try:
        eccodes.codes_set(handle, "missingValue", 9.999e20)
        shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
        values = eccodes.codes_get_values(handle).reshape(shape)
    finally:
        eccodes.codes_release(handle)
    return np.where(values == 9.999e20, np.nan, values).astype("float32")


def bound_process(
    archive: Path, template: GfsForecastTemplate, end: np.datetime64, store: Path, inits: list[int]
) -> tuple[float, float, float]:
    """Decode, transform and write whole init times.

    Returns (decode, transform, write) wall seconds and the process's CPU seconds.
    """
    cpu = cpu_seconds()
    coords = template.dimension_coordinates(end)
    leads = coords["lead_time"]
    shape = tuple(len(coords[dim]) for dim in template.dims)
    spent = np.zeros(4)
    arrays = {
        var.name: zarr.open_array(
            store, path=var.name, mode="r+", config={"write_empty_chunks": True}
        )
        for var in template.data_vars
    }
    for i in inits:
        init = coords["init_time"][i]
        start = time.perf_counter()
        values = {
            var.name: np.full((1, *shape[1:]), np.nan, np.float32) for var in template.data_vars
        }
        for j, lead in enumerate(leads):
            lead_hours = int(lead / np.timedelta64(1, "h"))
            wanted = [v for v in template.data_vars if v.present_at(lead_hours)]
            path = archive / gfs_file_path(init, lead)
            entries = parse_index(Path(f"{path}.idx").read_text())
            messages = select_messages(entries, wanted, lead_hours, f"{path}.idx")
            with path.open("rb") as f:
                for var in wanted:
                    message = messages[var.name]
                    if isinstance(message, ValueError):
                        raise message
                    f.seek(message.start)
                    size = None if message.end is None else message.end - message.start
                    values[var.name][0, j] = _decode(f.read(-1 if size is None else size))
        spent[0] += time.perf_counter() - start
        start = time.perf_counter()
        for var in template.data_vars:
            processing = var.processing
            if processing.deaccumulate_to_rate:
                deaccumulate_to_rates_inplace(
                    values[var.name], leads, axis=1, reset_frequency=processing.reset_frequency
                )
            if processing.keep_mantissa_bits is not None:
                round_to_mantissa_bits(values[var.name], processing.keep_mantissa_bits)
        spent[1] += time.perf_counter() - start
        start = time.perf_counter()
        for var in template.data_vars:
            region = slice(i, i + 1)
            for selection in shard_selections(shape, var.encoding.write_block, 0, region):
                local = (slice(0, 1), *selection[1:])
                arrays[var.name][selection] = values[var.name][local]
        spent[2] += time.perf_counter() - start
    spent[3] = cpu_seconds() - cpu
    return tuple(spent)


def run_bound(
    pool: ProcessPoolExecutor,
    archive: Path,
    template: GfsForecastTemplate,
    end: np.datetime64,
    store: Path,
    n_processes: int,
) -> tuple[float, np.ndarray]:
    """Wall seconds and summed (decode, transform, write, CPU) seconds of the bound."""
    start = time.perf_counter()
    template.write_metadata(store, end)
    n_inits = len(template.dimension_coordinates(end)["init_time"])
    parts = [list(range(p, n_inits, n_processes)) for p in range(n_processes)]
    futures = [pool.submit(bound_process, archive, template, end, store, p) for p in parts]
    spent = sum(np.array(f.result()) for f in futures)
    return time.perf_counter() - start, spent


# ---------------------------------------------------------------------------- climaflow


def run_climaflow(
    client: Client,
    url: str,
    template: GfsForecastTemplate,
    end: np.datetime64,
    store: Path,
    downloads: Path,
) -> tuple[float, int]:
    """Wall seconds and uncompressed bytes written by ``reformat``."""
    start = time.perf_counter()
    result = reformat(
        template,
        GfsForecastRegionJob,
        store,
        start=INIT_START,
        end=end,
        client=client,
        source_url=url,
        download_dir=downloads,
    )
    wall = time.perf_counter() - start
    assert not result.failed_files, result.failed_files
    return wall, result.bytes_written


def stage_of(key: Hashable) -> str:
    name = key[0] if isinstance(key, tuple) else str(key)
    return name.split("-", 1)[0]


def profile(stream: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Seconds per stage and action (compute, transfer, ...) and task counts per stage."""
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for task in stream:
        stage = stage_of(task["key"])
        table[stage]["tasks"] += 1
        for part in task["startstops"]:
            table[stage][part["action"]] += part["stop"] - part["start"]
    return table


def worker_transfer_counters(dask_worker: Any) -> dict[str, Any]:
    return {
        "cpu": cpu_seconds(),
        "bytes": dask_worker.transfer_outgoing_bytes_total,
        "count": dask_worker.transfer_outgoing_count_total,
        "log": list(dask_worker.transfer_incoming_log),
    }


def transferred(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    real_nbytes: Mapping[str, int],
) -> tuple[int, int, dict[str, tuple[int, float]]]:
    """(bytes the workers counted, real bytes, {stage: (keys moved, real MB)}) of a run."""
    counted = sum(after[w]["bytes"] - before[w]["bytes"] for w in after)
    per_stage: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    seen_before = {(w, e["start"]) for w in before for e in before[w]["log"]}
    for w in after:
        for entry in after[w]["log"]:
            if (w, entry["start"]) in seen_before:
                continue
            for key in entry["keys"]:
                stage = stage_of(key)
                per_stage[stage][0] += 1
                per_stage[stage][1] += real_nbytes.get(stage, 0) / 1e6
    real = int(sum(mb for _, mb in per_stage.values()) * 1e6)
    return counted, real, {s: (int(n), mb) for s, (n, mb) in per_stage.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inits", type=int, default=4)
    parser.add_argument("--leads", type=int, default=25, help="hourly leads from 0")
    parser.add_argument("--resolution", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--report", type=Path, default=None, help="performance report HTML")
    args = parser.parse_args()

    template = make_template(args.leads, args.resolution)
    inits = [INIT_START + INIT_STEP * i for i in range(args.inits)]
    end = inits[-1] + INIT_STEP
    n_lat, n_lon = (len(template.dimension_coordinates(end)[d]) for d in ("latitude", "longitude"))
    field_bytes = n_lat * n_lon * 4
    real_nbytes = {
        "read": field_bytes,
        "assemble": field_bytes * args.leads,
        "transform": field_bytes * args.leads,
    }

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        files = write_synthetic_gfs_archive(
            root / "archive", inits, range(args.leads), args.resolution
        )
        archive_seconds = time.perf_counter() - start
        archive_mb = sum(f.stat().st_size for f in files) / 1e6

        report = args.report or root / "performance-report.html"
        warm_end = inits[0] + INIT_STEP
        archive = root / "archive"
        bound_runs, climaflow_runs = [], []
        with (
            ProcessPoolExecutor(
                args.workers, multiprocessing.get_context("spawn"), warm_up_process
            ) as pool,
            serve_directory(archive) as server,
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=args.threads_per_worker,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            run_bound(pool, archive, template, warm_end, root / "warm-bound.zarr", args.workers)
            client.run(warm_up_process)
            run_climaflow(client, server.url, template, warm_end, root / "warm.zarr", root / "dl")
            for r in range(args.repeats):  # alternate, so both see the same machine load
                bound_runs.append(
                    run_bound(pool, archive, template, end, root / f"bound{r}.zarr", args.workers)
                )
                last = r == args.repeats - 1
                before = client.run(worker_transfer_counters)
                main_cpu = cpu_seconds()
                with (
                    performance_report(filename=str(report)) if last else contextlib.nullcontext(),
                    get_task_stream(client) as stream,
                ):
                    wall, nbytes = run_climaflow(
                        client, server.url, template, end, root / f"ours{r}.zarr", root / "dl"
                    )
                main_cpu = cpu_seconds() - main_cpu
                after = client.run(worker_transfer_counters)
                worker_cpu = sum(after[w]["cpu"] - before[w]["cpu"] for w in after)
                climaflow_runs.append((wall, worker_cpu, main_cpu))
            n_requests = len(server.requests)
        counted, real, per_stage = transferred(before, after, real_nbytes)
        table = profile(stream.data)

        ours = xr.open_zarr(root / "ours0.zarr")
        theirs = xr.open_zarr(root / "bound0.zarr")
        for var in template.data_vars:
            np.testing.assert_array_equal(ours[var.name].values, theirs[var.name].values)
        stored_mb = sum(p.stat().st_size for p in (root / "ours0.zarr").rglob("c/*/*/*/*")) / 1e6
        report_kb = report.stat().st_size / 1e3

    megabytes = nbytes / 1e6
    threads = args.workers * args.threads_per_worker
    print(
        f"archive: {args.inits} inits x {args.leads} leads = {len(files)} files, "
        f"{args.resolution}° ({n_lat}x{n_lon}), {archive_mb:.0f} MB GRIB2 "
        f"(written in {archive_seconds:.1f} s)"
    )
    print(
        f"output: 6 variables, {megabytes:.0f} MB uncompressed, {stored_mb:.0f} MB stored, "
        f"chunks {template.data_vars[0].encoding.chunks}, "
        f"shards {template.data_vars[0].encoding.shards}; outputs identical"
    )
    print(f"cpus: {os.cpu_count()}")
    print()
    print(
        f"{'run':<5} {'bound s':>8} {'MB/s':>6} {'CPU s':>6} {'climaflow s':>12} {'MB/s':>6}"
        f" {'worker CPU s':>13} {'main CPU s':>11} {'ratio':>6}"
    )
    for r, ((b_wall, spent), (c_wall, w_cpu, m_cpu)) in enumerate(
        zip(bound_runs, climaflow_runs, strict=True)
    ):
        print(
            f"{r:<5} {b_wall:>8.2f} {megabytes / b_wall:>6.1f} {spent[3]:>6.2f} {c_wall:>12.2f}"
            f" {megabytes / c_wall:>6.1f} {w_cpu:>13.2f} {m_cpu:>11.2f} {c_wall / b_wall:>6.2f}"
        )
    best_bound = min(b for b, _ in bound_runs)
    best_ours = min(c for c, _, _ in climaflow_runs)
    decode, transform, write, cpu = bound_runs[-1][1]
    print(
        f"bound: {args.workers} processes, local reads (last run, summed over processes: decode "
        f"{decode:.2f} s, transform {transform:.2f} s, write {write:.2f} s)"
    )
    print(
        f"climaflow: {args.workers} workers x {args.threads_per_worker} threads, HTTP "
        f"({n_requests} requests in all runs); main CPU = scheduler + HTTP server + client"
    )
    print(
        f"best of {args.repeats}: bound {best_bound:.2f} s ({megabytes / best_bound:.1f} MB/s), "
        f"climaflow {best_ours:.2f} s ({megabytes / best_ours:.1f} MB/s), "
        f"ratio {best_ours / best_bound:.2f} (goal <= 1.5); "
        f"CPU ratio (last run) {(climaflow_runs[-1][1] + climaflow_runs[-1][2]) / cpu:.2f}"
    )
    print()
    print(f"performance report: {report} ({report_kb:.0f} kB)")
    print(
        f"bytes between workers: {counted / 1e6:.2f} MB as the workers counted them "
        f"(dask.sizeof), {real / 1e6:.1f} MB of real array data"
    )
    for stage, (n, mb) in sorted(per_stage.items()):
        print(f"  {stage:<10} {n:5d} keys moved  {mb:8.1f} MB")
    print()
    actions = sorted({a for row in table.values() for a in row if a != "tasks"})
    header = f"{'stage':<10} {'tasks':>6} " + " ".join(f"{a + ' s':>14}" for a in actions)
    print(
        f"task stream of the last climaflow run ({threads} threads x {wall:.2f} s = {threads * wall:.1f} thread-s)"
    )
    print(header)
    print("-" * len(header))
    totals = defaultdict(float)
    for stage in sorted(table, key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES)):
        row = table[stage]
        for a in actions:
            totals[a] += row.get(a, 0.0)
        cells = " ".join(f"{row.get(a, 0.0):>14.2f}" for a in actions)
        print(f"{stage:<10} {int(row['tasks']):>6} {cells}")
    print(f"{'total':<10} {'':>6} " + " ".join(f"{totals[a]:>14.2f}" for a in actions))


if __name__ == "__main__":
    with dask.config.set({"distributed.admin.low-level-log-length": 100_000}):
        main()
