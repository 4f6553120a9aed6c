"""Fetching source files: whole files or selected byte ranges, with retries.

Any URL fsspec understands works (local paths, ``file://``, ``http(s)://``, ``s3://`` with
the ``s3`` extra). Transient failures (HTTP 5xx/429, timeouts, connection resets,
truncated bodies) are retried with exponential backoff; permanent ones (404, other 4xx)
are not. Files are written to a temporary name and renamed, so a path that exists is a
complete download. Each worker process runs at most
``climaflow.download.max-concurrency-per-worker`` downloads at once.
"""

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import aiohttp
import fsspec

from climaflow import config
from climaflow.reformat.urls import redact_url

logger = logging.getLogger(__name__)

T = TypeVar("T")
ByteRange = tuple[int, int | None]  # [start, end) with end None meaning "to the end of the file"

TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class DownloadError(Exception):
    """A source file could not be fetched; the message names the URL and the reason.

    ``not_found`` tells a missing file (404, no such path) from other failures.
    """

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class IncompleteResponseError(ConnectionError):
    """The server sent fewer or more bytes than asked for (treated as transient)."""


def is_local(url: str) -> bool:
    """Whether ``url`` names a file on this machine (a plain path or ``file://``)."""
    return "://" not in url or url.startswith("file://")


def is_transient(error: BaseException) -> bool:
    """Whether retrying might succeed: server errors, timeouts, resets, short bodies."""
    if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
        return False
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status in TRANSIENT_HTTP_STATUSES
    return isinstance(
        error,
        TimeoutError | asyncio.TimeoutError | aiohttp.ClientError | ConnectionError,
    )


def describe_error(error: BaseException, url: str = "") -> str:
    """A one-line reason for a run report."""
    if isinstance(error, FileNotFoundError):
        return "not found (HTTP 404)" if url.startswith(("http://", "https://")) else "not found"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status} {error.message}"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}".rstrip(": ")


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _download_slot(limit: int) -> threading.BoundedSemaphore:
    """This process's semaphore bounding concurrent downloads (one per limit value)."""
    with _slots_lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


def with_retries(fetch: Callable[[], T], url: str) -> T:
    """Call ``fetch`` until it succeeds, retrying transient errors with exponential backoff.

    Raises
    ------
    DownloadError
        On a permanent error, or when the retries are used up; the message names the URL
        (without query string) and the last reason.
    """
    retries = int(config.get("download.retries"))
    backoff = float(config.get("download.backoff-seconds"))
    for attempt in range(retries + 1):
        try:
            return fetch()
        except Exception as error:
            reason = describe_error(error, url)
            if not is_transient(error):
                raise DownloadError(
                    f"{redact_url(url)}: {reason}", not_found=isinstance(error, FileNotFoundError)
                ) from error
            if attempt == retries:
                raise DownloadError(
                    f"{redact_url(url)}: {reason} (gave up after {retries + 1} attempts)"
                ) from error
            delay = backoff * 2**attempt
            logger.info("Retrying %s in %.1f s after %s", redact_url(url), delay, reason)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    timeout = float(config.get("download.timeout-seconds"))
    options = {}
    if url.startswith(("http://", "https://")):
        options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(total=timeout)}
    return fsspec.core.url_to_fs(url, **options)


def read_bytes(url: str, byte_range: ByteRange | None = None) -> bytes:
    """Fetch ``url`` (or one byte range of it) into memory, with retries."""

    def fetch() -> bytes:
        fs, path = _filesystem(url)
        if byte_range is None:
            return fs.cat_file(path)
        start, end = byte_range
        data = fs.cat_file(path, start=start, end=end)
        if end is not None and len(data) != end - start:
            raise IncompleteResponseError(
                f"asked for bytes {start}-{end - 1}, received {len(data)} bytes"
            )
        return data

    return with_retries(fetch, url)


def download(url: str, destination: Path, byte_ranges: Sequence[ByteRange] | None = None) -> Path:
    """Download ``url`` (whole, or the concatenation of ``byte_ranges``) to ``destination``.

    A local source fetched whole is not copied: its own path is returned. Otherwise the
    bytes go to a temporary name beside ``destination`` that is renamed when complete.

    Raises
    ------
    DownloadError
        When the file cannot be fetched (see :func:`with_retries`).
    """
    if is_local(url) and byte_ranges is None:
        path = Path(url.removeprefix("file://"))
        if not path.is_file():
            raise DownloadError(f"{url}: not found", not_found=True)
        return path

    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.partial")
    with _download_slot(int(config.get("download.max-concurrency-per-worker"))):
        try:
            if byte_ranges is None:
                with_retries(lambda: _get_whole_file(url, temporary), url)
            else:
                with temporary.open("wb") as out:
                    for byte_range in byte_ranges:
                        out.write(read_bytes(url, byte_range))
            os.replace(temporary, destination)
        finally:
            temporary.unlink(missing_ok=True)
    return destination


def _get_whole_file(url: str, temporary: Path) -> None:
    fs, path = _filesystem(url)
    fs.get_file(path, str(temporary))
