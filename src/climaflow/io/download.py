"""Source files onto the local disk: whole, or the concatenation of selected byte ranges.

Each worker process runs at most ``climaflow.download.max-concurrency-per-worker`` downloads
at once. Retries and timeouts are obstore's (see :mod:`climaflow.io.settings`).
"""

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from climaflow import config
from climaflow.io.atomic import atomic_path
from climaflow.io.errors import DownloadError
from climaflow.io.objects import ByteRange, is_local, local_path, read_ranges, save_object

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _download_slot(limit: int) -> threading.BoundedSemaphore:
    """This process's semaphore bounding concurrent downloads (one per limit value)."""
    with _slots_lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


def download(
    url: str,
    destination: Path,
    byte_ranges: Sequence[ByteRange] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> Path:
    """Download ``url`` (whole, or the concatenation of ``byte_ranges``) to ``destination``.

    Parameters
    ----------
    url
        A local path, ``file://``, ``http(s)://``, ``s3://``... URL.
    destination
        Where the bytes go; its directory is created if needed.
    byte_ranges
        ``[start, end)`` ranges (``end=None``: to the end), fetched concurrently and written
        in the order given; ``None`` for the whole object.
    storage_options
        Store options (see :mod:`climaflow.io.objects`).

    Returns
    -------
    Path
        ``destination``, complete (written atomically); or, for a local source fetched whole,
        the source's own path: it is not copied.

    Raises
    ------
    DownloadError
        When the object cannot be fetched; ``not_found`` is set for a missing one.
    """
    if is_local(url) and byte_ranges is None:
        path = local_path(url)
        if not path.is_file():
            raise DownloadError(f"{url}: not found", not_found=True)
        return path
    with _download_slot(int(config.get("download.max-concurrency-per-worker"))):
        if byte_ranges is None:
            return save_object(url, destination, storage_options=storage_options)
        parts = read_ranges(url, byte_ranges, storage_options=storage_options)
        with atomic_path(destination) as temporary, temporary.open("wb") as out:
            out.writelines(parts)
    return destination
