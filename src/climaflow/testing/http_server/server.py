"""The loopback server itself: lifecycle, the request log and fault API, and request handling."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self
from urllib.parse import unquote

from aiohttp import hdrs, web

from climaflow.testing.http_server.faults import (
    FaultKind,
    FaultRule,
    FaultRuleList,
    send_truncated,
    status_response,
    whole_file_response,
)
from climaflow.testing.http_server.records import (
    ARRIVED,
    FAULT,
    PATH,
    RequestLog,
    RequestRecord,
    record_of_answer,
    record_of_dropped,
)

__all__ = ["LoopbackServer", "serve_directory"]

_STOP_TIMEOUT_SECONDS = 1.0


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
        self._log = RequestLog()
        self._faults = FaultRuleList()
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
        return self._log.snapshot()

    def clear_requests(self) -> None:
        """Forget all logged requests."""
        self._log.clear()

    def requests_for(self, path: str) -> list[RequestRecord]:
        """Logged requests whose URL path equals ``path`` (a leading ``/`` is optional)."""
        wanted = "/" + path.lstrip("/")
        return [r for r in self.requests if r.path == wanted]

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

        Rules are tried in the order they were added, as :class:`FaultRuleList` describes; the
        fault kinds are described in :mod:`climaflow.testing.http_server.faults`.

        Parameters
        ----------
        pattern
            A glob string matched against the whole URL path (``"*.idx"``, ``"/gfs.*/00/*"``;
            ``*`` also matches ``/``) or a compiled regex searched in the URL path.
        kind
            ``"status"``, ``"delay"``, ``"truncate"``, ``"reset"`` or ``"ignore_range"``.
        times
            Number of matching requests to affect; ``None`` for all of them. Must be >= 1.
        status, seconds, truncate_to
            Status code (400..599) of ``"status"`` faults, sleep of ``"delay"`` faults (> 0),
            body bytes sent by ``"truncate"`` faults (``None``: half the body).
        methods
            Restrict the rule to these HTTP methods, e.g. ``("GET",)``.

        Returns
        -------
        FaultRule
            The rule, whose ``hits`` attribute counts the requests it was applied to.
        """
        rule = FaultRule(
            pattern=pattern,
            kind=kind,
            times=times,
            status=status,
            seconds=seconds,
            truncate_to=truncate_to,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
        )
        self._faults.add(rule)
        return rule

    def remove_fault(self, rule: FaultRule) -> None:
        """Remove one rule returned by :meth:`add_fault` (no error if already removed)."""
        self._faults.remove(rule)

    def clear_faults(self) -> None:
        """Remove all fault rules."""
        self._faults.clear()

    @property
    def faults(self) -> list[FaultRule]:
        """A snapshot of the current fault rules, in the order they are tried."""
        return self._faults.snapshot()

    # ----------------------------------------------------------------------------- serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer ``request`` with its file, shaped by the fault rules it consumes."""
        path = unquote(request.rel_url.raw_path)
        request[ARRIVED] = time.monotonic()
        request[PATH] = path
        delay, rule = self._faults.take(request.method, path, hdrs.RANGE in request.headers)
        if delay > 0:
            request[FAULT] = "delay"
            await self._sleep_unless_stopped(request, delay)
        if rule is not None:
            request[FAULT] = rule.kind
            if rule.kind == "status":
                return status_response(rule.status)
            if rule.kind == "reset":
                self._drop_connection(request)

        file_path = self._resolve(path)
        if file_path is None:
            return web.Response(status=404, body=b"404 not found\n", content_type="text/plain")
        if rule is not None and rule.kind == "ignore_range":
            return await whole_file_response(file_path)
        if rule is not None and rule.kind == "truncate":
            await send_truncated(request, file_path, rule.truncate_to)
        return web.FileResponse(file_path)

    def _resolve(self, path: str) -> Path | None:
        """The regular file inside :attr:`root` that a URL path names, or ``None``."""
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    async def _sleep_unless_stopped(self, request: web.Request, seconds: float) -> None:
        """Sleep ``seconds``, or drop the connection of ``request`` as soon as the server stops."""
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        if self._stopping.is_set():
            self._log.append(record_of_dropped(request))
            # Ending the handler with CancelledError makes aiohttp drop the connection
            # quietly (it treats it like a client disconnect), without logging an error.
            raise asyncio.CancelledError

    def _drop_connection(self, request: web.Request) -> NoReturn:
        """Log ``request`` as unanswered and close its connection at once."""
        self._log.append(record_of_dropped(request))
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    async def _on_response_prepare(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Log each answer just before its headers are sent.

        The log is thus complete by the time a client has seen the response.
        """
        self._log.append(record_of_answer(request, response))


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
