"""Fault injection for :class:`~climaflow.testing.http_server.LoopbackServer`.

A :class:`FaultRule` names the requests it applies to (a URL path pattern, methods, a number of
times) and what happens to them:

=================  ======================================================================
kind               effect on a matching request
=================  ======================================================================
``"status"``       answer with ``status`` (e.g. 503, 500, 404) and a short text body
``"delay"``        sleep ``seconds`` before answering normally (to trigger client timeouts)
``"truncate"``     announce the full ``Content-Length`` but send only ``truncate_to`` bytes of
                   the body (default: half), then close the connection
``"reset"``        close the connection without sending any response
``"ignore_range"`` answer a request that has a ``Range`` header with the whole file and
                   status 200 (requests without ``Range`` do not match this kind)
=================  ======================================================================

A server keeps its rules in a :class:`FaultRuleList`, which decides which rules a request
consumes; the answers of the ``"status"``, ``"ignore_range"`` and ``"truncate"`` kinds are
built here too.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, get_args

from aiohttp import hdrs, web

from climaflow.testing.http_server.records import BYTES_SENT

__all__ = [
    "FaultKind",
    "FaultRule",
    "FaultRuleList",
    "send_truncated",
    "status_response",
    "whole_file_response",
]

FaultKind = Literal["status", "delay", "truncate", "reset", "ignore_range"]
_FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))


@dataclass
class FaultRule:
    """A fault to inject into the next ``times`` requests whose path matches ``pattern``.

    Attributes
    ----------
    pattern
        A glob (:func:`fnmatch.fnmatchcase` against the whole URL path, where ``*`` also matches
        ``/``; a glob without a leading ``/`` is matched against the path without it) or a
        compiled regular expression (:meth:`re.Pattern.search` against the URL path).
    kind
        One of ``"status"``, ``"delay"``, ``"truncate"``, ``"reset"``, ``"ignore_range"``.
    times
        How many matching requests this rule still applies to; ``None`` means forever.
    status
        Status code for ``kind="status"``.
    seconds
        Sleep before answering, for ``kind="delay"``.
    truncate_to
        Number of body bytes actually sent for ``kind="truncate"`` (``None``: half the body).
    methods
        Only requests with one of these methods match (upper case); ``None`` matches all.
    hits
        How many requests this rule has been applied to so far.

    Raises
    ------
    ValueError
        On construction, for an unknown ``kind``, ``times < 1``, a ``"status"`` rule whose
        ``status`` is not an error (400..599), a ``"delay"`` rule without ``seconds > 0``, or
        a negative ``truncate_to``.
    """

    pattern: str | re.Pattern[str]
    kind: FaultKind
    times: int | None = 1
    status: int = 503
    seconds: float = 0.0
    truncate_to: int | None = None
    methods: frozenset[str] | None = None
    hits: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(_FAULT_KINDS)}"
            )
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be >= 1 or None, got {self.times}")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError(f"status faults need an error status 400..599, got {self.status}")
        if self.kind == "delay" and self.seconds <= 0:
            raise ValueError(f"delay faults need seconds > 0, got {self.seconds}")
        if self.truncate_to is not None and self.truncate_to < 0:
            raise ValueError(f"truncate_to must be >= 0, got {self.truncate_to}")

    def matches(self, method: str, path: str, has_range: bool) -> bool:
        """Whether this rule still applies to a request with this method and path."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.kind == "ignore_range" and not has_range:
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(path) is not None
        target = path if self.pattern.startswith("/") else path.lstrip("/")
        return fnmatch.fnmatchcase(target, self.pattern)


class FaultRuleList:
    """The fault rules of one server, in the order they are tried; safe to share between threads.

    For each request, every matching ``"delay"`` rule is applied (sleeps add up) and then the
    first matching rule of any other kind decides the answer; each applied rule counts one hit.
    A rule whose ``times`` are used up no longer matches but stays listed until :meth:`clear`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Try ``rule`` after the rules already listed."""
        with self._lock:
            self._rules.append(rule)

    def remove(self, rule: FaultRule) -> None:
        """Remove ``rule`` (the very object; no error if it is not listed)."""
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def clear(self) -> None:
        """Remove all rules."""
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[FaultRule]:
        """A new list of the rules, in the order they are tried."""
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str, has_range: bool) -> tuple[float, FaultRule | None]:
        """Consume the rules that apply to a request.

        Returns
        -------
        delay : float
            Total seconds of the matching ``"delay"`` rules (0 when none match).
        decisive : FaultRule or None
            The first matching rule of another kind, or ``None`` for a normal answer.
        """
        delay = 0.0
        decisive: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path, has_range):
                    continue
                if rule.kind == "delay":
                    rule.hits += 1
                    delay += rule.seconds
                elif decisive is None:
                    rule.hits += 1
                    decisive = rule
        return delay, decisive


def status_response(status: int) -> web.Response:
    """The answer of a ``"status"`` fault: ``status`` with a short text body."""
    body = f"{status} injected fault\n".encode()
    return web.Response(status=status, body=body, content_type="text/plain")


async def whole_file_response(file_path: Path) -> web.Response:
    """The answer of an ``"ignore_range"`` fault: status 200 with the whole file."""
    data = await asyncio.get_running_loop().run_in_executor(None, file_path.read_bytes)
    response = web.Response(status=200, body=data)
    response.headers[hdrs.ACCEPT_RANGES] = "bytes"
    response.content_type = "application/octet-stream"
    return response


async def send_truncated(
    request: web.Request, file_path: Path, truncate_to: int | None
) -> NoReturn:
    """Announce the full body length, send only part of it, then close the connection.

    The answer is what a normal one would be (200 with the whole file, or 206 with the
    requested bytes and ``Content-Range``), but only ``truncate_to`` bytes of its body (``None``:
    half) are sent. It carries the ``ETag`` the file's normal answers carry, as real servers do,
    so a client may resume the transfer with a ``Range`` request for the rest.

    Raises
    ------
    asyncio.CancelledError
        Always, once the connection is closed: aiohttp then ends the handler quietly.
    """
    data = await asyncio.get_running_loop().run_in_executor(None, file_path.read_bytes)
    status, headers, start, stop = _answer_shape(request, file_path, len(data))
    data = data[start:stop]
    keep = len(data) // 2 if truncate_to is None else min(truncate_to, len(data))
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(data)
    request[BYTES_SENT] = keep
    await response.prepare(request)
    if request.method != "HEAD":
        await response.write(data[:keep])
    # close() flushes what was written before closing, unlike abort().
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError


def _answer_shape(
    request: web.Request, file_path: Path, size: int
) -> tuple[int, dict[str, str], int, int]:
    """Status, headers and body slice ``[start, stop)`` of a normal answer to ``request``."""
    stat = file_path.stat()
    headers: dict[str, str] = {
        hdrs.ACCEPT_RANGES: "bytes",
        hdrs.CONTENT_TYPE: "application/octet-stream",
        hdrs.ETAG: f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',  # as aiohttp's FileResponse
    }
    if hdrs.RANGE not in request.headers:
        return 200, headers, 0, size
    try:
        start, stop, _ = request.http_range.indices(size)
    except ValueError:
        return 200, headers, 0, size
    headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{stop - 1}/{size}"
    return 206, headers, start, stop
