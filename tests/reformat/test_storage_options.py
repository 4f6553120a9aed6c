"""Storage options through the whole pipeline: a private source bucket and a private store.

Both are real HTTP servers on loopback (:class:`TokenServer`) that answer 401 to any
request without their own bearer token and record the token every request carried. The
token is an obstore client option (``default_headers``): ``source_storage_options`` must
reach every download a region job makes on the workers, ``store_storage_options`` the
store's metadata, every shard write and the run record.
"""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from obstore.exceptions import UnauthenticatedError

from climaflow.reformat.runner import reformat
from tests.reformat.example_dataset import (
    DAY,
    START,
    VARIABLES,
    ExampleRegionJob,
    ExampleTemplate,
    expected_values,
    write_archive,
)
from tests.reformat.token_server import TokenServer

END = START + 8 * DAY  # two time shards of 4 days
TIMES = np.arange(START, END, DAY)
SOURCE_TOKEN, STORE_TOKEN = "source-token", "store-token"


def bearer(token: str) -> dict[str, dict[str, dict[str, str]]]:
    """Storage options sending ``Authorization: Bearer {token}`` with every request."""
    return {"client_options": {"default_headers": {"Authorization": f"Bearer {token}"}}}


def run(client, sources: TokenServer, store: TokenServer, tmp_path: Path, **options):
    return reformat(
        ExampleTemplate(),
        ExampleRegionJob,
        f"{store.url}/example.zarr",
        start=START,
        end=END,
        client=client,
        source_root=sources.url,
        download_dir=tmp_path / "downloads",
        **options,
    )


@pytest.fixture
def servers(tmp_path):
    write_archive(tmp_path / "sources", TIMES)
    with (
        TokenServer(tmp_path / "sources", SOURCE_TOKEN) as sources,
        TokenServer(tmp_path / "output", STORE_TOKEN) as store,
    ):
        yield sources, store


def test_each_token_reaches_every_request_of_its_side(client, servers, tmp_path):
    sources, store = servers
    result = run(
        client,
        sources,
        store,
        tmp_path,
        source_storage_options=bearer(SOURCE_TOKEN),
        store_storage_options=bearer(STORE_TOKEN),
    )

    assert result.status_counts() == {name: {"succeeded": len(TIMES)} for name in VARIABLES}
    assert {(r.method, r.authorization, r.status) for r in sources.requests} == {
        ("GET", f"Bearer {SOURCE_TOKEN}", 200)
    }
    assert len(sources.requests) == len(VARIABLES) * len(TIMES)  # every file, by the workers
    assert {r.authorization for r in store.requests} == {f"Bearer {STORE_TOKEN}"}
    assert 401 not in {r.status for r in store.requests}
    puts = {r.path for r in store.requests if r.method == "PUT"}
    assert "/example.zarr/zarr.json" in puts  # the template's metadata
    shards = {
        f"/example.zarr/{name}/c/{t}/0/{x}" for name in VARIABLES for t in (0, 1) for x in (0, 1)
    }
    assert shards <= puts  # every shard, written by the workers
    (record,) = [path for path in puts if path.startswith("/example.zarr.runs/")]
    assert result.record == f"{store.url}{record}"

    written = xr.open_zarr(tmp_path / "output" / "example.zarr")
    np.testing.assert_array_equal(
        written["temperature"].values, expected_values("temperature", TIMES)
    )


def test_without_the_stores_token_nothing_is_written(client, servers, tmp_path):
    sources, store = servers
    with pytest.raises(UnauthenticatedError, match=r"HEAD .*/example\.zarr/zarr\.json.* 401"):
        run(client, sources, store, tmp_path, source_storage_options=bearer(SOURCE_TOKEN))
    assert [(r.method, r.authorization, r.status) for r in store.requests] == [("HEAD", None, 401)]
    assert sources.requests == []
    assert not any((tmp_path / "output").iterdir())


def test_without_the_sources_token_every_file_fails_with_401(client, servers, tmp_path):
    sources, store = servers
    result = run(client, sources, store, tmp_path, store_storage_options=bearer(STORE_TOKEN))

    assert result.status_counts() == {name: {"download_failed": len(TIMES)} for name in VARIABLES}
    assert {record["error"].split(": ", 1)[1] for record in result.failed_files} == {
        "HTTP 401 Unauthorized"
    }
    assert {(r.authorization, r.status) for r in sources.requests} == {(None, 401)}
    written = xr.open_zarr(tmp_path / "output" / "example.zarr")
    assert np.isnan(written["temperature"].values).all()
