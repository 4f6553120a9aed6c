"""Run records: what each reformat run did to every source file, kept next to the store.

Each run writes ``{store}.runs/{UTC time}-{run id}.json`` (beside ``{store}``, not inside
it, so Zarr readers never see it; beside an Icechunk repository's directory or prefix) with the dataset, the region, and every source file's
status, URL (without query string) and error. ``climaflow verify`` lists the failed files
of every recorded run, so holes can be re-filled by re-running only their regions.

A record is written whole or not at all (:func:`climaflow.io.write_object`): beside a local
store by an atomic rename, on an object store by a single ``PUT``. So every record that can be
read is complete.
"""

import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from zarr.storage import LocalStore

from climaflow import __version__
from climaflow.io import StoreLike, list_objects, read_bytes, write_object
from climaflow.io.icechunk_stores import is_icechunk_url, repository_location

RECORD_SUFFIX = ".runs"


def runs_location(store: StoreLike) -> str | None:
    """Where run records of ``store`` go; ``None`` for stores without a path (in memory)."""
    if isinstance(store, LocalStore):
        return f"{store.root}{RECORD_SUFFIX}"
    if is_icechunk_url(store):
        return f"{repository_location(os.fspath(store)).rstrip('/')}{RECORD_SUFFIX}"
    if isinstance(store, str | os.PathLike):
        return f"{os.fspath(store).rstrip('/')}{RECORD_SUFFIX}"
    return None


def write_run_record(
    store: StoreLike,
    record: dict[str, Any],
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> str | None:
    """Write ``record`` (plus time and version) as a new JSON file; return its location.

    ``storage_options`` are the store's (see :func:`climaflow.io.write_object`).
    """
    location = runs_location(store)
    if location is None:
        return None
    now = datetime.now(UTC)
    run_id = uuid.uuid4().hex[:8]
    full = {
        "run_id": run_id,
        "finished": now.isoformat(),
        "climaflow_version": __version__,
        **record,
    }
    name = f"{location}/{now:%Y%m%dT%H%M%S%fZ}-{run_id}.json"  # sorts by time
    write_object(
        name, json.dumps(full, indent=1, default=str).encode(), storage_options=storage_options
    )
    return name


def read_run_records(
    store: StoreLike, *, storage_options: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every complete run record of ``store``, oldest first (``storage_options``: the
    store's, see :func:`climaflow.io.read_bytes`)."""
    location = runs_location(store)
    if location is None:
        return []
    names = [
        name
        for name in list_objects(location, storage_options=storage_options)
        if name.endswith(".json")
    ]
    return [json.loads(read_bytes(name, storage_options=storage_options)) for name in names]
