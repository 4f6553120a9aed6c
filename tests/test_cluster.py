"""Cluster selection: LocalCluster sizing, a real `dask scheduler` with `dask worker`s, jobqueue."""

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dask.config
import numpy as np
import pytest
import xarray as xr

from climaflow.cluster import (
    ClusterError,
    cluster_client,
    default_local_cluster_size,
    jobqueue_cluster,
    worker_environ,
)
from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.normals import NormalsConfig, Region, run_normals
from climaflow.reformat.runner import reformat
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

DASK = str(Path(sys.executable).with_name("dask"))
INITS = [np.datetime64("2024-01-01T00", "ns"), np.datetime64("2024-01-01T06", "ns")]
LEADS = tuple(range(7))


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dask scheduler did not start (exit {process.poll()})")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory) -> Iterator[str]:
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("dask")
    scheduler_file = tmp / "scheduler.json"
    processes = [
        subprocess.Popen(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        wait_for_file(scheduler_file, processes[0])
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "2",
                        "--memory-limit",
                        "4GiB",
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with cluster_client(address) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def shard_digests(store: Path) -> dict[str, str]:
    """sha256 of every data-variable shard (coordinates excluded)."""
    names = {var.name for var in make_gfs_template().data_vars}
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for name in names
        for p in sorted((store / name).rglob("c/**/*"))
        if p.is_file()
    }


def gfs_reformat(client, archive: Path, store: Path) -> None:
    template = make_gfs_template(
        resolution_degrees=5.0,
        lead_times_hours=LEADS,
        init_time_start=INITS[0],
        chunks=(1, 7, 37, 36),
        shards=(1, 7, 37, 72),
    )
    reformat(
        template,
        GfsForecastRegionJob,
        store,
        start=INITS[0],
        end=INITS[1] + np.timedelta64(6, "h"),
        client=client,
        source_url=str(archive),
        download_dir=store.parent / "downloads",
    )


def normals_run(client, archive: Path, output: Path) -> None:
    run_normals(
        NormalsConfig(
            input=str(archive),
            output=output,
            models=("NorESM2-LM",),
            variables=("tas",),
            regions=(Region("BOX", 0.0, 40.0, 0.0, 40.0),),
            scenarios=("ssp245",),
            target_years=(2014, 2015),
            window=5,
            min_years=4,
        ),
        client,
    )


def test_runs_on_a_dask_scheduler_match_the_local_cluster(client, scheduler_address, tmp_path):
    gfs = tmp_path / "gfs"
    write_synthetic_gfs_archive(gfs, INITS, LEADS, 5.0)
    nex = tmp_path / "nex"
    grid = {"resolution_degrees": 10.0, "lat_bounds": (-5.0, 45.0), "lon_bounds": (0.0, 45.0)}
    write_synthetic_nex_gddp_archive(
        nex, scenario="historical", years=range(2010, 2015), seed=1, **grid
    )
    write_synthetic_nex_gddp_archive(nex, scenario="ssp245", years=[2015], seed=1, **grid)

    with cluster_client(scheduler_address, writable_paths=[tmp_path]) as remote:
        gfs_reformat(remote, gfs, tmp_path / "remote" / "gfs.zarr")
        normals_run(remote, nex, tmp_path / "remote" / "normals")
    gfs_reformat(client, gfs, tmp_path / "local" / "gfs.zarr")
    normals_run(client, nex, tmp_path / "local" / "normals")

    remote_shards = shard_digests(tmp_path / "remote" / "gfs.zarr")
    assert len(remote_shards) == 2 * 6  # 2 init times x 6 variables, one shard each
    assert remote_shards == shard_digests(tmp_path / "local" / "gfs.zarr")
    remote_normals = sorted((tmp_path / "remote" / "normals").rglob("*.nc"))
    assert len(remote_normals) == 2
    for path in remote_normals:
        local = tmp_path / "local" / "normals" / path.relative_to(tmp_path / "remote" / "normals")
        with xr.open_dataset(path) as a, xr.open_dataset(local) as b:
            np.testing.assert_array_equal(a["tas"].values, b["tas"].values)


def test_an_unanswered_scheduler_address_is_a_clear_error():
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ClusterError, match=r"no dask scheduler answers at tcp://127\.0\.0\.1:9"),
        cluster_client("tcp://127.0.0.1:9"),
    ):
        pass


def test_workers_must_be_able_to_write_the_outputs(scheduler_address, tmp_path):
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        if os.access(readonly, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
        with (
            pytest.raises(ClusterError, match="cannot write to"),
            cluster_client(scheduler_address, writable_paths=[readonly / "out.zarr"]),
        ):
            pass
    finally:
        readonly.chmod(0o755)


def test_workers_check_reports_a_path_they_cannot_create(scheduler_address, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with (
        pytest.raises(ClusterError, match="a-file is not a directory"),
        cluster_client(scheduler_address, writable_paths=[blocker / "out.zarr"]),
    ):
        pass


def test_default_local_cluster_is_sized_to_the_machine():
    size = default_local_cluster_size()
    assert size.n_workers >= 1
    assert size.threads_per_worker == 2
    assert size.memory_limit_bytes * size.n_workers > 0
    assert default_local_cluster_size(n_workers=3, threads_per_worker=1).n_workers == 3
    with dask.config.set({"climaflow.cluster.n-workers": 5}):
        assert default_local_cluster_size().n_workers == 5


def _allocator_environ() -> dict[str, str | None]:
    return {
        name: os.environ.get(name) for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    }


def test_local_cluster_workers_get_the_allocator_environment(monkeypatch):
    """climaflow's worker-environ reaches the worker processes and can be overridden."""
    assert worker_environ()["OMP_NUM_THREADS"] == "1", "distributed's own settings are kept"
    # As distributed does, a variable of the starting process's environment would win (and
    # a LocalCluster started earlier in this process has set distributed's value there).
    for name in _allocator_environ():
        monkeypatch.delenv(name, raising=False)
    with cluster_client(n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        (found,) = client.run(_allocator_environ).values()
    assert found == {"MALLOC_MMAP_THRESHOLD_": "4194304", "MALLOC_TRIM_THRESHOLD_": "8388608"}
    with dask.config.set({"climaflow.cluster.worker-environ": {"MALLOC_TRIM_THRESHOLD_": 0}}):
        assert worker_environ()["MALLOC_TRIM_THRESHOLD_"] == "0"
        assert "MALLOC_MMAP_THRESHOLD_" not in worker_environ()
    unset = {
        "climaflow.cluster.worker-environ.MALLOC_TRIM_THRESHOLD_": None,
        "distributed.nanny.pre-spawn-environ.OMP_NUM_THREADS": None,
    }
    with dask.config.set(unset):  # distributed's convention: None unsets a variable
        environ = worker_environ()
    assert "MALLOC_TRIM_THRESHOLD_" not in environ and "OMP_NUM_THREADS" not in environ
    assert environ["MALLOC_MMAP_THRESHOLD_"] == "4194304"


def test_slurm_job_script_is_built_without_submitting():
    with jobqueue_cluster(
        "slurm",
        cores=4,
        memory="8GiB",
        queue="compute",
        walltime="02:00:00",
        scheduler_options={"host": "127.0.0.1"},
    ) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p compute" in script
    assert "#SBATCH -t 02:00:00" in script
    assert "distributed.cli.dask_worker" in script or "dask worker" in script
    assert "#SBATCH --cpus-per-task=4" in script
