"""Objects behind URLs or local paths, through obstore: whole, by byte ranges, or their size.

A URL's scheme picks the store: a plain path or ``file://`` a ``LocalStore``, ``http(s)://``
an ``HTTPStore`` (plain GETs, also for ``*.amazonaws.com`` hosts), anything else
(``s3://``, ``gs://``, ``az://``, ``memory://``) :func:`obstore.store.from_url`. Retries,
backoff and timeouts are obstore's, configured by :mod:`climaflow.io.settings`.

``storage_options`` configure the store: ``client_options`` and ``retry_config`` are merged
over climaflow's (e.g. ``{"client_options": {"timeout": "5 min"}}``); any other key is the
store's own configuration (e.g. ``{"skip_signature": True, "region": "us-west-2"}`` for a
public S3 bucket). HTTP stores take only the first two.

Every function raises :class:`~climaflow.io.errors.DownloadError` naming the URL (without
query string) and the reason. A body cut short is resumed by obstore itself (a ``Range``
request for the rest, when the answer carried an ``ETag``, as real servers' do). One fault
obstore does not recover from is handled here: a server that answers a ``Range`` request
with the whole object (status 200) makes obstore refuse the answer, and the whole object is
fetched once more and sliced.

A byte range that reaches past the end of the object is an error, not a shorter answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import obstore
from obstore.exceptions import NotSupportedError
from obstore.store import HTTPStore, LocalStore, ObjectStore, from_url

from climaflow.io import settings
from climaflow.io.atomic import atomic_path, write_atomic
from climaflow.io.errors import DownloadError, reported_as_download_error
from climaflow.io.urls import redact_url

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

logger = logging.getLogger(__name__)

ByteRange = tuple[int, int | None]  # [start, end) with end None meaning "to the end"

_CHUNK_BYTES = 8 * 2**20  # smallest piece written to disk while streaming a whole object


def is_local(url: str | Path) -> bool:
    """Whether ``url`` names a file on this machine (a plain path or ``file://``)."""
    return "://" not in str(url) or str(url).startswith("file://")


def local_path(url: str | Path) -> Path:
    """The path of a local ``url`` (``file://`` removed)."""
    return Path(str(url).removeprefix("file://"))


def open_prefix(url: str, storage_options: Mapping[str, Any] | None = None) -> ObjectStore:
    """An obstore store whose root is ``url`` (its path is the store's prefix).

    Parameters
    ----------
    url
        A local directory, or a URL such as ``s3://bucket/path`` or ``https://host/path``. A
        query string of an HTTP(S) URL (a signed URL) is sent with every request.
    storage_options
        See the module docstring.

    Raises
    ------
    ValueError
        For options an HTTP store does not take.
    """
    options = dict(storage_options or {})
    client_options: ClientConfig = {
        **settings.client_options(url),
        **options.pop("client_options", {}),
    }
    retry_config: RetryConfig = {**settings.retry_config(), **options.pop("retry_config", {})}
    if is_local(url):
        return LocalStore(local_path(url), **options)
    if urlsplit(url).scheme in ("http", "https"):
        if options:
            raise ValueError(
                f"{redact_url(url)}: HTTP stores take only client_options and retry_config, "
                f"not {', '.join(sorted(options))}"
            )
        return HTTPStore(url, client_options=client_options, retry_config=retry_config)
    config: Any = options or None  # the store's own keys, checked by obstore
    return from_url(url, config=config, client_options=client_options, retry_config=retry_config)


@dataclass(frozen=True)
class ObjectLocation:
    """One object: the store holding it, its path in the store, and the URL it came from."""

    store: ObjectStore
    path: str
    url: str


def open_object(
    url: str | Path, storage_options: Mapping[str, Any] | None = None
) -> ObjectLocation:
    """Where the object at ``url`` lives: a store for its directory, host or bucket, and its path.

    Percent-escapes in a URL's path are decoded (obstore encodes paths itself).
    """
    url = str(url)
    if is_local(url):
        path = local_path(url).absolute()
        relative = path.relative_to(path.anchor).as_posix()
        return ObjectLocation(open_prefix(path.anchor, storage_options), relative, url)
    parts = urlsplit(url)
    root = urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))
    return ObjectLocation(open_prefix(root, storage_options), unquote(parts.path).lstrip("/"), url)


def read_bytes(
    url: str,
    byte_range: ByteRange | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> bytes:
    """The object at ``url``, or the bytes ``[start, end)`` of it, in memory."""
    if byte_range is not None:
        return read_ranges(url, [byte_range], storage_options=storage_options)[0]
    location = open_object(url, storage_options)
    with reported_as_download_error(url):
        return bytes(_get(location).bytes())


def read_ranges(
    url: str, byte_ranges: Sequence[ByteRange], *, storage_options: Mapping[str, Any] | None = None
) -> list[bytes]:
    """The bytes ``[start, end)`` of the object at ``url`` for every range, in order.

    Bounded ranges are fetched in one call of :func:`obstore.get_ranges`, which merges
    nearby ranges into one request and sends the requests concurrently; a range to the end
    (``end=None``) takes one more request.

    Raises
    ------
    DownloadError
        Also when a range reaches past the end of the object.
    """
    location = open_object(url, storage_options)
    with reported_as_download_error(url):
        parts = _fetch_ranges(location, byte_ranges)
    for (start, end), part in zip(byte_ranges, parts, strict=True):
        if end is not None and len(part) != end - start:
            raise DownloadError(
                f"{redact_url(url)}: asked for bytes {start}-{end - 1}, received {len(part)} "
                "bytes (the object is shorter)"
            )
    return parts


def save_object(
    url: str, destination: Path, *, storage_options: Mapping[str, Any] | None = None
) -> Path:
    """Stream the whole object at ``url`` to ``destination`` atomically; return ``destination``.

    See :func:`climaflow.io.atomic.atomic_path`: a ``destination`` that exists is complete.
    """
    location = open_object(url, storage_options)
    with (
        reported_as_download_error(url),
        atomic_path(destination) as temporary,
        temporary.open("wb") as out,
    ):
        for chunk in _get(location).stream(min_chunk_size=_CHUNK_BYTES):
            out.write(chunk)
    return destination


def object_size(url: str, *, storage_options: Mapping[str, Any] | None = None) -> int:
    """The size in bytes of the object at ``url`` (one ``HEAD`` request over HTTP)."""
    location = open_object(url, storage_options)
    with reported_as_download_error(url):
        return int(obstore.head(location.store, location.path)["size"])


def object_exists(url: str, *, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether there is an object at ``url``; other failures raise ``DownloadError``."""
    try:
        object_size(url, storage_options=storage_options)
    except DownloadError as error:
        if error.not_found:
            return False
        raise
    return True


def write_object(
    url: str, data: bytes, *, storage_options: Mapping[str, Any] | None = None
) -> None:
    """Store ``data`` as the whole object at ``url``: readers see the old object or the new one.

    A local path is written with :func:`~climaflow.io.atomic.write_atomic`; a remote object is
    one ``PUT``, which an object store applies whole.
    """
    if is_local(url):
        with reported_as_download_error(url):
            write_atomic(local_path(url), data)
        return
    location = open_object(url, storage_options)
    with reported_as_download_error(url):
        obstore.put(location.store, location.path, data)


def list_objects(url: str, *, storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """URLs (or paths) of the objects directly under ``url``, sorted; none if it is absent."""
    if is_local(url) and not local_path(url).is_dir():
        return []
    with reported_as_download_error(url):
        listed = obstore.list_with_delimiter(open_prefix(url, storage_options))["objects"]
    # An HTTP (WebDAV) store lists paths from the server's root, not from the URL's path.
    root = urlsplit(url).path.strip("/") + "/" if urlsplit(url).scheme in ("http", "https") else ""
    return sorted(f"{url.rstrip('/')}/{meta['path'].removeprefix(root)}" for meta in listed)


def _get(location: ObjectLocation, options: obstore.GetOptions | None = None) -> obstore.GetResult:
    return obstore.get(location.store, location.path, options=options)


def _fetch_ranges(location: ObjectLocation, byte_ranges: Iterable[ByteRange]) -> list[bytes]:
    byte_ranges = list(byte_ranges)
    bounded = [(start, end) for start, end in byte_ranges if end is not None]
    try:
        fetched = iter(
            obstore.get_ranges(
                location.store,
                location.path,
                starts=[start for start, _ in bounded],
                ends=[end for _, end in bounded],
            )
            if bounded
            else []
        )
        return [
            bytes(next(fetched))
            if end is not None
            else bytes(_get(location, {"range": {"offset": start}}).bytes())
            for start, end in byte_ranges
        ]
    except NotSupportedError:
        logger.info("%s ignored a Range request: fetching it whole", redact_url(location.url))
        whole = bytes(_get(location).bytes())
        return [whole[start:end] for start, end in byte_ranges]
