"""The request log of :class:`~climaflow.testing.http_server.LoopbackServer`.

A handler notes what it learns about a request in flight (arrival time, path, the fault that
shaped it, the body bytes it sends) in the aiohttp request mapping, under the keys below; one
:class:`RequestRecord` is built from them when the answer starts, or when the connection is
dropped without one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import hdrs, web

__all__ = [
    "ARRIVED",
    "BYTES_SENT",
    "FAULT",
    "PATH",
    "RequestLog",
    "RequestRecord",
    "record_of_answer",
    "record_of_dropped",
]


def _request_key(name: str, kind: type) -> Any:
    """A key for per-request state in the aiohttp request mapping (typed where supported)."""
    factory = getattr(web, "RequestKey", None)  # aiohttp >= 3.12
    return factory(name, kind) if factory is not None else name


ARRIVED = _request_key("climaflow.arrived", float)
PATH = _request_key("climaflow.path", str)
FAULT = _request_key("climaflow.fault", str)
BYTES_SENT = _request_key("climaflow.bytes_sent", int)


@dataclass(frozen=True)
class RequestRecord:
    """One request seen by the server.

    A request is logged just before its response headers are written (so the log is complete by
    the time a client sees a response), or when its connection is dropped without a response.

    Attributes
    ----------
    method
        HTTP method, e.g. ``"GET"`` or ``"HEAD"``.
    path
        URL path as requested, percent-decoded, always starting with ``/`` (no query string).
    range
        The raw ``Range`` request header, or ``None`` when the request had none.
    status
        Status code of the response, or ``None`` when the connection was closed without one
        (the ``"reset"`` fault).
    bytes_sent
        Number of body bytes the server sends: the ``Content-Length`` of a complete answer, 0
        for ``HEAD`` and dropped connections, and the bytes actually sent (fewer than the
        announced ``Content-Length``) for the ``"truncate"`` fault.
    fault
        The kind of the fault rule that shaped this answer, or ``None`` for a normal answer.
        When a delay was followed by another fault, the other fault's kind is recorded; a
        delayed request cut short by :meth:`LoopbackServer.stop` has ``status=None`` and
        ``fault="delay"``.
    time
        ``time.monotonic()`` when the request arrived.
    """

    method: str
    path: str
    range: str | None
    status: int | None
    bytes_sent: int
    fault: str | None = None
    time: float = 0.0


class RequestLog:
    """The records of the requests a server has seen, oldest first; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Add ``record`` at the end of the log."""
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """A new list of the records logged so far, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget all records."""
        with self._lock:
            self._records.clear()


def record_of_answer(request: web.Request, response: web.StreamResponse) -> RequestRecord:
    """The record of ``request``, answered by ``response`` whose headers are about to be sent.

    The body bytes sent are those a handler noted under :data:`BYTES_SENT` (a truncated body),
    else the response's ``Content-Length``; 0 for ``HEAD`` and bodiless statuses.
    """
    if request.method == "HEAD" or response.status in (204, 304):
        sent = 0
    else:
        sent = request.get(BYTES_SENT, response.content_length or 0)
    return _record(request, response.status, sent)


def record_of_dropped(request: web.Request) -> RequestRecord:
    """The record of ``request`` whose connection is closed without any response."""
    return _record(request, None, 0)


def _record(request: web.Request, status: int | None, bytes_sent: int) -> RequestRecord:
    return RequestRecord(
        method=request.method,
        path=request.get(PATH, unquote(request.rel_url.raw_path)),
        range=request.headers.get(hdrs.RANGE),
        status=status,
        bytes_sent=bytes_sent,
        fault=request.get(FAULT),
        time=request.get(ARRIVED, time.monotonic()),
    )
