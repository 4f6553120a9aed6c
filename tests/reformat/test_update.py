"""update: a GFS-style archive whose inits are published one by one between runs, over HTTP."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.reformat.results import RegionStatus
from climaflow.reformat.run_record import read_run_records
from climaflow.reformat.runner import reformat
from climaflow.reformat.update import _to_redo, update
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.http_server import serve_directory

HOUR = np.timedelta64(1, "h")
INIT = np.datetime64("2024-01-01T00", "ns")
INITS = [INIT + 6 * HOUR * i for i in range(5)]
LEADS = tuple(range(7))
VARIABLES = ["temperature_2m", "precipitation_surface"]


def template():
    return make_gfs_template(
        resolution_degrees=5.0,
        lead_times_hours=LEADS,
        init_time_start=INIT,
        chunks=(1, 7, 37, 36),
        shards=(1, 7, 37, 72),
    )


def publish(archive: Path, init: np.datetime64, leads=LEADS) -> None:
    write_synthetic_gfs_archive(archive, [init], leads, 5.0)


def inits_requested(requests) -> set[str]:
    """The inits (``20240101/06``) whose files were requested."""
    return {"/".join(request.path.split("/")[1:3]).removeprefix("gfs.") for request in requests}


def shard_digests(store: Path) -> dict[str, str]:
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for name in VARIABLES
        for p in sorted((store / name / "c").rglob("*"))
        if p.is_file()
    }


def run_reformat(client, url: str, store: Path, end: np.datetime64):
    return reformat(
        template(),
        GfsForecastRegionJob,
        store,
        start=INITS[0],
        end=end,
        client=client,
        data_vars=VARIABLES,
        source_url=url,
        download_dir=store.parent / "downloads",
    )


def run_update(client, url: str, store: Path, end: np.datetime64):
    return update(
        template(),
        GfsForecastRegionJob,
        store,
        end=end,
        client=client,
        data_vars=VARIABLES,
        source_url=url,
        download_dir=store.parent / "downloads",
    )


def test_update_fetches_only_what_is_new_and_leaves_out_what_is_not_published(client, tmp_path):
    archive, store = tmp_path / "archive", tmp_path / "gfs.zarr"
    for init in INITS[:2]:
        publish(archive, init)
    with serve_directory(archive) as server:
        run_reformat(client, server.url, store, end=INITS[2])
        publish(archive, INITS[2])
        publish(archive, INITS[3], leads=LEADS[:4])  # NOAA still uploading its leads
        server.clear_requests()
        first = run_update(client, server.url, store, end=INITS[4] + 6 * HOUR)

        # never the files of complete inits; the 00Z of the 2nd is asked for and not found
        assert inits_requested(server.requests) == {"20240101/12", "20240101/18", "20240102/00"}
        statuses = {region.first: region.status for region in first.regions}
        assert statuses == {
            "2024-01-01T12:00:00": RegionStatus.COMPLETE,
            "2024-01-01T18:00:00": RegionStatus.INCOMPLETE,
            "2024-01-02T00:00:00": RegionStatus.UNAVAILABLE,
        }
        assert [region.first for region in first.trimmed] == ["2024-01-02T00:00:00"]
        assert first.failed_files and all(
            f["status"] == "not_available" for f in first.failed_files
        )
        ds = xr.open_zarr(store)
        np.testing.assert_array_equal(ds["init_time"].values, INITS[:4])
        assert not ds["temperature_2m"].sel(init_time=INITS[3], lead_time=3 * HOUR).isnull().any()
        assert ds["temperature_2m"].sel(init_time=INITS[3], lead_time=4 * HOUR).isnull().all()

        publish(archive, INITS[3])
        publish(archive, INITS[4])
        server.clear_requests()
        second = run_update(client, server.url, store, end=INITS[4] + 6 * HOUR)

        # the incomplete init again, and the one left out
        assert inits_requested(server.requests) == {"20240101/18", "20240102/00"}
        assert {r.status for r in second.regions} == {RegionStatus.COMPLETE}
        server.clear_requests()
        third = run_update(client, server.url, store, end=INITS[4] + 6 * HOUR)
        assert third.jobs == [] and server.requests == []  # up to date: nothing fetched

        clean = tmp_path / "clean.zarr"
        run_reformat(client, server.url, clean, end=INITS[4] + 6 * HOUR)
    assert shard_digests(store) == shard_digests(clean)
    records = read_run_records(store)
    assert [record["kind"] for record in records] == ["reformat", "update", "update"]


def test_a_failed_interior_file_is_recorded_and_refilled_by_the_next_update(client, tmp_path):
    archive, store = tmp_path / "archive", tmp_path / "gfs.zarr"
    for init in INITS[:3]:
        publish(archive, init)
    with serve_directory(archive) as server:
        run_reformat(client, server.url, store, end=INITS[1])
        broken = "/gfs.20240101/06/atmos/gfs.t06z.pgrb2.0p25.f003"
        server.add_fault(broken, "status", status=500, times=None)
        first = run_update(client, server.url, store, end=INITS[3])

        failed = [f for f in first.failed_files if f["status"] != "not_available"]
        assert [f["url"].removeprefix(server.url) for f in failed] == [broken, broken]
        assert {r.first: r.status for r in first.regions}["2024-01-01T06:00:00"] == "failed"
        ds = xr.open_zarr(store)
        assert ds.sizes["init_time"] == 3  # a failed file is kept as NaN, never trimmed
        assert ds["temperature_2m"].sel(init_time=INITS[1], lead_time=3 * HOUR).isnull().all()

        server.clear_faults()
        server.add_fault("/gfs.20240101/06/*", "status", status=503, times=None)  # an outage
        outage = run_update(client, server.url, store, end=INITS[3])
        assert {r.first: r.status for r in outage.regions}["2024-01-01T06:00:00"] == "failed"
        kept = xr.open_zarr(store)["temperature_2m"].sel(init_time=INITS[1], lead_time=2 * HOUR)
        assert not kept.isnull().any()  # the shards shown before the outage are kept

        server.clear_faults()
        server.clear_requests()
        second = run_update(client, server.url, store, end=INITS[3])
        assert inits_requested(server.requests) == {"20240101/06"}  # only the failed init
        assert {r.status for r in second.regions} == {RegionStatus.COMPLETE}
        refilled = xr.open_zarr(store)["temperature_2m"].sel(init_time=INITS[1], lead_time=3 * HOUR)
        assert not refilled.isnull().any()


def test_update_needs_an_existing_store(client, tmp_path):
    with pytest.raises(FileNotFoundError, match="create it with `climaflow reformat`"):
        run_update(client, "http://127.0.0.1:1", tmp_path / "none.zarr", end=INITS[2])


@pytest.mark.parametrize(
    ("regions", "length", "expected"),
    [
        # the latest status of each position counts, whatever the bounds of the regions
        ([[(96, 100, "incomplete")], [(96, 98, "complete"), (98, 100, "complete")]], 100, []),
        ([[(8, 10, "failed")], [(8, 12, "complete")]], 12, []),
        ([[(0, 4, "complete"), (4, 8, "incomplete")], [(8, 12, "failed")]], 12, [(4, 12)]),
        # only as far back as the lookback (GFS: 8 values, here 2-9), never past the end
        ([[(0, 4, "failed"), (4, 8, "complete"), (8, 12, "unavailable")]], 10, [(2, 4), (8, 10)]),
        ([[(0, 4, "failed")]], 20, []),
        ([[(0, 2, "complete")]], 2, []),
    ],
)
def test_positions_to_process_again_follow_the_latest_record(regions, length, expected):
    records = [
        {"regions": [{"start": a, "stop": b, "status": status} for a, b, status in run]}
        for run in regions
    ]
    assert _to_redo(template(), records, length) == expected
