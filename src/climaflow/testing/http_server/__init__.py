"""A loopback HTTP file server with fault injection, for tests and the demo.

The server serves the files under one directory on ``127.0.0.1`` at an ephemeral port, from a
background thread that runs its own asyncio event loop. It is built on aiohttp, whose
:class:`aiohttp.web.FileResponse` honours ``Range`` requests (``206 Partial Content`` with a
``Content-Range`` header), which Python's :mod:`http.server` does not.

Every request is logged (:attr:`LoopbackServer.requests`, see :mod:`.records`), and faults can
be injected per URL path (:meth:`LoopbackServer.add_fault`; the kinds are listed in
:mod:`.faults`: error statuses, delays, truncated bodies, reset connections, ignored ``Range``
headers) to exercise a client's retry and timeout logic.

Examples
--------
>>> with serve_directory(root) as server:  # doctest: +SKIP
...     server.add_fault("*.idx", "status", status=503, times=2)
...     urllib.request.urlopen(f"{server.url}/gfs.t00z.pgrb2.0p25.f000.idx")
"""

from climaflow.testing.http_server.faults import FaultKind, FaultRule
from climaflow.testing.http_server.records import RequestRecord
from climaflow.testing.http_server.server import LoopbackServer, serve_directory

__all__ = [
    "FaultKind",
    "FaultRule",
    "LoopbackServer",
    "RequestRecord",
    "serve_directory",
]
