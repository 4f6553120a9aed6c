"""A loopback HTTP server for a private bucket: it wants a bearer token and takes writes.

``GET`` and ``HEAD`` answer the files under a directory (``Range`` requests too), ``PUT``
writes one (its directories are created), ``DELETE`` removes one and ``PROPFIND`` lists a
folder, like the WebDAV server obstore's ``HTTPStore`` reads, writes and lists. Any request without ``Authorization: Bearer {token}`` is answered 401.
Every request is recorded with the ``Authorization`` header it carried.
"""

import asyncio
import socket
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote

from aiohttp import hdrs, web


@dataclass(frozen=True)
class SeenRequest:
    """One request: method, path (percent-decoded), ``Authorization`` header and status."""

    method: str
    path: str
    authorization: str | None
    status: int


class TokenServer:
    """Serve and store the files under ``root`` on ``127.0.0.1`` for holders of ``token``.

    Use it as a context manager; :attr:`url` is its base URL while it runs, and
    :attr:`requests` lists the requests it answered.
    """

    def __init__(self, root: Path, token: str) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.authorization = f"Bearer {token}"
        self.requests: list[SeenRequest] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application(client_max_size=2**30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(self._record)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        await web.SockSite(self._runner, sock).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get(hdrs.AUTHORIZATION) != self.authorization:
            return web.Response(status=401, text="401 a bearer token is required\n")
        target = (self.root / unquote(request.rel_url.raw_path).lstrip("/")).resolve()
        if not target.is_relative_to(self.root):
            return web.Response(status=404)
        if request.method == hdrs.METH_PUT:
            body = await request.read()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            return web.Response(status=201)
        if request.method == hdrs.METH_DELETE:
            target.unlink(missing_ok=True)
            return web.Response(status=204)
        if request.method in (hdrs.METH_GET, hdrs.METH_HEAD) and target.is_file():
            return web.FileResponse(target)
        if request.method == "PROPFIND":
            return self._listing(request, target)
        return web.Response(
            status=404 if request.method in (hdrs.METH_GET, hdrs.METH_HEAD) else 405
        )

    def _listing(self, request: web.Request, target: Path) -> web.Response:
        """A WebDAV ``PROPFIND`` (depth 1) answer listing the files and folders of ``target``,
        as obstore's ``HTTPStore`` lists a prefix."""
        if not target.is_dir():
            return web.Response(status=404)
        entries = []
        for path in [target, *sorted(target.iterdir())]:
            href = (
                "/" + str(path.relative_to(self.root)).strip(".") + ("/" if path.is_dir() else "")
            )
            stat = path.stat()
            kind = (
                "<D:resourcetype><D:collection/></D:resourcetype>"
                if path.is_dir()
                else (f"<D:resourcetype/><D:getcontentlength>{stat.st_size}</D:getcontentlength>")
            )
            modified = formatdate(stat.st_mtime, usegmt=True)
            entries.append(
                f"<D:response><D:href>{quote(href.replace('//', '/'))}</D:href><D:propstat><D:prop>"
                f"{kind}<D:getlastmodified>{modified}</D:getlastmodified></D:prop>"
                "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
            )
        body = (
            f'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">{"".join(entries)}</D:multistatus>'
        )
        return web.Response(status=207, body=body.encode(), content_type="application/xml")

    async def _record(self, request: web.Request, response: web.StreamResponse) -> None:
        self.requests.append(
            SeenRequest(
                method=request.method,
                path=unquote(request.rel_url.raw_path),
                authorization=request.headers.get(hdrs.AUTHORIZATION),
                status=response.status,
            )
        )

    def requests_under(self, prefix: str) -> list[SeenRequest]:
        """The requests whose path starts with ``prefix``."""
        return [seen for seen in self.requests if seen.path.startswith(prefix)]
