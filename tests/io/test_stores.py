"""Zarr v3 stores from paths and URLs: local stores stay local, URLs go through obstore."""

import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore, MemoryStore, ObjectStore

from climaflow.io import open_store
from climaflow.io.stores import copy_keys, open_array_for_writing, store_exists
from climaflow.testing.http_server import serve_directory

VALUES = np.arange(24, dtype="f4").reshape(4, 6)


@pytest.fixture
def local_zarr(tmp_path):
    path = tmp_path / "data.zarr"
    group = zarr.open_group(LocalStore(path), mode="w", zarr_format=3)
    group.create_array("x", shape=(4, 6), chunks=(2, 3), dtype="f4")[:] = VALUES
    return path


def test_local_paths_open_as_local_stores(local_zarr):
    for spelling in (local_zarr, str(local_zarr), f"file://{local_zarr}"):
        store = open_store(spelling)
        assert isinstance(store, LocalStore)
        assert store_exists(store)
    given = MemoryStore()
    assert open_store(given) is given
    assert not store_exists(given)


def test_a_store_over_http_reads_like_the_local_one(local_zarr):
    with serve_directory(local_zarr.parent) as server:
        server.add_fault("/data.zarr/zarr.json", "status", status=503, times=1)
        store = open_store(f"{server.url}/data.zarr", read_only=True)
        assert isinstance(store, ObjectStore)
        values = zarr.open_group(store, mode="r")["x"][:]
        statuses = [r.status for r in server.requests_for("/data.zarr/zarr.json")]
    np.testing.assert_array_equal(values, VALUES)
    assert statuses[:2] == [503, 200]  # retried by obstore


def test_storage_options_reach_the_object_store():
    options = {"client_options": {"timeout": "7s"}, "retry_config": {"max_retries": 9}}
    store = open_store("http://127.0.0.1:9/data.zarr", storage_options=options)
    assert isinstance(store, ObjectStore)
    assert store.store.client_options["timeout"] == "7s"
    assert str(store.store.client_options["allow_http"]).lower() == "true"
    assert store.store.retry_config["max_retries"] == 9


def test_keys_are_copied_and_arrays_opened_for_writing(local_zarr, tmp_path):
    copy = tmp_path / "copy.zarr"
    copy_keys(open_store(local_zarr), open_store(copy))
    array = open_array_for_writing(copy, "x")
    array[0, :] = -1
    assert zarr.open_array(LocalStore(copy), path="x", mode="r")[0, 0] == -1
    assert zarr.open_array(LocalStore(local_zarr), path="x", mode="r")[0, 0] == 0
    with pytest.raises(KeyError, match="absent"):
        copy_keys(open_store(local_zarr), MemoryStore(), ["absent"])
