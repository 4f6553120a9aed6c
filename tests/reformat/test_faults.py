"""Real faults during a reformat: HTTP errors, stalls, resets, bad inventories, killed processes.

Transient faults are retried and the store is byte-identical to a clean run's; permanent
ones end as `download_failed` with the URL and reason, with NaN only where that file's data
goes. A worker killed mid-run is replaced and the store is still byte-identical.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dask.config
import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.reformat.graph import submit_jobs
from climaflow.reformat.runner import reformat
from climaflow.reformat.verify import verify_store
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive
from tests.reformat.store_readers import (
    PollingReader,
    kill_when,
    nex_reformat_command,
    nex_update_command,
)

INITS = [np.datetime64("2024-01-01T00", "ns") + np.timedelta64(6 * i, "h") for i in range(2)]
LEADS = tuple(range(9))
END = INITS[-1] + np.timedelta64(6, "h")
VARIABLES = ["temperature_2m", "precipitation_surface"]


def template():
    return make_gfs_template(
        resolution_degrees=5.0,
        lead_times_hours=LEADS,
        init_time_start=INITS[0],
        chunks=(1, 9, 37, 36),
        shards=(1, 9, 37, 72),
    )


def path_of(init: int, lead: int) -> str:
    hour = f"{6 * init:02d}"
    return f"gfs.20240101/{hour}/atmos/gfs.t{hour}z.pgrb2.0p25.f{lead:03d}"


@pytest.fixture(scope="module")
def fault_client() -> Iterator[Client]:
    """Workers with a 1 s download timeout, 3 retries and short backoffs."""
    settings = {
        "climaflow.io.timeout-seconds": 1,
        "climaflow.io.max-retries": 3,
        "climaflow.io.backoff-seconds": 0.05,
    }
    with (
        dask.config.set(settings),
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gfs")
    write_synthetic_gfs_archive(root, INITS, LEADS, 5.0)
    return root


@pytest.fixture(scope="module")
def clean_store(fault_client, archive, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("clean") / "gfs.zarr"
    with serve_directory(archive) as server:
        run(fault_client, server.url, store)
    return store


def run(client: Client, url: str, store: Path):
    return reformat(
        template(),
        GfsForecastRegionJob,
        store,
        start=INITS[0],
        end=END,
        client=client,
        data_vars=VARIABLES,
        source_url=url,
        download_dir=store.parent / "downloads",
    )


def shard_digests(store: Path) -> dict[str, str]:
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for name in VARIABLES
        for p in sorted((store / name / "c").rglob("*"))
        if p.is_file()
    }


def test_transient_faults_are_retried_to_an_identical_store(
    fault_client, archive, clean_store, tmp_path
):
    store = tmp_path / "gfs.zarr"
    with serve_directory(archive) as server:
        server.add_fault(f"/{path_of(0, 1)}", "status", status=503, times=2)
        server.add_fault(f"/{path_of(0, 2)}.idx", "status", status=500, times=2)
        server.add_fault(f"/{path_of(0, 3)}", "reset", times=1)
        server.add_fault(f"/{path_of(0, 4)}", "delay", seconds=3, times=1)  # past the 1 s timeout
        server.add_fault(f"/{path_of(1, 5)}", "truncate", times=1)
        server.add_fault(f"/{path_of(1, 6)}", "ignore_range", times=1)
        server.add_fault(f"/{path_of(1, 7)}.idx", "status", status=429, times=1)
        result = run(fault_client, server.url, store)
        hits = Counter()
        for rule in server.faults:
            hits[rule.kind] += rule.hits

    assert hits == {"status": 5, "reset": 1, "delay": 1, "truncate": 1, "ignore_range": 1}
    assert result.failed_files == []
    assert shard_digests(store) == shard_digests(clean_store)


def test_permanent_faults_fail_only_their_files(fault_client, archive, clean_store, tmp_path):
    served = tmp_path / "archive"
    shutil.copytree(archive, served)
    idx = served / f"{path_of(1, 2)}.idx"
    size = (served / path_of(1, 2)).stat().st_size
    lines = idx.read_text().splitlines()
    # the inventory points past the end of the file (as when the GRIB was cut short)
    idx.write_text(
        "\n".join(
            f"{i + 1}:{size + 1000 * i}:{line.split(':', 2)[2]}" for i, line in enumerate(lines)
        )
    )
    store = tmp_path / "gfs.zarr"
    with serve_directory(served) as server:
        server.add_fault(f"/{path_of(0, 3)}", "status", status=503, times=None)
        server.add_fault(f"/{path_of(1, 4)}", "delay", seconds=3, times=None)
        result = run(fault_client, server.url, store)

    failed = {record["url"].split("/", 3)[-1]: record for record in result.failed_files}
    assert set(failed) == {path_of(0, 3), path_of(1, 2), path_of(1, 4)}
    assert all(r["status"] == "download_failed" for r in failed.values())
    assert "HTTP 503" in failed[path_of(0, 3)]["error"]
    assert "gave up after 4 attempts" in failed[path_of(0, 3)]["error"]
    assert "timed out" in failed[path_of(1, 4)]["error"]
    assert "416" in failed[path_of(1, 2)]["error"] or "bytes" in failed[path_of(1, 2)]["error"]

    clean = xr.open_zarr(clean_store)["temperature_2m"].values
    actual = xr.open_zarr(store)["temperature_2m"].values
    holes = np.zeros((2, len(LEADS)), bool)
    holes[0, 3] = holes[1, 2] = holes[1, 4] = True
    np.testing.assert_array_equal(np.isnan(actual).all(axis=(2, 3)), holes)
    np.testing.assert_array_equal(actual[~holes], clean[~holes])


def test_a_killed_worker_is_replaced_and_the_store_is_identical(
    fault_client, archive, clean_store, tmp_path
):
    store = tmp_path / "gfs.zarr"
    with serve_directory(archive) as server:
        # slow every GRIB download down so the kill lands mid-run
        server.add_fault(r"\.f00\d$", "delay", seconds=0.3, times=None)
        gfs = template()
        gfs.write_metadata(store, END)
        jobs = GfsForecastRegionJob.get_jobs(
            gfs,
            store,
            END,
            data_vars=VARIABLES,
            source_url=server.url,
            download_dir=tmp_path / "downloads",
        )
        futures = submit_jobs(jobs, fault_client)
        while len([r for r in server.requests if r.status == 206]) < 4:
            time.sleep(0.05)
        victim, pid = next(iter(fault_client.run(os.getpid).items()))
        os.kill(pid, signal.SIGKILL)
        results = fault_client.gather(futures)
        fault_client.wait_for_workers(2, timeout=60)

    assert all(not result.failed_files for result in results), victim
    assert shard_digests(store) == shard_digests(clean_store)


def test_killed_runs_leave_the_store_as_before_and_a_rerun_completes(fault_client, tmp_path):
    """SIGKILL of ``climaflow reformat`` and ``climaflow update`` while they download, between
    shard writes and once every shard is written, with a reader polling the store throughout;
    then ``update`` completes the store."""
    archive = tmp_path / "nex"
    years = range(2015, 2027)
    write_synthetic_nex_gddp_archive(
        archive, scenario="ssp245", variables=("tas",), years=years, resolution_degrees=30.0
    )
    store, clean = tmp_path / "killed.zarr", tmp_path / "clean.zarr"
    with serve_directory(archive) as server:
        server.add_fault("*.nc", "delay", times=None, seconds=0.2)
        cluster = ["--source-url", server.url, "--scheduler", fault_client.scheduler.address]
        update = nex_update_command(str(store), "2027", cluster)
        subprocess.run(
            nex_reformat_command(str(store), "2015", "2019", cluster),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            nex_reformat_command(str(clean), "2015", "2027", cluster),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        published = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
        reader = PollingReader(lambda: xr.open_zarr(store), "tas", ("lat", "lon"))
        reader.start()

        def new_shards() -> int:
            """Shards past the published years written by the run being killed."""
            return len(
                [
                    p
                    for p in store.glob("tas/c/*/*/*")
                    if int(p.parts[-3]) >= 4 and p.stat().st_mtime >= attempt_started
                ]
            )

        extend = nex_reformat_command(str(store), "2019", "2027", cluster)
        kill_points = [
            ("reformat, while downloading", extend, lambda: len(server.requests) > requests),
            ("update, while downloading", update, lambda: len(server.requests) > requests),
            ("reformat, between shard writes", extend, lambda: new_shards() >= 1),
            ("update, between shard writes", update, lambda: new_shards() >= 1),
            ("update, once every shard is written", update, lambda: new_shards() == 8),
        ]
        for point, run_command, reached in kill_points:
            requests, attempt_started = len(server.requests), time.time()
            kill_when(run_command, reached)
            with xr.open_zarr(store) as ds:
                assert ds.sizes["time"] in (4 * 365, 12 * 365), point
            for path, content in published.items():  # what was published is untouched
                if path.name != "zarr.json" and "time" not in path.parts:
                    assert path.read_bytes() == content, (point, path)

        subprocess.run(update, check=True, stdout=subprocess.DEVNULL)
        reader.wait_for_length(12 * 365)
        reader.stopped.set()
        reader.join()

    assert reader.problems == []
    assert 4 * 365 in reader.lengths and reader.lengths <= {4 * 365, 12 * 365}
    assert verify_store(store, fault_client).ok
    killed = {p.relative_to(store): p.read_bytes() for p in store.glob("tas/c/*/*/*")}
    assert killed == {p.relative_to(clean): p.read_bytes() for p in clean.glob("tas/c/*/*/*")}
    xr.testing.assert_identical(xr.open_zarr(store).load(), xr.open_zarr(clean).load())
