"""gfs-forecast end to end: real GRIB2 written with eccodes, served over loopback HTTP."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.datasets.gfs_forecast.synthetic import (
    expected_field,
    expected_precipitation_rate,
    packing_tolerance,
    write_synthetic_gfs_archive,
)
from climaflow.datasets.gfs_forecast.template import gfs_grid
from climaflow.reformat.grib_index import parse_index, select
from climaflow.reformat.runner import reformat
from climaflow.reformat.transforms import max_relative_error
from climaflow.testing.http_server import serve_directory

RESOLUTION = 5.0
LEADS = tuple(range(13))  # 0..12 h: two 6-hour precipitation buckets
INITS = [np.datetime64("2024-01-01T00", "ns") + np.timedelta64(6 * i, "h") for i in range(3)]
INSTANT = (
    "temperature_2m",
    "relative_humidity_2m",
    "wind_u_10m",
    "wind_v_10m",
    "pressure_reduced_to_mean_sea_level",
)


def small_template():
    return make_gfs_template(
        resolution_degrees=RESOLUTION,
        lead_times_hours=LEADS,
        init_time_start=INITS[0],
        chunks=(1, 13, 37, 36),
        shards=(1, 13, 37, 72),
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gfs")
    write_synthetic_gfs_archive(root, INITS, LEADS, RESOLUTION)
    return root


@pytest.fixture
def server(archive):
    with serve_directory(archive) as server:
        yield server


def run(client, server, store: Path, end: np.datetime64, start=INITS[0], **kwargs):
    return reformat(
        small_template(),
        GfsForecastRegionJob,
        store,
        start=start,
        end=end,
        client=client,
        source_url=server.url,
        download_dir=store.parent / "downloads",
        **kwargs,
    )


def shard_digests(store: Path) -> dict[str, str]:
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("c/*/*/*/*"))
    }


def test_two_init_times_hold_the_expected_values(client, server, tmp_path):
    store = tmp_path / "gfs.zarr"
    result = run(client, server, store, INITS[2])

    counts = result.status_counts()
    assert counts["temperature_2m"] == {"succeeded": 26}
    assert counts["precipitation_surface"] == {"succeeded": 24}  # no APCP at lead 0
    ds = xr.open_zarr(store)
    latitudes, longitudes = gfs_grid(RESOLUTION)
    np.testing.assert_array_equal(ds["latitude"].values, latitudes)
    np.testing.assert_array_equal(ds["longitude"].values, longitudes)
    np.testing.assert_array_equal(ds["init_time"].values, np.array(INITS[:2]))
    np.testing.assert_array_equal(ds["lead_time"].values, np.array(LEADS) * np.timedelta64(1, "h"))
    np.testing.assert_array_equal(
        ds["valid_time"].values, ds["init_time"].values[:, None] + ds["lead_time"].values[None, :]
    )
    template = small_template()
    for name in INSTANT:
        bits = template.data_var(name).processing.keep_mantissa_bits
        for i, init in enumerate(INITS[:2]):
            expected = np.stack(
                [expected_field(name, init, lead, latitudes, longitudes) for lead in LEADS]
            )
            bound = packing_tolerance(expected) + np.abs(expected) * max_relative_error(bits)
            actual = ds[name].values[i]
            assert (np.abs(actual - expected) <= bound).all(), name
        assert ds[name].attrs["units"]
        assert ds[name].attrs["standard_name"]

    precipitation = ds["precipitation_surface"].values
    assert np.isnan(precipitation[:, 0]).all()  # lead 0 has no rate
    for i, init in enumerate(INITS[:2]):
        expected = np.stack(
            [expected_precipitation_rate(init, lead, latitudes, longitudes) for lead in LEADS[1:]]
        )
        # two packed accumulations per rate, each within the packing step of its field
        accumulation_step = packing_tolerance(expected * 6 * 3600)
        bound = 2 * accumulation_step / 3600 + np.abs(expected) * max_relative_error(7)
        assert (np.abs(precipitation[i, 1:] - expected) <= bound).all()
    assert ds["precipitation_surface"].attrs["units"] == "kg m-2 s-1"


def test_only_the_needed_messages_are_downloaded(client, server, archive, tmp_path):
    run(client, server, tmp_path / "gfs.zarr", INITS[1], data_vars=["temperature_2m"])
    grib_requests = [r for r in server.requests if not r.path.endswith(".idx")]
    assert len(grib_requests) == len(LEADS)
    assert all(r.range is not None and r.status == 206 for r in grib_requests)
    for record in grib_requests:
        file_size = (archive / record.path.lstrip("/")).stat().st_size
        assert record.bytes_sent < file_size / 4  # one message of the file's eight or more


def test_extending_keeps_earlier_shards(client, server, tmp_path):
    store = tmp_path / "gfs.zarr"
    run(client, server, store, INITS[2])
    before = shard_digests(store)
    result = run(client, server, store, INITS[2] + np.timedelta64(6, "h"), start=INITS[2])
    assert [job.region for job in result.jobs] == [(2, 3)]
    after = shard_digests(store)
    assert {k: after[k] for k in before} == before
    assert len(after) == len(before) * 3 // 2
    ds = xr.open_zarr(store)
    assert ds.sizes["init_time"] == 3
    assert not np.isnan(ds["temperature_2m"].values[2]).any()


def test_missing_and_corrupt_files_leave_nan_only_there(client, archive, tmp_path):
    copy = tmp_path / "archive"
    shutil.copytree(archive, copy)
    missing = "gfs.20240101/00/atmos/gfs.t00z.pgrb2.0p25.f003"
    corrupt = copy / "gfs.20240101/06/atmos/gfs.t06z.pgrb2.0p25.f005"
    entries = parse_index(Path(f"{corrupt}.idx").read_text())
    (message,) = select(entries, "TMP", "2 m above ground")
    with corrupt.open("r+b") as f:  # overwrite the message's body with zeros
        f.seek(message.start + 16)
        f.write(bytes(message.length - 20))

    with serve_directory(copy) as server:
        server.add_fault(f"/{missing}", "status", status=404, times=None)
        result = run(client, server, tmp_path / "gfs.zarr", INITS[2], data_vars=INSTANT[:2])

    failed = {r["url"].split("/", 3)[-1]: r for r in result.failed_files}
    assert failed[missing]["status"] == "download_failed"
    assert "404" in failed[missing]["error"]
    read_failed = failed[str(corrupt.relative_to(copy))]
    assert read_failed["status"] == "read_failed"
    assert "temperature_2m" in read_failed["error"] and ".grib2" in read_failed["error"]
    ds = xr.open_zarr(tmp_path / "gfs.zarr")
    temperature_nan = np.isnan(ds["temperature_2m"].values).all(axis=(2, 3))
    expected_nan = np.zeros((2, len(LEADS)), bool)
    expected_nan[0, 3] = expected_nan[1, 5] = True
    np.testing.assert_array_equal(temperature_nan, expected_nan)
    assert not np.isnan(ds["temperature_2m"].values[~expected_nan]).any()
    humidity_nan = np.isnan(ds["relative_humidity_2m"].values).all(axis=(2, 3))
    expected_nan[1, 5] = False  # the corrupt file's humidity message is intact
    np.testing.assert_array_equal(humidity_nan, expected_nan)
