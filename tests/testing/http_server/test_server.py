"""The loopback HTTP server: files and byte ranges, fsspec, clean start and stop."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import fsspec
import pytest

from climaflow.testing import LoopbackServer, serve_directory
from tests.testing.http_server.client import fetch, raw_get, server_threads
from tests.testing.http_server.served_files import DATA, IDX

# ------------------------------------------------------------------------------- serving


def test_url_is_loopback_with_ephemeral_port(server: LoopbackServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.url_for("data.bin") == f"{server.url}/data.bin"


def test_whole_file_without_range(server: LoopbackServer) -> None:
    status, headers, body = fetch(f"{server.url}/data.bin")
    assert status == 200
    assert body == DATA
    assert headers["Content-Length"] == "10000"
    assert headers["Accept-Ranges"] == "bytes"


def test_closed_range_returns_exactly_the_requested_bytes(server: LoopbackServer) -> None:
    status, headers, body = fetch(f"{server.url}/data.bin", "bytes=100-199")
    assert status == 206
    assert headers["Content-Range"] == "bytes 100-199/10000"
    assert body == DATA[100:200]
    assert len(body) == 100


def test_open_ended_and_suffix_ranges(server: LoopbackServer) -> None:
    status, headers, body = fetch(f"{server.url}/data.bin", "bytes=100-")
    assert (status, headers["Content-Range"]) == (206, "bytes 100-9999/10000")
    assert body == DATA[100:]

    status, headers, body = fetch(f"{server.url}/data.bin", "bytes=-50")
    assert (status, headers["Content-Range"]) == (206, "bytes 9950-9999/10000")
    assert body == DATA[-50:]

    status, headers, body = fetch(f"{server.url}/data.bin", "bytes=9990-20000")
    assert (status, body) == (206, DATA[9990:])


def test_unsatisfiable_range_is_416(server: LoopbackServer) -> None:
    status, headers, _ = fetch(f"{server.url}/data.bin", "bytes=10000-10010")
    assert status == 416
    assert headers["Content-Range"] == "bytes */10000"


def test_multi_file_directory(server: LoopbackServer) -> None:
    atmos = "gfs.20240101/00/atmos"
    assert fetch(f"{server.url}/{atmos}/gfs.t00z.pgrb2.0p25.f000.idx")[2] == IDX
    status, _, body = fetch(f"{server.url}/{atmos}/gfs.t00z.pgrb2.0p25.f000", "bytes=0-3")
    assert (status, body) == (206, b"GRIB")
    status, _, body = fetch(f"{server.url}/{atmos}/gfs.t00z.pgrb2.0p25.f000", "bytes=204-")
    assert (status, body) == (206, b"7777")
    assert fetch(f"{server.url}/data.bin", "bytes=0-1")[2] == DATA[:2]


def test_missing_files_directories_and_escapes_are_404(server: LoopbackServer) -> None:
    assert fetch(f"{server.url}/nope.bin")[0] == 404
    assert fetch(f"{server.url}/gfs.20240101/00")[0] == 404
    assert fetch(f"{server.url}/")[0] == 404
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/gfs.20240101/../../secret.txt"):
        status, body = raw_get(server, path)
        assert status == 404, path
        assert b"outside" not in body


def test_fsspec_http_filesystem_reads_ranges(server: LoopbackServer) -> None:
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    url = f"{server.url}/data.bin"
    assert fs.cat_file(url, start=1000, end=1500) == DATA[1000:1500]
    assert fs.info(url)["size"] == len(DATA)
    with fs.open(url, block_size=1024) as f:
        f.seek(5000)
        assert f.read(10) == DATA[5000:5010]
    ranged = [r for r in server.requests if r.range is not None]
    assert ranged[0].range == "bytes=1000-1499"
    assert (ranged[0].status, ranged[0].bytes_sent) == (206, 500)


# ------------------------------------------------------------------------------ lifecycle


def test_start_and_stop_are_clean(root: Path) -> None:
    before = len(server_threads())
    server = serve_directory(root)
    with pytest.raises(RuntimeError):
        _ = server.url  # not started yet
    with server:
        port = server.port
        assert len(server_threads()) == before + 1
        assert fetch(f"{server.url}/data.bin", "bytes=0-0")[2] == DATA[:1]
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert not server.running
    assert len(server_threads()) == before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    server.stop()  # idempotent


def test_stop_within_a_second_with_a_pending_delayed_request(root: Path) -> None:
    before = len(server_threads())
    server = LoopbackServer(root).start()
    server.add_fault("data.bin", "delay", seconds=30)
    errors: list[BaseException] = []

    def client() -> None:
        try:
            fetch(f"{server.url}/data.bin", timeout=10)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=client)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.faults[0].hits and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(errors) == 1  # the client saw the connection drop
    assert len(server_threads()) == before
    assert server.requests[-1].fault == "delay"
    assert server.requests[-1].status is None


def test_restart_after_stop(root: Path) -> None:
    before = len(server_threads())
    server = serve_directory(root)
    for _ in range(2):
        with server:
            assert fetch(f"{server.url}/data.bin", "bytes=1-2")[2] == DATA[1:3]
    assert len(server_threads()) == before
    assert len(server.requests) == 2  # the log survives a restart


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        LoopbackServer(tmp_path / "missing")
