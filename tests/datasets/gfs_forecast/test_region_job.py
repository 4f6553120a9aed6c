"""gfs-forecast end to end: real GRIB2 written with eccodes, served over loopback HTTP."""

import hashlib
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climaflow.datasets.gfs_forecast import (
    GfsForecastRegionJob,
    GfsSourceFileCoord,
    make_gfs_template,
)
from climaflow.datasets.gfs_forecast.source_file_coord import gfs_file_path
from climaflow.datasets.gfs_forecast.template import gfs_grid
from climaflow.reformat.grib_index import parse_index, select
from climaflow.reformat.runner import reformat
from climaflow.reformat.template import ProcessingAttrs
from climaflow.reformat.transforms import max_relative_error
from climaflow.testing.gfs_archive import (
    expected_accumulation,
    expected_field,
    expected_precipitation_rate,
    packing_tolerance,
    precipitation_bucket_start,
    write_synthetic_gfs_archive,
)
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
    # leads 1-6, whose files hold the 0-L accumulation twice, are there like the others
    assert not np.isnan(precipitation[:, 1:]).any()
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
    assert failed[missing]["status"] == "not_available"
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


def bucket_deaccumulation(init: np.datetime64, latitudes, longitudes) -> np.ndarray:
    """Rates at leads 1.. from the exact 6-hour bucket totals, deaccumulated with numpy."""
    rates = []
    for lead in LEADS[1:]:
        start = precipitation_bucket_start(lead)
        total = expected_accumulation(init, start, lead, latitudes, longitudes)
        before = (
            expected_accumulation(init, start, lead - 1, latitudes, longitudes)
            if lead - 1 > start
            else 0.0
        )
        rates.append((total - before) / 3600.0)
    return np.stack(rates)


ANY_WINDOW = "precipitation_any_window"


def template_with_an_ambiguous_variable():
    """The small template plus APCP with its window left open: one field at leads 1-6 (the
    two identical lines), two different ones (bucket and total) from lead 7 on."""
    template = small_template()
    precipitation = template.data_var("precipitation_surface")
    ambiguous = replace(
        precipitation,
        name=ANY_WINDOW,
        grib_window=None,
        processing=ProcessingAttrs(keep_mantissa_bits=7),
    )
    return replace(template, data_vars=(*template.data_vars, ambiguous))


def test_an_ambiguous_selection_fails_only_that_variable_with_either_engine(
    client, server, archive, tmp_path
):
    template = template_with_an_ambiguous_variable()
    names = ["temperature_2m", "precipitation_surface", ANY_WINDOW]
    stores = {}
    for engine in ("eccodes", "cfgrib"):
        store = tmp_path / engine / "gfs.zarr"
        result = reformat(
            template,
            GfsForecastRegionJob,
            store,
            start=INITS[0],
            end=INITS[2],
            client=client,
            data_vars=names,
            source_url=server.url,
            download_dir=store.parent / "downloads",
            grib_reader=engine,
        )
        counts = result.status_counts()
        assert counts["temperature_2m"] == {"succeeded": 26}
        assert counts["precipitation_surface"] == {"succeeded": 24}
        assert counts[ANY_WINDOW] == {"succeeded": 12, "read_failed": 12}
        assert [r["variable"] for r in result.failed_files] == [ANY_WINDOW] * 12
        for record in result.failed_files:
            lead = int(record["url"][-3:])
            assert 7 <= lead <= 12 and record["status"] == "read_failed"
            lines = (
                Path(f"{archive / record['url'].split('/', 3)[-1]}.idx").read_text().splitlines()
            )
            numbers = [
                next(i for i, line in enumerate(lines, 1) if line.endswith(f":APCP:surface:{w}:"))
                for w in (f"6-{lead} hour acc fcst", f"0-{lead} hour acc fcst")
            ]
            assert re.search(
                rf"\.grib2: {ANY_WINDOW}: {re.escape(record['url'])}\.idx: 2 different "
                rf"inventory lines match APCP:surface:\(any\)-{lead} hour acc fcst: "
                rf"line {numbers[0]} \(APCP:surface:6-{lead} hour acc fcst\); "
                rf"line {numbers[1]} \(APCP:surface:0-{lead} hour acc fcst\)$",
                record["error"],
            ), record["error"]
        stores[engine] = xr.open_zarr(store).load()

    eccodes_ds, cfgrib_ds = stores["eccodes"], stores["cfgrib"]
    xr.testing.assert_identical(eccodes_ds, cfgrib_ds)
    latitudes, longitudes = gfs_grid(RESOLUTION)
    for i, init in enumerate(INITS[:2]):
        # the other variables of the files where the selection failed are all there
        expected = np.stack(
            [expected_field("temperature_2m", init, lead, latitudes, longitudes) for lead in LEADS]
        )
        bound = packing_tolerance(expected) + np.abs(expected) * max_relative_error(10)
        assert (np.abs(eccodes_ds["temperature_2m"].values[i] - expected) <= bound).all()
        rates = bucket_deaccumulation(init, latitudes, longitudes)
        bound = 2 * packing_tolerance(rates * 6 * 3600) / 3600 + rates * max_relative_error(7)
        actual = eccodes_ds["precipitation_surface"].values[i, 1:]
        assert (np.abs(actual - rates) <= bound).all()
        # the open window holds the one 0-L field at leads 1-6, nothing from lead 7 on
        any_window = eccodes_ds[ANY_WINDOW].values[i]
        assert np.isnan(any_window[0]).all() and np.isnan(any_window[7:]).all()
        for lead in range(1, 7):
            expected = expected_accumulation(init, 0, lead, latitudes, longitudes)
            bound = packing_tolerance(expected) + expected * max_relative_error(7)
            assert (np.abs(any_window[lead] - expected) <= bound).all(), lead


def test_a_file_where_no_variable_is_singled_out_fails_its_download(archive, tmp_path):
    template = template_with_an_ambiguous_variable()
    job = GfsForecastRegionJob(
        template=template,
        store=tmp_path / "unused.zarr",
        append_dim_end=INITS[1],
        region=slice(0, 1),
        source_url=str(archive),
        download_dir=tmp_path / "downloads",
    )

    def coord(lead: int, *names: str) -> GfsSourceFileCoord:
        return GfsSourceFileCoord(
            base_url=str(archive),
            init_time=INITS[0],
            lead_time=np.timedelta64(lead, "h"),
            data_var_names=names,
        )

    with pytest.raises(ValueError, match=rf"^{ANY_WINDOW}: .*f007\.idx: 2 different inventory"):
        job.download_file(coord(7, ANY_WINDOW))
    downloaded = job.download_file(coord(7, "temperature_2m", ANY_WINDOW))
    assert [name for name, _ in downloaded.selection_errors] == [ANY_WINDOW]
    read = job.read_file(downloaded, [template.data_var(n) for n in downloaded.data_var_names])
    assert isinstance(read[ANY_WINDOW], ValueError)
    assert str(read[ANY_WINDOW]) == dict(downloaded.selection_errors)[ANY_WINDOW]
    latitudes, longitudes = gfs_grid(RESOLUTION)
    expected = expected_field("temperature_2m", INITS[0], 7, latitudes, longitudes)
    assert np.abs(read["temperature_2m"] - expected).max() <= packing_tolerance(expected)
    # at leads 1-6 the two identical lines are one field: one message fetched
    downloaded = job.download_file(coord(3, ANY_WINDOW))
    assert downloaded.selection_errors == ()
    read = job.read_file(downloaded, [template.data_var(ANY_WINDOW)])[ANY_WINDOW]
    expected = expected_accumulation(INITS[0], 0, 3, latitudes, longitudes)
    assert np.abs(read - expected).max() <= packing_tolerance(expected)
    assert (
        downloaded.downloaded_path.stat().st_size
        < (archive / gfs_file_path(INITS[0], np.timedelta64(3, "h"))).stat().st_size / 10
    )
