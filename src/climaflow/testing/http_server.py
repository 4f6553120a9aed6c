"""A loopback HTTP file server with fault injection, for tests and the demo.

The server serves the files under one directory on ``127.0.0.1`` at an ephemeral port, from a
background thread that runs its own asyncio event loop. It is built on aiohttp, whose
:class:`aiohttp.web.FileResponse` honours ``Range`` requests (``206 Partial Content`` with a
``Content-Range`` header), which Python's :mod:`http.server` does not.

Every request is logged (:attr:`LoopbackServer.requests`), and faults can be injected per URL path
(:meth:`LoopbackServer.add_fault`) to exercise a client's retry and timeout logic:

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

Examples
--------
>>> with serve_directory(root) as server:  # doctest: +SKIP
...     server.add_fault("*.idx", "status", status=503, times=2)
...     urllib.request.urlopen(f"{server.url}/gfs.t00z.pgrb2.0p25.f000.idx")
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import unquote

from aiohttp import hdrs, web

__all__ = [
    "FaultKind",
    "FaultRule",
    "LoopbackServer",
    "RequestRecord",
    "serve_directory",
]

FaultKind = Literal["status", "delay", "truncate", "reset", "ignore_range"]
_FAULT_KINDS: frozenset[str] = frozenset({"status", "delay", "truncate", "reset", "ignore_range"})

_STOP_TIMEOUT_SECONDS = 1.0


def _request_key(name: str, kind: type) -> Any:
    """A key for per-request state in the aiohttp request mapping (typed where supported)."""
    factory = getattr(web, "RequestKey", None)  # aiohttp >= 3.12
    return factory(name, kind) if factory is not None else name


_ARRIVED = _request_key("climaflow.arrived", float)
_PATH = _request_key("climaflow.path", str)
_FAULT = _request_key("climaflow.fault", str)
_SENT = _request_key("climaflow.bytes_sent", int)


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
    """

    pattern: str | re.Pattern[str]
    kind: FaultKind
    times: int | None = 1
    status: int = 503
    seconds: float = 0.0
    truncate_to: int | None = None
    methods: frozenset[str] | None = None
    hits: int = field(default=0)

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


class LoopbackServer:
    """Serve the files under ``root`` over HTTP on ``127.0.0.1``, with logging and faults.

    The server runs in a daemon thread with its own event loop. It is started by :meth:`start`
    or by entering it as a context manager, and stopped by :meth:`stop` (or leaving the
    context): stopping closes all connections, cancels pending (e.g. delayed) handlers and joins
    the thread, within about a second.

    ``GET`` and ``HEAD`` on ``/relative/path`` answer the file ``root/relative/path``: 200 with
    the whole file, or 206 with exactly the requested bytes and ``Content-Range`` for a
    single-range ``Range`` header (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``), 416 for an
    unsatisfiable range, and 404 for anything that is not a regular file inside ``root``.

    Parameters
    ----------
    root
        Directory whose files are served. It must exist.
    port
        Port to bind on ``127.0.0.1``; 0 (the default) picks a free ephemeral port.

    Attributes
    ----------
    root
        The served directory, resolved to an absolute path.
    """

    def __init__(self, root: str | Path, *, port: int = 0) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"not a directory: {self.root}")
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._faults: list[FaultRule] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        """Whether the server thread is up and serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The bound TCP port. Raises ``RuntimeError`` when the server is not running."""
        if self._port is None:
            raise RuntimeError("server is not running")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``"http://127.0.0.1:54321"``."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, relative_path: str | Path) -> str:
        """URL of a file given by its path relative to :attr:`root` (or an absolute path in it)."""
        path = Path(relative_path)
        if path.is_absolute():
            path = path.resolve().relative_to(self.root)
        return f"{self.url}/{path.as_posix().lstrip('/')}"

    def start(self) -> Self:
        """Bind the socket and start serving in a background thread; returns ``self``.

        Raises ``RuntimeError`` if the server is already running.
        """
        if self.running:
            raise RuntimeError("server is already running")
        loop = asyncio.new_event_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", self._requested_port))
        except OSError:
            sock.close()
            loop.close()
            raise
        self._port = sock.getsockname()[1]
        thread = threading.Thread(
            target=loop.run_forever, name=f"LoopbackServer:{self._port}", daemon=True
        )
        self._loop = loop
        self._thread = thread
        thread.start()
        future = asyncio.run_coroutine_threadsafe(self._setup(sock), loop)
        try:
            future.result(timeout=10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, close all connections and join the thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._teardown(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=_STOP_TIMEOUT_SECONDS)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=_STOP_TIMEOUT_SECONDS)
        if not thread.is_alive():
            loop.close()
        self._loop = None
        self._thread = None
        self._runner = None
        self._port = None

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _setup(self, sock: socket.socket) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle, allow_head=True)
        app.on_response_prepare.append(self._on_response_prepare)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    async def _teardown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
        # Let cancelled handlers and closed transports finish their callbacks.
        await asyncio.sleep(0)
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=0.2)
        # Also stop the executor threads FileResponse uses to open files.
        loop = asyncio.get_running_loop()
        await loop.shutdown_default_executor()

    # ------------------------------------------------------------------------ request log

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot (a new list) of the requests logged so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget all logged requests."""
        with self._lock:
            self._requests.clear()

    def requests_for(self, path: str) -> list[RequestRecord]:
        """Logged requests whose URL path equals ``path`` (a leading ``/`` is optional)."""
        wanted = "/" + path.lstrip("/")
        return [r for r in self.requests if r.path == wanted]

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    # ----------------------------------------------------------------------------- faults

    def add_fault(
        self,
        pattern: str | re.Pattern[str],
        kind: FaultKind,
        *,
        times: int | None = 1,
        status: int = 503,
        seconds: float = 0.0,
        truncate_to: int | None = None,
        methods: tuple[str, ...] | None = None,
    ) -> FaultRule:
        """Inject a fault into the next ``times`` requests whose URL path matches ``pattern``.

        Rules are tried in the order they were added. For each request, every matching
        ``"delay"`` rule is applied (sleeps add up) and then the first matching rule of any other
        kind decides the answer; each applied rule counts one hit. A rule whose ``times`` are
        used up no longer matches but stays listed until :meth:`clear_faults`.

        Parameters
        ----------
        pattern
            A glob string matched against the whole URL path (``"*.idx"``, ``"/gfs.*/00/*"``;
            ``*`` also matches ``/``) or a compiled regex searched in the URL path.
        kind
            ``"status"``, ``"delay"``, ``"truncate"``, ``"reset"`` or ``"ignore_range"`` (see
            the module docstring).
        times
            Number of matching requests to affect; ``None`` for all of them. Must be >= 1.
        status
            Status code for ``"status"`` faults (400..599).
        seconds
            Sleep duration for ``"delay"`` faults.
        truncate_to
            Body bytes actually sent by ``"truncate"`` faults; ``None`` sends half the body.
            Must be smaller than the body to truncate anything.
        methods
            Restrict the rule to these HTTP methods, e.g. ``("GET",)``.

        Returns
        -------
        FaultRule
            The rule, whose ``hits`` attribute counts the requests it was applied to.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        if kind == "status" and not 400 <= status <= 599:
            raise ValueError(f"status faults need an error status 400..599, got {status}")
        if kind == "delay" and seconds <= 0:
            raise ValueError(f"delay faults need seconds > 0, got {seconds}")
        if truncate_to is not None and truncate_to < 0:
            raise ValueError(f"truncate_to must be >= 0, got {truncate_to}")
        rule = FaultRule(
            pattern=pattern,
            kind=kind,
            times=times,
            status=status,
            seconds=seconds,
            truncate_to=truncate_to,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
        )
        with self._lock:
            self._faults.append(rule)
        return rule

    def remove_fault(self, rule: FaultRule) -> None:
        """Remove one rule returned by :meth:`add_fault` (no error if already removed)."""
        with self._lock:
            self._faults = [r for r in self._faults if r is not rule]

    def clear_faults(self) -> None:
        """Remove all fault rules."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[FaultRule]:
        """A snapshot of the current fault rules, in the order they are tried."""
        with self._lock:
            return list(self._faults)

    def _take_faults(
        self, method: str, path: str, has_range: bool
    ) -> tuple[float, FaultRule | None]:
        """Consume the rules that apply to a request: (total delay, deciding rule or None)."""
        delay = 0.0
        decisive: FaultRule | None = None
        with self._lock:
            for rule in self._faults:
                if not rule.matches(method, path, has_range):
                    continue
                if rule.kind == "delay":
                    rule.hits += 1
                    delay += rule.seconds
                elif decisive is None:
                    rule.hits += 1
                    decisive = rule
        return delay, decisive

    # ----------------------------------------------------------------------------- serving

    def _resolve(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        path = unquote(request.rel_url.raw_path)
        range_header = request.headers.get(hdrs.RANGE)
        request[_ARRIVED] = time.monotonic()
        request[_PATH] = path
        delay, rule = self._take_faults(method, path, range_header is not None)

        if delay > 0:
            request[_FAULT] = "delay"
            assert self._stopping is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                self._log_request(request, None, 0)
                # Ending the handler with CancelledError makes aiohttp drop the connection
                # quietly (it treats it like a client disconnect), without logging an error.
                raise asyncio.CancelledError
        if rule is not None:
            request[_FAULT] = rule.kind

        if rule is not None and rule.kind == "status":
            body = f"{rule.status} injected fault\n".encode()
            return web.Response(status=rule.status, body=body, content_type="text/plain")

        if rule is not None and rule.kind == "reset":
            self._log_request(request, None, 0)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError

        file_path = self._resolve(path)
        if file_path is None:
            return web.Response(status=404, body=b"404 not found\n", content_type="text/plain")

        if rule is not None and rule.kind == "ignore_range":
            data = await asyncio.get_running_loop().run_in_executor(None, file_path.read_bytes)
            response = web.Response(status=200, body=data)
            response.headers[hdrs.ACCEPT_RANGES] = "bytes"
            response.content_type = "application/octet-stream"
            return response

        if rule is not None and rule.kind == "truncate":
            return await self._truncated(request, file_path, rule)

        return web.FileResponse(file_path)

    async def _truncated(
        self, request: web.Request, file_path: Path, rule: FaultRule
    ) -> web.StreamResponse:
        """Announce the full body length, send only part of it, then close the connection.

        The answer carries the ``ETag`` the file's normal answers carry, as real servers do,
        so a client may resume the transfer with a ``Range`` request for the rest.
        """
        data = await asyncio.get_running_loop().run_in_executor(None, file_path.read_bytes)
        size = len(data)
        status = 200
        stat = file_path.stat()
        headers = {
            hdrs.ACCEPT_RANGES: "bytes",
            hdrs.CONTENT_TYPE: "application/octet-stream",
            hdrs.ETAG: f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',  # as aiohttp's FileResponse
        }
        if hdrs.RANGE in request.headers:
            try:
                start, stop, _ = request.http_range.indices(size)
            except ValueError:
                start, stop = 0, size
            else:
                status = 206
                headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{stop - 1}/{size}"
            data = data[start:stop]
        keep = len(data) // 2 if rule.truncate_to is None else min(rule.truncate_to, len(data))
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(data)
        request[_SENT] = keep
        await response.prepare(request)
        if request.method != "HEAD":
            await response.write(data[:keep])
        # close() flushes what was written before closing, unlike abort().
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError

    async def _on_response_prepare(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Log each answer just before its headers are sent, so the log is complete by the time
        a client has seen the response."""
        if request.method == "HEAD" or response.status in (204, 304):
            sent = 0
        else:
            sent = request.get(_SENT, response.content_length or 0)
        self._log_request(request, response.status, sent)

    def _log_request(self, request: web.Request, status: int | None, sent: int) -> None:
        self._log(
            RequestRecord(
                method=request.method,
                path=request.get(_PATH, unquote(request.rel_url.raw_path)),
                range=request.headers.get(hdrs.RANGE),
                status=status,
                bytes_sent=sent,
                fault=request.get(_FAULT),
                time=request.get(_ARRIVED, time.monotonic()),
            )
        )


def serve_directory(root: str | Path, *, port: int = 0) -> LoopbackServer:
    """Create a (not yet started) :class:`LoopbackServer` for ``root``.

    Use it as a context manager, which starts the server on entry and stops it on exit::

        with serve_directory(tmp_path) as server:
            fs = fsspec.filesystem("http")
            fs.cat_file(f"{server.url}/a.grib2", start=0, end=4)

    Parameters
    ----------
    root
        Directory to serve.
    port
        Port on ``127.0.0.1`` (0: a free ephemeral port).
    """
    return LoopbackServer(root, port=port)
