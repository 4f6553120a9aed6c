"""verify_store: missing and torn shards, NaN fractions, failed files from run records."""

import re
from pathlib import Path

import numpy as np
import pytest

from climaflow.reformat.run_record import read_run_records
from climaflow.reformat.runner import reformat
from climaflow.reformat.verify import verify_store
from tests.reformat.example_dataset import (
    DAY,
    START,
    ExampleRegionJob,
    ExampleTemplate,
    write_archive,
)

END = START + 8 * DAY


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_archive(root, np.arange(START, END, DAY))
    return root


def run(client, archive: Path, store: Path, **kwargs):
    kwargs = {"start": START, **kwargs}
    return reformat(
        ExampleTemplate(),
        ExampleRegionJob,
        store,
        end=END,
        client=client,
        source_root=archive,
        download_dir=store.parent / "dl",
        **kwargs,
    )


def test_a_complete_store_verifies(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    run(client, archive, store)
    report = verify_store(store, client)
    assert report.ok
    assert report.append_dim == "time"
    assert report.variables["temperature"].shards == 4
    np.testing.assert_array_equal(report.variables["temperature"].nan_fraction, np.zeros(8))
    assert report.failed_files == []


def test_holes_torn_and_missing_shards_are_reported(client, archive, tmp_path):
    (archive / "temperature" / "2000-01-03.npy").unlink()
    store = tmp_path / "out.zarr"
    result = run(client, archive, store)
    assert result.record is not None and Path(result.record).exists()

    torn = store / "precipitation" / "c" / "1" / "0" / "0"
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])  # a killed writer's shard
    (store / "temperature" / "c" / "1" / "0" / "1").unlink()

    report = verify_store(store)  # also works without a cluster
    assert not report.ok
    temperature = report.variables["temperature"]
    assert temperature.missing == [(1, 0, 1)]
    expected = np.zeros(8)
    expected[2] = 1.0  # the failed file's day
    np.testing.assert_array_equal(temperature.nan_fraction, expected)
    ((corrupt_index, error),) = report.variables["precipitation"].corrupt
    assert corrupt_index == (1, 0, 0)
    assert error
    (failed,) = report.failed_files
    assert failed["url"].endswith("temperature/2000-01-03.npy")
    assert "missing shard (1, 0, 1)" in report.summary()


def test_refilling_the_hole_clears_the_failure_and_keeps_other_shards(client, archive, tmp_path):
    missing = archive / "temperature" / "2000-01-03.npy"
    content = missing.read_bytes()
    missing.unlink()
    store = tmp_path / "out.zarr"
    run(client, archive, store)
    second_half = {p: p.read_bytes() for p in store.rglob("c/1/*/*")}
    missing.write_bytes(content)
    result = run(client, archive, store, start=START + 2 * DAY, stop=START + 3 * DAY)

    assert [job.region for job in result.jobs] == [(0, 4)]  # widened to its whole shard
    assert {p: p.read_bytes() for p in store.rglob("c/1/*/*")} == second_half
    assert len(read_run_records(store)) == 2
    report = verify_store(store, client)
    assert report.ok and report.failed_files == []
    assert not report.variables["temperature"].nan_fraction.any()


def test_a_variable_never_written_is_reported_but_not_a_problem(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    run(client, archive, store, data_vars=["temperature"])
    report = verify_store(store, client)
    assert report.ok
    assert report.variables["precipitation"].never_written
    assert re.search(r"precipitation +never written \(4 shards\)", report.summary())
    (store / "temperature" / "c" / "0" / "0" / "0").unlink()
    assert not verify_store(store, client).ok  # a hole in a written variable is


def test_a_region_whose_files_all_failed_is_written_as_nan_not_left_missing(
    client, archive, tmp_path
):
    for day in ("2000-01-05", "2000-01-06", "2000-01-07", "2000-01-08"):
        (archive / "temperature" / f"{day}.npy").unlink()
    store = tmp_path / "out.zarr"
    run(client, archive, store)

    report = verify_store(store, client)
    temperature = report.variables["temperature"]
    assert temperature.missing == []  # its shards exist: written, all NaN
    np.testing.assert_array_equal(temperature.nan_fraction, [0, 0, 0, 0, 1, 1, 1, 1])
    assert temperature.empty == [f"2000-01-0{day}T00:00:00" for day in (5, 6, 7, 8)]
    assert len([f for f in report.failed_files if f["variable"] == "temperature"]) == 4
    assert not report.ok
    summary = report.summary()
    assert "NaN everywhere at 4 time values: 2000-01-05T00:00:00, 2000-01-06T00:00:00" in summary
    assert "not_available: " in summary and "2000-01-05.npy" in summary
    because = temperature.empty_because["2000-01-06T00:00:00"]
    assert [f["url"].rsplit("/", 1)[-1] for f in because] == ["2000-01-06.npy"]
    assert f"      2000-01-06T00:00:00: not_available: {because[0]['url']}" in summary


def test_only_the_range_the_runs_wrote_is_checked(client, archive, tmp_path):
    """A store begun at a later start: the values before it were never written."""
    store = tmp_path / "out.zarr"
    run(client, archive, store, start=START + 4 * DAY)

    report = verify_store(store, client)
    assert report.ok
    assert report.checked == ("2000-01-05T00:00:00", "2000-01-08T00:00:00")
    temperature = report.variables["temperature"]
    assert temperature.shards == 2 and temperature.missing == []  # of 4 shards in all
    assert "checked time 2000-01-05T00:00:00 to 2000-01-08T00:00:00" in report.summary()


def test_max_age_tells_a_store_that_stopped_growing(client, archive, tmp_path):
    store = tmp_path / "out.zarr"
    run(client, archive, store)
    last = END - DAY

    fresh = verify_store(store, client, max_age=np.timedelta64(2, "D"), now=last + DAY)
    assert fresh.ok and fresh.stale is None and fresh.latest == "2000-01-08T00:00:00"
    stale = verify_store(store, client, max_age=np.timedelta64(12, "h"), now=last + DAY)
    assert not stale.ok
    assert stale.stale == "latest time 2000-01-08T00:00:00 is 24.0 hours old, more than 12 hours"
