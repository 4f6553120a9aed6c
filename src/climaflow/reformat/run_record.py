"""Run records: what each reformat run did to every source file, kept next to the store.

Each run writes ``{store}.runs/{UTC time}-{run id}.json`` (beside ``{store}``, not inside
it, so Zarr readers never see it) with the dataset, the region, and every source file's
status, URL (without query string) and error. ``climaflow verify`` lists the failed files
of every recorded run, so holes can be re-filled by re-running only their regions.
"""

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import fsspec
from zarr.storage import LocalStore

from climaflow import __version__
from climaflow.reformat.store import StoreLike

RECORD_SUFFIX = ".runs"


def runs_location(store: StoreLike) -> str | None:
    """Where run records of ``store`` go; ``None`` for stores without a path (in memory)."""
    if isinstance(store, LocalStore):
        return f"{store.root}{RECORD_SUFFIX}"
    if isinstance(store, str | os.PathLike):
        return f"{os.fspath(store).rstrip('/')}{RECORD_SUFFIX}"
    return None


def write_run_record(store: StoreLike, record: dict[str, Any]) -> str | None:
    """Write ``record`` (plus time and version) as a new JSON file; return its location."""
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
    fs, directory = fsspec.core.url_to_fs(location)
    fs.makedirs(directory, exist_ok=True)
    name = f"{directory}/{now:%Y%m%dT%H%M%S%fZ}-{run_id}.json"  # sorts by time
    temporary = f"{name}.partial"
    with fs.open(temporary, "w") as f:
        json.dump(full, f, indent=1, default=str)
    fs.mv(temporary, name)  # a record that exists is complete
    return name


def read_run_records(store: StoreLike) -> list[dict[str, Any]]:
    """Every complete run record of ``store``, oldest first."""
    location = runs_location(store)
    if location is None:
        return []
    fs, directory = fsspec.core.url_to_fs(location)
    if not fs.exists(directory):
        return []
    records = []
    for name in sorted(fs.glob(f"{directory}/*.json")):
        with fs.open(name) as f:
            records.append(json.load(f))
    return records
