"""The integrations' downloads use the region job's ``source_storage_options``.

GFS reads each ``.idx`` inventory and then byte ranges of its GRIB2 file; NEX-GDDP tries
each version of a yearly file. Both run on real workers, against real HTTP servers.
"""

from pathlib import Path

import numpy as np
import pytest

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.datasets.gfs_forecast.source_file_coord import gfs_file_path
from climaflow.datasets.nex_gddp_cmip6.region_job import NexGddpRegionJob
from climaflow.reformat.runner import reformat
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.http_server import LoopbackServer, serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive
from tests.datasets.nex_gddp_cmip6.test_region_job import small_template
from tests.reformat.token_server import TokenServer

INIT = np.datetime64("2024-01-01T00", "ns")
LEADS = (0, 1, 2, 3)
INVENTORY_FAULT = f"/{gfs_file_path(INIT, np.timedelta64(1, 'h'))}.idx"
MESSAGE_FAULT = f"/{gfs_file_path(INIT, np.timedelta64(2, 'h'))}"


@pytest.fixture(scope="module")
def gfs_archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gfs")
    write_synthetic_gfs_archive(root, [INIT], LEADS, 5.0)
    return root


def reformat_gfs(client, server: LoopbackServer, store: Path, **options):
    """One init time of temperature_2m, after one 503 on an inventory and on a message."""
    server.add_fault(INVENTORY_FAULT, "status", status=503, times=1)
    server.add_fault(MESSAGE_FAULT, "status", status=503, times=1)
    return reformat(
        make_gfs_template(
            resolution_degrees=5.0,
            lead_times_hours=LEADS,
            init_time_start=INIT,
            chunks=(1, 4, 37, 36),
            shards=(1, 4, 37, 72),
        ),
        GfsForecastRegionJob,
        store,
        start=INIT,
        end=INIT + np.timedelta64(6, "h"),
        data_vars=["temperature_2m"],
        client=client,
        source_url=server.url,
        download_dir=store.parent / "downloads",
        **options,
    )


def test_gfs_inventories_and_messages_are_read_with_the_jobs_retry_config(
    client, gfs_archive, tmp_path
):
    with serve_directory(gfs_archive) as server:
        result = reformat_gfs(
            client,
            server,
            tmp_path / "no-retries.zarr",
            source_storage_options={"retry_config": {"max_retries": 0}},
        )
        inventory = [(r.status, r.range) for r in server.requests_for(INVENTORY_FAULT)]
        message = [(r.status, r.range is not None) for r in server.requests_for(MESSAGE_FAULT)]
        errors = {
            record["url"].removeprefix(server.url): record["error"]
            for record in result.failed_files
        }

    assert result.status_counts() == {
        "temperature_2m": {"download_failed": 2, "succeeded": len(LEADS) - 2}
    }
    assert errors.keys() == {INVENTORY_FAULT.removesuffix(".idx"), MESSAGE_FAULT}
    assert all(error.endswith(": HTTP 503 Service Unavailable") for error in errors.values())
    assert inventory == [(503, None)]  # not retried: the option reached read_bytes
    assert message == [(503, True)]  # not retried: the option reached the ranged download


def test_gfs_without_options_retries_the_same_faults(client, gfs_archive, tmp_path):
    with serve_directory(gfs_archive) as server:
        result = reformat_gfs(client, server, tmp_path / "default.zarr")
        inventory = [r.status for r in server.requests_for(INVENTORY_FAULT)]
        message = [r.status for r in server.requests_for(MESSAGE_FAULT)]

    assert result.status_counts() == {"temperature_2m": {"succeeded": len(LEADS)}}
    assert inventory == [503, 200]
    assert message == [503, 206]


@pytest.mark.parametrize("token", ["nex-token", None], ids=["with-token", "without"])
def test_nex_gddp_downloads_carry_the_jobs_credentials(client, tmp_path, token):
    write_synthetic_nex_gddp_archive(
        tmp_path / "nex", variables=("tas",), years=(1950, 1951), resolution_degrees=10.0
    )
    options = (
        {"client_options": {"default_headers": {"Authorization": f"Bearer {token}"}}}
        if token
        else {}
    )
    with TokenServer(tmp_path / "nex", "nex-token") as server:
        result = reformat(
            small_template(variables=("tas",)),
            NexGddpRegionJob,
            tmp_path / "nex.zarr",
            start=1950,
            end=1952,
            client=client,
            source_url=server.url,
            download_dir=tmp_path / "downloads",
            source_storage_options=options,
        )

    if token:
        assert result.status_counts() == {"tas": {"succeeded": 2}}
        # every version tried (_v2.0 and _v1.1 are absent: 404), each with the token
        assert {(r.authorization, r.status) for r in server.requests} == {
            ("Bearer nex-token", 404),
            ("Bearer nex-token", 200),
        }
        assert len(server.requests) == 2 * 3
    else:
        assert result.status_counts() == {"tas": {"download_failed": 2}}
        assert all("HTTP 401 Unauthorized" in r["error"] for r in result.failed_files)
        assert {(r.authorization, r.status) for r in server.requests} == {(None, 401)}
