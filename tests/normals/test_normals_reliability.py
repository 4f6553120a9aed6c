"""Normals under real faults: a killed worker, a killed client, two runs at once."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from climaflow.normals import NormalsConfig, Region, Status, run_normals
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

CLIMAFLOW = str(Path(sys.executable).with_name("climaflow"))
TARGETS = tuple(range(1994, 2015))  # 21 historical targets, 5-year windows
REGION = Region("BOX", 0.0, 40.0, 0.0, 40.0)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nex")
    write_synthetic_nex_gddp_archive(
        root,
        scenario="historical",
        variables=("tas",),
        years=range(1990, 2015),
        resolution_degrees=10.0,
        lat_bounds=(-5.0, 45.0),
        lon_bounds=(0.0, 45.0),
        seed=3,
    )
    return root


def config(archive: Path, output: Path) -> NormalsConfig:
    return NormalsConfig(
        input=str(archive),
        output=output,
        models=("NorESM2-LM",),
        variables=("tas",),
        regions=(REGION,),
        scenarios=("ssp245",),
        target_years=TARGETS,
        window=5,
        min_years=4,
        batch_size=1,
    )


def cli_args(archive: Path, output: Path, scheduler: str) -> list[str]:
    return [
        CLIMAFLOW,
        "normals",
        "--input",
        str(archive),
        "--output",
        str(output),
        "--model",
        "NorESM2-LM",
        "--variables",
        "tas",
        "--regions",
        "BOX:0,40,0,40",
        "--periods",
        "historical",
        "--target-years",
        f"{TARGETS[0]}-{TARGETS[-1]}",
        "--window",
        "5",
        "--min-years",
        "4",
        "--batch-size",
        "1",
        "--scheduler",
        scheduler,
    ]


def outputs(output: Path) -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(output.rglob("*.nc")):
        with xr.open_dataset(path) as ds:
            found[path.name] = ds["tas"].values
    return found


@pytest.fixture(scope="module")
def clean(client, archive, tmp_path_factory) -> dict[str, np.ndarray]:
    output = tmp_path_factory.mktemp("clean")
    summary = run_normals(config(archive, output), client)
    assert summary.counts()[Status.WRITTEN] == len(TARGETS)
    return outputs(output)


@pytest.fixture
def own_cluster() -> Iterator[Client]:
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client


def assert_same(found: dict[str, np.ndarray], clean: dict[str, np.ndarray]) -> None:
    assert sorted(found) == sorted(clean)
    for name, values in clean.items():
        np.testing.assert_array_equal(found[name], values, err_msg=name)


def test_a_killed_worker_does_not_change_the_normals(own_cluster, archive, clean, tmp_path):
    output = tmp_path / "normals"

    def kill_a_worker_once_outputs_appear() -> None:
        deadline = time.monotonic() + 60
        while not any(output.rglob("*.nc")) and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = next(iter(own_cluster.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_a_worker_once_outputs_appear)
    killer.start()
    summary = run_normals(config(archive, output), own_cluster)
    killer.join()

    assert summary.counts()[Status.FAILED] == 0
    assert_same(outputs(output), clean)


def test_a_killed_client_leaves_nothing_a_rerun_would_accept_wrongly(
    client, archive, clean, tmp_path
):
    output = tmp_path / "normals"
    run = subprocess.Popen(
        cli_args(archive, output, client.scheduler.address),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (
        len(list(output.rglob("*.nc"))) < 3 and run.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait()
    time.sleep(1)  # tasks already running on the workers may still finish and rename
    before = {path.name for path in output.rglob("*.nc")}
    assert len(before) > 0

    summary = run_normals(config(archive, output), client)
    counts = summary.counts()
    assert counts[Status.RECOMPUTED] == 0  # nothing that looked complete was not
    assert counts[Status.FAILED] == 0
    assert counts[Status.SKIPPED_VALID] >= len(before)
    assert counts[Status.SKIPPED_VALID] + counts[Status.WRITTEN] == len(TARGETS)
    assert_same(outputs(output), clean)
    assert not [p for p in output.rglob("*") if p.is_file() and not p.name.endswith(".nc")]


def test_two_runs_at_once_into_one_directory(client, archive, clean, tmp_path):
    output = tmp_path / "normals"
    runs = [
        subprocess.Popen(
            cli_args(archive, output, client.scheduler.address),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert_same(outputs(output), clean)
    assert not [p for p in output.rglob("*") if p.is_file() and not p.name.endswith(".nc")]
