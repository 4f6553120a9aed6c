"""GFS reformat through the real CLI and template against a "decode once + write once" bound.

Run: ``.venv/bin/python benchmarks/compare_gfs_reformat.py [--inits 2] [--leads 25]
[--workdir /tmp/climaflow-compare-gfs] [--skip-seed] [--repeats 2]``

A synthetic GFS archive (:func:`~climaflow.testing.gfs_archive.write_synthetic_gfs_archive`:
real GRIB2 with NOAA ``.idx`` inventories, simple packing) at the real 0.25° grid
(721 x 1440), ``--inits`` init times from 2024-01-01T00 x ``--leads`` hourly leads from 0, is
reformatted, all six variables, two ways in the same run:

- **climaflow**: the real command, ``climaflow reformat gfs-forecast --store ... --start ...
  --end ... --source-url ARCHIVE --scheduler ADDR``, as a user runs it against a cluster that
  is up (2 workers x 2 threads, started and warmed before timing). The template is the real
  one: 209 leads declared (those the archive lacks are reported missing, as on a day NOAA is
  still publishing), shards of 1 x 210 x 363 x 363, init times since 2021-05-01.
- **bound**: a pool of as many processes as climaflow has workers takes (variable, init)
  units: it reads each needed message's bytes straight from the local archive (``.idx``
  offsets), decodes it once with eccodes into the unit's array, applies the same transforms
  and writes every shard of the unit once, with the same writer
  (:func:`climaflow.io.stores.open_array_for_writing`), into a store whose metadata the same
  template wrote. Its wall time includes writing that metadata.

Both stores must be byte-identical (every file, SHA-256). The script prints the wall times
and their ratio, and the climaflow run's breakdown: time before the first task (start-up,
metadata, planning, submission), then seconds per task stage from the scheduler's task
stream (compute and transfers) and, inside each variable's task, the seconds its
``VariableSummary.seconds`` records (read, assemble, transform, write).
"""

import argparse
import hashlib
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import eccodes
import numpy as np
from distributed import Client, LocalCluster, get_task_stream

from climaflow.datasets.gfs_forecast.data_var import GfsDataVar
from climaflow.datasets.gfs_forecast.region_job import select_message
from climaflow.datasets.gfs_forecast.source_file_coord import gfs_file_path
from climaflow.datasets.gfs_forecast.template import GfsForecastTemplate
from climaflow.datasets.registry import get_integration
from climaflow.io.stores import open_array_for_writing, open_store
from climaflow.reformat.grib_index import parse_index
from climaflow.reformat.run_record import read_run_records
from climaflow.reformat.shards import shard_selections
from climaflow.reformat.transforms import deaccumulate_to_rates_inplace, round_to_mantissa_bits
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive

INIT_START = np.datetime64("2024-01-01T00", "ns")
INIT_STEP = np.timedelta64(6, "h")
HOUR = np.timedelta64(1, "h")


def iso(time_value: np.datetime64) -> str:
    return str(np.datetime_as_string(time_value, "h"))


# ------------------------------------------------------------------------------ the bound


def warm_up_process() -> None:
    """Import and load the numba caches, as a warmed-up Dask worker has."""
    values = np.ones((1, 3, 2, 2), dtype=np.float32)
    round_to_mantissa_bits(values, 7)
    deaccumulate_to_rates_inplace(values, np.arange(3) * HOUR, axis=1, reset_frequency=INIT_STEP)


def _decode(data: bytes) -> np.ndarray:
    handle = eccodes.codes_new_from_message(data)
    try:
        eccodes.codes_set(handle, "missingValue", 9.999e20)
        shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
        values = eccodes.codes_get_values(handle).reshape(shape)
    finally:
        eccodes.codes_release(handle)
    return np.where(values == 9.999e20, np.nan, values).astype("float32")


def bound_unit(
    archive: Path,
    template: GfsForecastTemplate,
    end: np.datetime64,
    store: Path,
    init_index: int,
    data_var: GfsDataVar,
) -> tuple[float, float, float]:
    """Decode one (variable, init), transform it, write its shards: (decode, transform,
    write) seconds."""
    coords = template.dimension_coordinates(end)
    leads = coords["lead_time"]
    shape = tuple(len(coords[dim]) for dim in template.dims)
    init = coords["init_time"][init_index]
    start = time.perf_counter()
    values = np.full((1, *shape[1:]), np.nan, np.float32)
    for j, lead in enumerate(leads):
        lead_hours = int(lead / HOUR)
        path = archive / gfs_file_path(init, lead)
        if not data_var.present_at(lead_hours) or not path.exists():
            continue
        entries = parse_index(Path(f"{path}.idx").read_text())
        message = select_message(entries, data_var, lead_hours, f"{path}.idx")
        if isinstance(message, ValueError):
            raise message
        with path.open("rb") as f:
            f.seek(message.start)
            data = f.read(-1 if message.end is None else message.end - message.start)
        values[0, j] = _decode(data)
    decoded = time.perf_counter()
    processing = data_var.processing
    if processing.deaccumulate_to_rate:
        deaccumulate_to_rates_inplace(
            values, leads, axis=1, reset_frequency=processing.reset_frequency
        )
    if processing.keep_mantissa_bits is not None:
        round_to_mantissa_bits(values, processing.keep_mantissa_bits)
    transformed = time.perf_counter()
    array = open_array_for_writing(open_store(store), data_var.name)
    region = slice(init_index, init_index + 1)
    for selection in shard_selections(shape, data_var.encoding.write_block, 0, region):
        array[selection] = values[(slice(0, 1), *selection[1:])]
    return decoded - start, transformed - decoded, time.perf_counter() - transformed


def run_bound(
    pool: ProcessPoolExecutor,
    archive: Path,
    template: GfsForecastTemplate,
    first: np.datetime64,
    end: np.datetime64,
    store: Path,
) -> tuple[float, np.ndarray]:
    """Wall seconds and summed (decode, transform, write) seconds of the bound."""
    start = time.perf_counter()
    template.write_metadata(store, end)
    init_times = template.dimension_coordinates(end)["init_time"]
    units = [(i, var) for i in np.flatnonzero(init_times >= first) for var in template.data_vars]
    futures = [
        pool.submit(bound_unit, archive, template, end, store, int(i), var) for i, var in units
    ]
    spent = sum(np.array(f.result()) for f in futures)
    return time.perf_counter() - start, np.asarray(spent)


# ---------------------------------------------------------------------------- climaflow


def run_climaflow(
    scheduler: str, archive: Path, first: np.datetime64, end: np.datetime64, store: Path
) -> tuple[float, float]:
    """Wall seconds of the real command, and the time it started (``time.time()``)."""
    command = [
        str(Path(sys.executable).with_name("climaflow")),
        "reformat",
        "gfs-forecast",
        "--store",
        str(store),
        "--start",
        iso(first),
        "--end",
        iso(end),
        "--source-url",
        str(archive),
        "--scheduler",
        scheduler,
    ]
    started = time.time()
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    # Leads the archive lacks are reported as failed files: the exit status says so.
    if "Traceback" in completed.stderr:
        raise RuntimeError(completed.stderr)
    return wall, started


def stage_of(key: Hashable) -> str:
    name = key[0] if isinstance(key, tuple) else str(key)
    return name.split("-", 1)[0]


def profile(stream: Sequence[Mapping[str, Any]], started: float) -> dict[str, Any]:
    """Seconds per stage and action from a task stream, and when the first task began."""
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    first_start = min(part["start"] for task in stream for part in task["startstops"])
    for task in stream:
        stage = stage_of(task["key"])
        table[stage]["tasks"] += 1
        for part in task["startstops"]:
            table[stage][part["action"]] += part["stop"] - part["start"]
    return {"before_first_task": first_start - started, "stages": table}


def task_seconds(store: Path) -> dict[str, float]:
    """Seconds inside the variables' tasks by stage, summed over variables, from the run
    record the command wrote beside ``store``."""
    (record,) = read_run_records(store)
    totals: dict[str, float] = defaultdict(float)
    for stages in record["seconds"].values():
        for stage, spent in stages.items():
            totals[stage] += spent
    return dict(totals)


def quiet_worker() -> None:
    """Missing leads are expected here: keep their warnings out of the report."""
    logging.getLogger("climaflow").setLevel(logging.ERROR)


def store_digests(store: Path) -> dict[str, str]:
    return {
        str(path.relative_to(store)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(store.rglob("*"))
        if path.is_file()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inits", type=int, default=2)
    parser.add_argument("--leads", type=int, default=25, help="hourly leads from 0 in the archive")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/climaflow-compare-gfs"))
    parser.add_argument("--skip-seed", action="store_true", help="reuse the workdir's archive")
    args = parser.parse_args()

    # The template the command builds (its options recorded in the store's attributes).
    template = get_integration("gfs-forecast").make_template_from_options({})
    inits = [INIT_START + INIT_STEP * i for i in range(args.inits)]
    end = inits[-1] + INIT_STEP
    archive = args.workdir / "archive"
    if not (args.skip_seed and archive.exists()):
        shutil.rmtree(archive, ignore_errors=True)
        # The first init once more, six hours earlier, for the warm-up run.
        warm = INIT_START - INIT_STEP
        started = time.perf_counter()
        write_synthetic_gfs_archive(archive, [warm, *inits], range(args.leads), 0.25)
        print(f"archive written in {time.perf_counter() - started:.0f} s")
    archive_mb = sum(f.stat().st_size for f in archive.rglob("*") if f.is_file()) / 1e6
    runs = args.workdir / "runs"

    bound_runs, climaflow_runs = [], []
    with (
        ProcessPoolExecutor(
            args.workers, multiprocessing.get_context("spawn"), warm_up_process
        ) as pool,
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        shutil.rmtree(runs, ignore_errors=True)
        warm_first = INIT_START - INIT_STEP
        run_bound(pool, archive, template, warm_first, INIT_START, runs / "warm-bound.zarr")
        client.run(warm_up_process)
        client.run(quiet_worker)
        run_climaflow(
            cluster.scheduler_address, archive, warm_first, INIT_START, runs / "warm.zarr"
        )
        for r in range(args.repeats):  # alternate, so both see the same machine load
            bound_runs.append(
                run_bound(pool, archive, template, inits[0], end, runs / f"bound{r}.zarr")
            )
            with get_task_stream(client) as stream:
                wall, started = run_climaflow(
                    cluster.scheduler_address, archive, inits[0], end, runs / f"ours{r}.zarr"
                )
            climaflow_runs.append((wall, profile(stream.data, started)))
    ours, theirs = store_digests(runs / "ours0.zarr"), store_digests(runs / "bound0.zarr")
    assert ours == theirs, sorted(set(ours.items()) ^ set(theirs.items()))[:10]
    stored_mb = sum(f.stat().st_size for f in (runs / "ours0.zarr").rglob("c/*/*/*/*")) / 1e6

    threads = args.workers * args.threads_per_worker
    print(
        f"archive: {args.inits} inits x {args.leads} leads, 0.25° (721 x 1440), "
        f"{archive_mb:.0f} MB GRIB2 with the warm-up init; template: real (209 leads, "
        f"shards {template.data_vars[0].encoding.shards}); {stored_mb:.0f} MB of shards written; "
        f"stores byte-identical ({len(ours)} files); cpus: {os.cpu_count()}"
    )
    print(f"\n{'run':<4} {'bound s':>8} {'climaflow s':>12} {'ratio':>6}")
    for r, ((b_wall, _), (c_wall, _)) in enumerate(zip(bound_runs, climaflow_runs, strict=True)):
        print(f"{r:<4} {b_wall:>8.2f} {c_wall:>12.2f} {c_wall / b_wall:>6.2f}")
    decode, transform, write = bound_runs[-1][1]
    print(
        f"bound, last run, summed over {args.workers} processes: decode {decode:.1f} s, "
        f"transform {transform:.1f} s, write {write:.1f} s"
    )
    wall, prof = climaflow_runs[-1]
    print(
        f"\nclimaflow, last run ({args.workers} workers x {args.threads_per_worker} threads, "
        f"{wall:.1f} s wall = {threads * wall:.0f} thread-s): first task "
        f"{prof['before_first_task']:.1f} s after the command started"
    )
    table = prof["stages"]
    actions = sorted({a for row in table.values() for a in row if a != "tasks"})
    inside = task_seconds(runs / f"ours{args.repeats - 1}.zarr")
    if inside:
        print(
            "inside the variables' tasks: "
            + ", ".join(f"{stage} {spent:.1f} s" for stage, spent in inside.items())
        )
    print(f"{'stage':<10} {'tasks':>6} " + " ".join(f"{a + ' s':>14}" for a in actions))
    for stage, row in sorted(table.items(), key=lambda item: -item[1].get("compute", 0.0)):
        cells = " ".join(f"{row.get(a, 0.0):>14.2f}" for a in actions)
        print(f"{stage:<10} {int(row['tasks']):>6} {cells}")


if __name__ == "__main__":
    main()
