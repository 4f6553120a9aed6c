"""Reformatting into Icechunk repositories: the same values as a Zarr store, one commit per
run, readers of ``main`` that see a run's commit or the one before, and killed runs that
leave the last commit intact."""

import subprocess
import time
from pathlib import Path

import icechunk
import numpy as np
import pytest
import xarray as xr
import zarr

from climaflow.io.icechunk_stores import CommitConflictError, IcechunkRun
from climaflow.io.stores import open_store, store_exists
from climaflow.reformat.run_record import read_run_records
from climaflow.reformat.runner import reformat
from climaflow.reformat.update import update
from climaflow.reformat.verify import verify_store
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive
from tests.reformat.example_dataset import (
    DAY,
    START,
    ExampleRegionJob,
    ExampleTemplate,
    expected_values,
    write_archive,
)
from tests.reformat.store_readers import (
    PollingReader,
    kill_when,
    nex_reformat_command,
    nex_update_command,
)
from tests.reformat.test_publication import SlowRegionJob, UnpublishableTemplate


def repository(path: Path) -> icechunk.Repository:
    return icechunk.Repository.open(icechunk.local_filesystem_storage(str(path)))


def messages(path: Path) -> list[str]:
    """Commit messages on ``main``, newest first, without the repository's first."""
    return [snapshot.message for snapshot in repository(path).ancestry(branch="main")][:-1]


def tip(path: Path) -> str:
    return repository(path).lookup_branch("main")


def open_main(path: Path) -> xr.Dataset:
    return xr.open_zarr(repository(path).readonly_session(branch="main").store)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_archive(root, np.arange(START, START + 16 * DAY, DAY))
    return root


def test_values_equal_a_zarr_store_and_each_run_is_one_commit(client, archive, tmp_path):
    repo, plain = tmp_path / "repo", tmp_path / "plain.zarr"
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    template = ExampleTemplate()
    for store in (f"icechunk://{repo}", plain):
        reformat(template, ExampleRegionJob, store, start=START, end=START + 8 * DAY, **run)
        reformat(template, ExampleRegionJob, store, start=START + 8 * DAY, end=START + 16 * DAY, **run)  # fmt: skip

    times = np.arange(START, START + 16 * DAY, DAY)
    ds = open_main(repo)
    np.testing.assert_array_equal(ds["temperature"].values, expected_values("temperature", times))
    xr.testing.assert_identical(ds.load(), xr.open_zarr(plain).load())
    assert messages(repo) == [
        "climaflow reformat example: time 2000-01-09T00:00:00 to 2000-01-13T00:00:00 "
        "(2 regions) processed; the store ends before 2000-01-17T00:00:00",
        "climaflow reformat example: time 2000-01-01T00:00:00 to 2000-01-05T00:00:00 "
        "(2 regions) processed; the store ends before 2000-01-09T00:00:00",
        "climaflow: example arrays latitude, longitude, precipitation, temperature, time "
        "created (0 values of time)",
    ]
    records = read_run_records(f"icechunk://{repo}")
    assert [r["snapshot_id"] for r in records] == [
        s.id for s in repository(repo).ancestry(branch="main")
    ][1::-1]
    assert (tmp_path / "repo.runs").is_dir()


def test_a_rerun_commits_identical_values_and_an_idle_update_commits_nothing(
    client, archive, tmp_path
):
    repo = tmp_path / "repo"
    url = f"icechunk://{repo}"
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    template = ExampleTemplate()
    reformat(template, ExampleRegionJob, url, start=START, end=START + 8 * DAY, **run)
    first = open_main(repo).load()
    commits = len(messages(repo))

    reformat(template, ExampleRegionJob, url, start=START, end=START + 8 * DAY, **run)
    assert len(messages(repo)) == commits + 1
    xr.testing.assert_identical(open_main(repo).load(), first)

    result = update(template, ExampleRegionJob, url, end=START + 8 * DAY, **run)
    assert result.jobs == []
    assert len(messages(repo)) == commits + 1


def test_update_ends_the_repository_where_the_published_data_end(client, tmp_path):
    """Files up to day 10, shards of 4 days: the commit shows days 0-9, all written."""
    archive, repo = tmp_path / "archive", tmp_path / "repo"
    write_archive(archive, np.arange(START, START + 10 * DAY, DAY))
    url = f"icechunk://{repo}"
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    template = ExampleTemplate()
    reformat(template, ExampleRegionJob, url, start=START, end=START + 8 * DAY, **run)

    result = update(template, ExampleRegionJob, url, end=START + 16 * DAY, **run)

    assert [r.start for r in result.trimmed] == [12]
    ds = open_main(repo)
    times = np.arange(START, START + 10 * DAY, DAY)
    np.testing.assert_array_equal(ds["temperature"].values, expected_values("temperature", times))
    assert messages(repo)[0].endswith("the store ends before 2000-01-11T00:00:00")
    assert verify_store(url, client).ok


def test_a_run_failing_before_its_commit_leaves_main_as_it_was(client, archive, tmp_path):
    repo = tmp_path / "repo"
    url = f"icechunk://{repo}"
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    reformat(ExampleTemplate(), ExampleRegionJob, url, start=START, end=START + 4 * DAY, **run)
    before = tip(repo)

    with pytest.raises(RuntimeError, match="killed before publishing"):
        reformat(
            UnpublishableTemplate(),
            ExampleRegionJob,
            url,
            start=START + 4 * DAY,
            end=START + 12 * DAY,
            **run,
        )

    assert tip(repo) == before
    assert open_main(repo).sizes["time"] == 4


def test_a_reader_of_main_sees_the_commit_before_a_run_or_the_run_s(client, archive, tmp_path):
    repo = tmp_path / "repo"
    url = f"icechunk://{repo}"
    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    template = ExampleTemplate()
    reformat(template, SlowRegionJob, url, start=START, end=START + 4 * DAY, **run)
    reader = PollingReader(lambda: open_main(repo), "temperature", ("latitude", "longitude"))
    reader.start()
    try:
        reformat(template, SlowRegionJob, url, start=START + 4 * DAY, end=START + 16 * DAY, **run)
        reader.wait_for_length(16)
    finally:
        reader.stopped.set()
        reader.join()

    assert reader.problems == []
    assert reader.lengths == {4, 16}


def test_a_commit_after_another_writer_s_is_refused(tmp_path):
    url = f"icechunk://{tmp_path / 'repo'}"
    run = IcechunkRun(url)
    other = repository(tmp_path / "repo").writable_session("main")
    zarr.create_group(other.store, attributes={"by": "another writer"})
    other.commit("another writer")
    zarr.create_group(run.store, attributes={"by": "this run"})

    with pytest.raises(CommitConflictError, match="another writer committed to icechunk://"):
        run.commit("this run", {})
    assert messages(tmp_path / "repo") == ["another writer"]


def test_open_store_and_store_exists_read_the_tip_of_main(tmp_path):
    url = f"icechunk://{tmp_path / 'repo'}"
    assert not store_exists(url)
    with pytest.raises(FileNotFoundError, match="no Icechunk repository at icechunk://"):
        open_store(url)
    run = IcechunkRun(url)
    ExampleTemplate().write_metadata(run.store, START + 4 * DAY)
    assert not store_exists(url)  # written, not committed
    run.commit("metadata", {})
    assert store_exists(url)
    assert xr.open_zarr(open_store(url)).sizes["time"] == 4


def test_killed_runs_leave_the_last_commit_and_update_completes(client, tmp_path):
    """SIGKILL of ``climaflow reformat`` and ``climaflow update`` writing to an Icechunk
    repository, while they download and between chunk writes, with a reader polling ``main``;
    then ``update`` completes the repository with the values of a clean Zarr store."""
    archive = tmp_path / "nex"
    years = range(2015, 2023)
    write_synthetic_nex_gddp_archive(
        archive, scenario="ssp245", variables=("tas",), years=years, resolution_degrees=30.0
    )
    repo, clean = tmp_path / "repo", tmp_path / "clean.zarr"
    url = f"icechunk://{repo}"
    with serve_directory(archive) as server:
        server.add_fault("*.nc", "delay", times=None, seconds=0.2)
        cluster = ["--source-url", server.url, "--scheduler", client.scheduler.address]
        update_command = nex_update_command(url, "2023", cluster)
        subprocess.run(
            nex_reformat_command(url, "2015", "2017", cluster),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            nex_reformat_command(str(clean), "2015", "2023", cluster),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        published = tip(repo)
        reader = PollingReader(lambda: open_main(repo), "tas", ("lat", "lon"))
        reader.start()

        def new_chunks() -> int:
            chunks = repo / "chunks"
            found = chunks.iterdir() if chunks.is_dir() else []
            return len([p for p in found if p.stat().st_mtime >= attempt_started])

        def downloading() -> bool:
            return len(server.requests) > requests

        kill_points = [
            (
                "reformat, while downloading",
                nex_reformat_command(url, "2017", "2023", cluster),
                downloading,
            ),
            ("update, between chunk writes", update_command, lambda: new_chunks() >= 1),
        ]
        for point, run_command, reached in kill_points:
            requests, attempt_started = len(server.requests), time.time()
            assert kill_when(run_command, reached), f"{point}: the run ended before the kill"
            assert tip(repo) == published, point
            assert open_main(repo).sizes["time"] == 2 * 365, point

        subprocess.run(update_command, check=True, stdout=subprocess.DEVNULL)
        reader.wait_for_length(8 * 365)
        reader.stopped.set()
        reader.join()

    assert reader.problems == []
    assert reader.lengths == {2 * 365, 8 * 365}
    assert verify_store(url, client).ok
    xr.testing.assert_identical(open_main(repo).load(), xr.open_zarr(clean).load())


def test_a_repository_in_s3_and_a_zarr_store_in_s3_hold_the_same_values(client, archive, tmp_path):
    """``icechunk+s3://`` and ``s3://`` on a loopback S3 server, opened with the same obstore
    options: same values as a local store, one commit per run, run records beside them."""
    from climaflow.io.icechunk_stores import open_repository
    from tests.s3_server import serve_s3

    run = {"client": client, "source_root": archive, "download_dir": tmp_path / "dl"}
    template = ExampleTemplate()
    local = tmp_path / "local.zarr"
    reformat(template, ExampleRegionJob, local, start=START, end=START + 8 * DAY, **run)
    expected = xr.open_zarr(local).load()
    with serve_s3() as options:
        repo_url, zarr_url = "icechunk+s3://climaflow-test/repo", "s3://climaflow-test/plain.zarr"
        for url in (repo_url, zarr_url):
            reformat(
                template, ExampleRegionJob, url, start=START, end=START + 8 * DAY,
                store_storage_options=options, **run,
            )  # fmt: skip
            records = read_run_records(url, storage_options=options)
            assert [r["published_end"][:19] for r in records] == ["2000-01-09T00:00:00"], url
            assert verify_store(url, client, storage_options=options).ok, url
            idle = update(template, ExampleRegionJob, url, end=START + 8 * DAY,
                          store_storage_options=options, **run)  # fmt: skip
            assert idle.jobs == [], url
        repository_store = open_repository(repo_url, options).readonly_session("main").store
        xr.testing.assert_identical(xr.open_zarr(repository_store).load(), expected)
        xr.testing.assert_identical(
            xr.open_zarr(open_store(zarr_url, storage_options=options)).load(), expected
        )
        ancestry = list(open_repository(repo_url, options).ancestry(branch="main"))
        assert [s.message.split(":")[0] for s in ancestry] == [
            "climaflow reformat example", "climaflow", "Repository initialized"
        ]  # fmt: skip
        (repository_record,) = read_run_records(repo_url, storage_options=options)
        assert repository_record["snapshot_id"] == ancestry[0].id
