"""RegionJob end to end on a real LocalCluster, writing a real Zarr v3 store on disk."""

import hashlib
from pathlib import Path

import dask.config
import numpy as np
import pytest
import xarray as xr
from dask.core import get_dependencies
from distributed import wait
from distributed.utils import key_split_group

from climaflow.reformat.graph import check_exclusive_shards, process_jobs, submit_jobs
from climaflow.reformat.shards import RegionNotShardAlignedError
from climaflow.reformat.transforms import max_relative_error
from tests.reformat.example_dataset import (
    DAY,
    START,
    ExampleRegionJob,
    ExampleTemplate,
    FlakyTransformRegionJob,
    expected_values,
    write_archive,
)

END = START + 8 * DAY  # 8 days: two shards of 4 along time


def shard_digests(store: Path) -> dict[str, str]:
    """sha256 of every data-variable shard file in the store, by relative path."""
    return {
        str(path.relative_to(store)): hashlib.sha256(path.read_bytes()).hexdigest()
        for name in ("temperature", "precipitation")
        for path in sorted((store / name / "c").rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_archive(root, np.arange(START, START + 12 * DAY, DAY))
    return root


def make_jobs(archive: Path, store: Path, end: np.datetime64, **kwargs) -> list[ExampleRegionJob]:
    template = ExampleTemplate()
    template.write_metadata(store, end)
    return ExampleRegionJob.get_jobs(
        template, store, end, source_root=archive, download_dir=store.parent / "dl", **kwargs
    )


def test_store_holds_the_source_values(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    results = process_jobs(make_jobs(archive, store, END), client)

    assert [r.region for r in results] == [(0, 4), (4, 8)]
    ds = xr.open_zarr(store)
    times = np.arange(START, END, DAY)
    np.testing.assert_array_equal(ds["time"].values, times)
    # no rounding on temperature: bit-exact
    np.testing.assert_array_equal(ds["temperature"].values, expected_values("temperature", times))
    # precipitation keeps 7 mantissa bits: within the documented bound, and not exact
    expected = expected_values("precipitation", times)
    actual = ds["precipitation"].values
    np.testing.assert_array_less(
        np.abs(actual - expected) / expected, max_relative_error(7) * (1 + 1e-6)
    )
    assert not np.array_equal(actual, expected)
    assert ds["temperature"].attrs["units"] == "K"
    assert ds["temperature"].encoding["shards"] == (4, 3, 2)
    for result in results:
        for summary in result.variables.values():
            assert summary.status_counts == {"succeeded": 4}
            assert summary.shards_written == 2  # 1 time shard x 2 longitude shards


def test_failed_files_leave_nan_only_at_their_out_loc(client, archive, tmp_path):
    (archive / "temperature" / "2000-01-03.npy").unlink()  # download fails
    (archive / "temperature" / "2000-01-06.npy").write_bytes(b"not a numpy file")  # read fails
    store = tmp_path / "out.zarr"
    results = process_jobs(make_jobs(archive, store, END), client)

    ds = xr.open_zarr(store)
    times = np.arange(START, END, DAY)
    expected = expected_values("temperature", times)
    expected[[2, 5]] = np.nan
    np.testing.assert_array_equal(ds["temperature"].values, expected)
    assert not np.isnan(ds["precipitation"].values).any()

    first, second = (r.variables["temperature"] for r in results)
    assert first.status_counts == {"succeeded": 3, "not_available": 1}
    assert second.status_counts == {"succeeded": 3, "read_failed": 1}
    (missing,) = first.failed_files
    assert missing["url"].endswith("temperature/2000-01-03.npy")
    assert "not found" in missing["error"]
    (corrupt,) = second.failed_files
    assert corrupt["status"] == "read_failed"
    assert "2000-01-06.npy" in corrupt["error"]


def test_rerun_is_byte_identical_and_extension_keeps_old_shards(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    process_jobs(make_jobs(archive, store, END), client)
    first = shard_digests(store)
    assert len(first) == 8  # 2 variables x 2 time shards x 2 longitude shards

    process_jobs(make_jobs(archive, store, END), client)
    assert shard_digests(store) == first

    longer = END + 4 * DAY
    jobs = make_jobs(archive, store, longer, start=8)
    assert [job.region for job in jobs] == [slice(8, 12)]
    process_jobs(jobs, client)
    extended = shard_digests(store)
    assert {k: extended[k] for k in first} == first
    assert len(extended) == 12
    ds = xr.open_zarr(store)
    times = np.arange(START, longer, DAY)
    np.testing.assert_array_equal(ds["temperature"].values, expected_values("temperature", times))


def test_regions_must_be_whole_shards(archive, tmp_path):
    store = tmp_path / "out.zarr"
    template = ExampleTemplate()
    template.write_metadata(store, END)
    for region in (slice(0, 3), slice(2, 6), slice(4, 9)):
        with pytest.raises(RegionNotShardAlignedError, match=r"whole shards|outside"):
            ExampleRegionJob(
                template=template,
                store=store,
                append_dim_end=END,
                region=region,
                source_root=archive,
            )
    # a partial last shard is whole as far as the array goes
    short_end = START + 6 * DAY
    template.write_metadata(tmp_path / "short.zarr", short_end)
    ExampleRegionJob(
        template=template,
        store=tmp_path / "short.zarr",
        append_dim_end=short_end,
        region=slice(4, 6),
        source_root=archive,
    )
    # get_jobs widens a request to shard boundaries
    jobs = ExampleRegionJob.get_jobs(template, store, END, start=1, stop=5, source_root=archive)
    assert [job.region for job in jobs] == [slice(0, 4), slice(4, 8)]


def test_overlapping_jobs_are_refused(archive, tmp_path):
    store = tmp_path / "out.zarr"
    jobs = make_jobs(archive, store, END)
    with pytest.raises(AssertionError, match="jobs must not share shards"):
        check_exclusive_shards([jobs[0], jobs[0]])


def test_task_names_carry_stage_and_variable(archive, tmp_path):
    store = tmp_path / "out.zarr"
    (job,) = make_jobs(archive, store, END, stop=4)
    result = job.to_graph("label")
    graph = dict(result.__dask_graph__())
    result_key = result.key
    groups = {key_split_group(key) for key in graph}
    assert groups == {
        "download-example",
        "reformat-temperature",
        "reformat-precipitation",
        "cleanup-example",
        "job-example",
        "regionjob-example",
    }
    assert key_split_group(result_key) == "job-example"
    downloads = [key for key in graph if key_split_group(key) == "download-example"]
    assert len(downloads) == 8  # one per file: 4 days x 2 variables
    (reformat_temperature,) = [
        key for key in graph if key_split_group(key) == "reformat-temperature"
    ]
    # the variable's task depends on its own files only (and the job)
    assert len(get_dependencies(graph, reformat_temperature)) == 4 + 1


def test_scheduler_shows_task_groups_by_stage_and_variable(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    futures = submit_jobs(make_jobs(archive, store, END, stop=4), client)
    wait(futures)  # groups live while their keys do: hold the futures while looking

    def group_names(dask_scheduler):  # runs in the scheduler process
        return sorted(dask_scheduler.task_groups)

    names = set(client.run_on_scheduler(group_names))
    assert {"download-example", "reformat-precipitation", "job-example"} <= names


def test_downloads_are_cleaned_up_and_sources_kept(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    process_jobs(make_jobs(archive, store, END), client)
    # local sources are read in place, never copied, and never deleted
    assert len(list((archive / "temperature").iterdir())) == 12
    assert not any((tmp_path / "dl").rglob("*.npy"))


def test_tasks_that_raise_are_retried(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    template = ExampleTemplate()
    template.write_metadata(store, END)
    jobs = FlakyTransformRegionJob.get_jobs(template, store, END, stop=4, source_root=archive)
    with (
        dask.config.set({"climaflow.tasks.retries": 0}),
        pytest.raises(RuntimeError, match="transient failure"),
    ):
        process_jobs(jobs, client)
    for marker in archive.glob("failed-once-*"):
        marker.unlink()
    (result,) = process_jobs(jobs, client)  # raises if the retry did not happen

    assert (archive / "failed-once-temperature").exists()
    assert result.variables["temperature"].status_counts == {"succeeded": 4}
    times = np.arange(START, START + 4 * DAY, DAY)
    np.testing.assert_array_equal(
        xr.open_zarr(store)["temperature"].values[:4], expected_values("temperature", times)
    )
