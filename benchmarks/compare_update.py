"""What update costs over reformat: ``climaflow update`` against ``reformat`` of the same inits.

Run from the repository root, after ``benchmarks/compare_gfs_reformat.py`` wrote its archive:
``.venv/bin/python -m benchmarks.compare_update [--workdir /tmp/climaflow-compare-gfs]
[--repeats 3]``

On the real ``gfs-forecast`` template (0.25°, 209 leads declared; the archive has 25), a
store holding one init time is extended by the next one, two ways, through the real
commands against the same warm cluster (2 workers x 2 threads), alternating:

- ``climaflow update gfs-forecast --store S --end E``: reads the store's end and run
  records, and processes the new init and the store's last one again (its run left it
  ``incomplete``: the archive lacks 184 of its 209 leads, as NOAA's does while it uploads),
  then publishes the metadata after the shards and writes a run record;
- ``climaflow reformat gfs-forecast --store S --start T --end E`` of the same two inits, with
  the same publication order, on a copy of the same store.

Both stores must be byte-identical in their shards. The ratio of the wall times is what
update adds: reading the store's end and its run records, choosing what to process.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

from benchmarks.compare_gfs_reformat import INIT_START, INIT_STEP, iso, quiet_worker, store_digests


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if "Traceback" in completed.stderr:
        raise RuntimeError(completed.stderr)
    return time.perf_counter() - start


def span(start: np.datetime64, end: np.datetime64) -> list[str]:
    return ["--start", iso(start), "--end", iso(end)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/climaflow-compare-gfs"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    archive = args.workdir / "archive"
    if not archive.exists():
        raise SystemExit(f"no archive at {archive}: run benchmarks/compare_gfs_reformat.py first")
    runs = args.workdir / "update-runs"
    shutil.rmtree(runs, ignore_errors=True)
    climaflow = str(Path(sys.executable).with_name("climaflow"))
    first, new = INIT_START - INIT_STEP, INIT_START
    end = iso(np.datetime64(new + INIT_STEP))

    with (
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        client.run(quiet_worker)
        common = ["gfs-forecast", "--source-url", str(archive), "--scheduler"]
        common.append(cluster.scheduler_address)
        base = runs / "base.zarr"
        timed([climaflow, "reformat", *common, "--store", str(base), *span(first, new)])
        updates, reformats = [], []
        for r in range(args.repeats):
            updated, reformatted = runs / f"update{r}.zarr", runs / f"reformat{r}.zarr"
            for copy in (updated, reformatted):
                shutil.copytree(base, copy)
                shutil.copytree(f"{base}.runs", f"{copy}.runs")
            update = [climaflow, "update", *common, "--store", str(updated), "--end", end]
            updates.append(timed(update))
            reformat = [climaflow, "reformat", *common, "--store", str(reformatted)]
            reformats.append(timed([*reformat, *span(first, new + INIT_STEP)]))
            assert store_digests(updated / "temperature_2m") == store_digests(
                reformatted / "temperature_2m"
            )

    print(f"{'run':<4} {'update s':>9} {'reformat s':>11} {'ratio':>6}")
    for r, (u, f) in enumerate(zip(updates, reformats, strict=True)):
        print(f"{r:<4} {u:>9.2f} {f:>11.2f} {u / f:>6.2f}")
    print(f"median ratio {np.median(np.array(updates) / np.array(reformats)):.2f}")


if __name__ == "__main__":
    main()
