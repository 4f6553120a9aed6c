"""Test helpers: a loopback HTTP server with fault injection."""

from climaflow.testing.http_server import (
    FaultKind,
    FaultRule,
    LoopbackServer,
    RequestRecord,
    serve_directory,
)

__all__ = ["FaultKind", "FaultRule", "LoopbackServer", "RequestRecord", "serve_directory"]
