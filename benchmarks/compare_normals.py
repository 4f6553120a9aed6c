"""Side by side: climaflow's normals against the seed's method and the I/O lower bound.

One synthetic NEX-GDDP-style archive (1 variable, CONUS at 0.25° plus a margin, 1950-2100
daily, noleap, random noise so files compress like real ones), one output format, three ways
of producing the 121 normals of target years 1980-2100 (window 30, min_years 25):

- **climaflow**: :func:`climaflow.normals.run_normals` on a 2-worker LocalCluster;
- **(a) seed method**: a faithful re-implementation of the seed pipeline: per target year,
  open the window's 30 files, day-of-year mean per file, mean of the 30, write; target years
  in batches of 2 over a 2-process pool;
- **(b) lower bound**: read every input file once and write every output file once (same
  format, dtype and compression as climaflow's), over a 2-process pool.

climaflow runs on the LocalCluster its CLI starts (:func:`climaflow.cluster.cluster_client`),
started (and warmed with one target year) before timing, as users run it; the process
pools of (a) and (b) fork from this process, modules imported. Wall time, CPU seconds and
peak memory (summed over the whole process tree, and of its largest process, a worker;
memory sampled every 0.1 s) are printed as a table, with climaflow also writing Zarr stores
(``--format zarr``) instead of NetCDF files, and on half of the target years, to show that a
worker's memory does not grow with their number (a lane holds the years of its running batches and of at most
``READ_AHEAD_BATCHES`` batches ahead, whatever the number of target years) and that time
grows with the work. ``--workers`` sets climaflow's workers and the pools' processes. Run::

    .venv/bin/python benchmarks/compare_normals.py                # full size (tens of minutes)
    .venv/bin/python benchmarks/compare_normals.py --skip-seed    # without (a): about 5 minutes
    .venv/bin/python benchmarks/compare_normals.py --workers 1    # the same on one worker
    .venv/bin/python benchmarks/compare_normals.py --small        # a quick check (about a minute)

The archive is written once under ``--workdir`` and reused by later runs.
"""

import argparse
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import psutil
import xarray as xr
from distributed import Client

from climaflow.cluster import cluster_client
from climaflow.normals import (
    NormalMetadata,
    NormalsConfig,
    get_region,
    normal_dataset,
    normal_path,
    run_normals,
    write_normal,
)
from climaflow.normals.archive import TIME_CODER, open_archive
from climaflow.normals.periods import target_windows
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

MODEL = "NorESM2-LM"
VARIABLE = "tas"
SCENARIO = "ssp245"


@dataclass(frozen=True)
class Size:
    """An archive and the target years computed from it."""

    years: range
    target_years: range
    lat_bounds: tuple[float, float]
    lon_bounds: tuple[float, float]
    region: str
    window: int = 30
    min_years: int = 25


FULL = Size(range(1950, 2101), range(1980, 2101), (23.0, 51.0), (233.0, 295.0), "CONUS")
SMALL = Size(
    range(1970, 2041), range(1999, 2041), (39.0, 44.0), (270.0, 280.0), "small:270,280,39,44"
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a small archive, for a quick check")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "climaflow-compare-normals",
        help="where the archive and outputs go (the archive is kept and reused)",
    )
    parser.add_argument(
        "--skip-seed", action="store_true", help="skip (a), the slowest of the three"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="climaflow's workers and the pools' processes"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads per climaflow worker (default: 2)"
    )
    parser.add_argument(
        "--bound-processes",
        type=int,
        help="the pools' processes (default: --workers)",
    )
    args = parser.parse_args(argv)
    size = SMALL if args.small else FULL
    root = args.workdir / ("small" if args.small else "full")
    archive = root / "archive"
    prepare_archive(archive, size)
    n_files = len(list(archive.rglob("*.nc")))
    print(f"archive: {archive} ({n_files} files, {_gigabytes(_tree_bytes(archive)):.2f} GB)")
    print(f"target years: {size.target_years.start}-{size.target_years.stop - 1}", flush=True)

    processes = args.bound_processes or args.workers
    rows = []
    half = range(size.target_years.start, size.target_years.start + len(size.target_years) // 2)
    with cluster_client(
        n_workers=args.workers, threads_per_worker=args.threads, dashboard_address=":0"
    ) as client:
        # Users run on a cluster that is up already: start it and warm its workers (imports,
        # numba's compiled kernels) with one target year before timing.
        first = size.target_years.start
        run_climaflow(client, archive, root / "warm-up", size, range(first, first + 1))
        rows.append(
            measure("climaflow", lambda: run_climaflow(client, archive, root / "out-cf", size))
        )
        rows.append(
            measure(
                f"climaflow, {len(half)} targets",
                lambda: run_climaflow(client, archive, root / "out-cf-half", size, half),
            )
        )
        rows.append(
            measure(
                "climaflow, zarr output",
                lambda: run_climaflow(
                    client, archive, root / "out-cf-zarr", size, output_format="zarr"
                ),
            )
        )
    rows.append(
        measure(
            "(b) lower bound",
            lambda: run_lower_bound(archive, root / "out-b", size, processes),
        )
    )
    if not args.skip_seed:
        rows.append(
            measure(
                "(a) seed method",
                lambda: run_seed_method(archive, root / "out-a", size, processes),
            )
        )
    print_table(rows)
    netcdf, zarr = _tree_bytes(root / "out-cf"), _tree_bytes(root / "out-cf-zarr")
    print(f"outputs: NetCDF {netcdf / 1e6:.0f} MB, Zarr {zarr / 1e6:.0f} MB")


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds: float
    peak_bytes: int
    largest_process_bytes: int
    outputs: int
    cpu_seconds: float


def measure(name: str, run: Callable[[], int]) -> Measurement:
    """Run ``run`` (which returns its number of outputs) and sample the process tree's memory."""
    print(f"running {name} ...", flush=True)
    sampler = _MemorySampler()
    sampler.start()
    cpu = _tree_cpu_seconds()
    start = time.perf_counter()
    outputs = run()
    seconds = time.perf_counter() - start
    cpu = _tree_cpu_seconds() - cpu
    sampler.stop()
    print(
        f"  {seconds:.1f} s, {cpu:.1f} CPU s, {outputs} outputs, "
        f"peak {_gigabytes(sampler.peak):.2f} GB (one process: {_gigabytes(sampler.largest):.2f})",
        flush=True,
    )
    return Measurement(name, seconds, sampler.peak, sampler.largest, outputs, cpu)


def print_table(rows: Sequence[Measurement]) -> None:
    climaflow = rows[0]
    print()
    print(
        f"{'method':<26}{'wall [s]':>10}{'/ climaflow':>13}{'CPU [s]':>9}"
        f"{'peak RSS [GB]':>15}{'1 process [GB]':>16}{'outputs':>9}"
    )
    for row in rows:
        ratio = row.seconds / climaflow.seconds
        print(
            f"{row.name:<26}{row.seconds:>10.1f}{ratio:>13.2f}{row.cpu_seconds:>9.1f}"
            f"{_gigabytes(row.peak_bytes):>15.2f}{_gigabytes(row.largest_process_bytes):>16.2f}"
            f"{row.outputs:>9}"
        )
    by_name = {row.name: row for row in rows}
    if "(a) seed method" in by_name:
        speedup = by_name["(a) seed method"].seconds / climaflow.seconds
        print(f"\nclimaflow is {speedup:.1f}x faster than the seed method (goal: >= 20x)")
    lower = by_name["(b) lower bound"]
    print(
        f"climaflow takes {climaflow.seconds / lower.seconds:.2f}x the lower bound's wall time "
        f"(goal: <= 1.5x) and {climaflow.cpu_seconds / lower.cpu_seconds:.2f}x its CPU time"
    )


def prepare_archive(archive: Path, size: Size) -> None:
    """Write the synthetic archive unless a complete one is there."""
    done = archive / ".complete"
    if done.exists():
        return
    shutil.rmtree(archive, ignore_errors=True)
    print(f"writing the synthetic archive to {archive} ...", flush=True)
    historical = [year for year in size.years if year <= 2014]
    future = [year for year in size.years if year >= 2015]
    common = {
        "model": MODEL,
        "variables": [VARIABLE],
        "lat_bounds": size.lat_bounds,
        "lon_bounds": size.lon_bounds,
        "seed": 0,
    }
    with ProcessPoolExecutor(2) as pool:
        jobs = [("historical", year) for year in historical] + [(SCENARIO, year) for year in future]
        list(pool.map(_write_year, [archive] * len(jobs), jobs, [common] * len(jobs)))
    done.touch()


def _write_year(archive: Path, job: tuple[str, int], common: dict) -> None:
    scenario, year = job
    write_synthetic_nex_gddp_archive(archive, scenario=scenario, years=[year], **common)


def run_climaflow(
    client: Client,
    archive: Path,
    output: Path,
    size: Size,
    target_years: range | None = None,
    output_format: Literal["netcdf", "zarr"] = "netcdf",
) -> int:
    shutil.rmtree(output, ignore_errors=True)
    config = NormalsConfig(
        input=str(archive),
        output=output,
        models=(MODEL,),
        variables=(VARIABLE,),
        regions=(get_region(size.region),),
        scenarios=(SCENARIO,),
        target_years=tuple(target_years or size.target_years),
        window=size.window,
        min_years=size.min_years,
        output_format=output_format,
    )
    summary = run_normals(config, client)
    if summary.failed:
        raise RuntimeError(summary.table())
    return len(summary.outcomes)


def run_seed_method(archive: Path, output: Path, size: Size, workers: int) -> int:
    """(a): per target year, read its 30 files, day-of-year mean of each, mean of the 30."""
    shutil.rmtree(output, ignore_errors=True)
    plan = _plan(archive, size)
    batches = [plan[i : i + 2] for i in range(0, len(plan), 2)]  # the seed's batch_size_years: 2
    with ProcessPoolExecutor(workers) as pool:
        written = sum(
            pool.map(_seed_batch, batches, [output] * len(batches), [size] * len(batches))
        )
    return written


def _seed_batch(
    batch: list[tuple[int, str, list[tuple[str, int, str]]]], output: Path, size: Size
) -> int:
    region = get_region(size.region)
    for target, scenario, inputs in batch:
        daily_climatologies = []
        for _, _, location in inputs:
            with xr.open_dataset(location, decode_times=TIME_CODER) as dataset:
                data = dataset[VARIABLE].sel(
                    lat=slice(region.lat_min, region.lat_max),
                    lon=slice(region.lon_min, region.lon_max),
                )
                daily_climatologies.append(data.groupby("time.dayofyear").mean().load())
        normal = xr.concat(daily_climatologies, dim="year").mean("year")
        _write(output, size, target, scenario, inputs, normal.values, normal.lat, normal.lon)
    return len(batch)


def run_lower_bound(archive: Path, output: Path, size: Size, workers: int) -> int:
    """(b): read every input file once, write every output file once."""
    shutil.rmtree(output, ignore_errors=True)
    plan = _plan(archive, size)
    files = sorted({location for _, _, inputs in plan for _, _, location in inputs})
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_read_region, files, [size] * len(files)))
        written = sum(pool.map(_write_only, plan, [output] * len(plan), [size] * len(plan)))
    return written


def _read_region(location: str, size: Size) -> None:
    region = get_region(size.region)
    with xr.open_dataset(location, decode_times=TIME_CODER) as dataset:
        dataset[VARIABLE].sel(
            lat=slice(region.lat_min, region.lat_max), lon=slice(region.lon_min, region.lon_max)
        ).load()


_STAND_IN: dict[tuple[int, int], np.ndarray] = {}


def _write_only(job: tuple[int, str, list[tuple[str, int, str]]], output: Path, size: Size) -> int:
    """Write a normal-like array (smooth field plus noise / sqrt(30), made once per process)."""
    target, scenario, inputs = job
    region = get_region(size.region)
    location = inputs[-1][2]
    with xr.open_dataset(location, decode_times=TIME_CODER) as dataset:
        grid = dataset[VARIABLE].sel(
            lat=slice(region.lat_min, region.lat_max), lon=slice(region.lon_min, region.lon_max)
        )
        lat, lon = grid.lat.load(), grid.lon.load()
    shape = (lat.size, lon.size)
    if shape not in _STAND_IN:
        rng = np.random.default_rng(0)
        field = 280 + 10 * np.cos(np.linspace(0, 2 * np.pi, 365))[:, None, None] + np.zeros(shape)
        _STAND_IN[shape] = (field + rng.standard_normal(field.shape) * 2 / np.sqrt(30)).astype(
            np.float32
        )
    _write(output, size, target, scenario, inputs, _STAND_IN[shape], lat, lon)
    return 1


def _write(
    output: Path,
    size: Size,
    target: int,
    scenario: str,
    inputs: list[tuple[str, int, str]],
    values: np.ndarray,
    lat: xr.DataArray,
    lon: xr.DataArray,
) -> None:
    region = get_region(size.region)
    metadata = NormalMetadata(
        variable=VARIABLE,
        target_year=target,
        period="",
        scenario=scenario,
        model=MODEL,
        calendar="noleap",
        region=region,
        window=size.window,
        min_years=size.min_years,
        inputs_fingerprint="",
        source_years=tuple(year for _, year, _ in inputs),
        source_scenarios=tuple(source for source, _, _ in inputs),
        variable_attrs={"units": "K"},
    )
    path = normal_path(output, MODEL, VARIABLE, scenario, region.name, target, size.window)
    lat = xr.DataArray(np.asarray(lat), dims="lat")
    lon = xr.DataArray(np.asarray(lon), dims="lon")
    write_normal(normal_dataset(values, lat, lon, metadata), path)


def _plan(archive: Path, size: Size) -> list[tuple[int, str, list[tuple[str, int, str]]]]:
    """Per target year: output scenario and (source scenario, year, path) of its window."""
    source = open_archive(archive, MODEL)
    inputs = {
        scenario: source.year_inputs(VARIABLE, scenario, size.years)
        for scenario in ("historical", SCENARIO)
    }
    return [
        (
            window.target_year,
            window.scenario,
            [
                (scenario, year, inputs[scenario][year].location)
                for scenario, year in window.year_sources
                if year in inputs[scenario]
            ],
        )
        for window in target_windows(SCENARIO, window=size.window, target_years=size.target_years)
    ]


class _MemorySampler:
    """Peak of the summed RSS of this process and all its descendants, and of the largest one."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peak = 0
        self.largest = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.largest = max(self.largest, rss)
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)


def _tree_cpu_seconds() -> float:
    """CPU seconds of this process, its finished children and its live descendants."""
    me = psutil.Process(os.getpid())
    times = me.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for process in me.children(recursive=True):
        try:
            child = process.cpu_times()
        except psutil.Error:
            continue
        total += child.user + child.system
    return total


def _tree_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _gigabytes(n_bytes: float) -> float:
    return n_bytes / 1e9


if __name__ == "__main__":
    warnings.simplefilter("ignore", category=UserWarning)
    main()
