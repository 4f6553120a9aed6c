"""The loopback HTTP server: byte ranges, the request log, fault injection, clean shutdown."""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from climaflow.testing import LoopbackServer, RequestRecord, serve_directory

DATA = bytes((i * 7 + i // 256) % 256 for i in range(10_000))
GRIB = b"GRIB" + bytes(range(200)) + b"7777"
IDX = b"1:0:d=2024010100:PRMSL:mean sea level:anl:\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "root"
    (served / "gfs.20240101" / "00" / "atmos").mkdir(parents=True)
    (served / "data.bin").write_bytes(DATA)
    (served / "gfs.20240101" / "00" / "atmos" / "gfs.t00z.pgrb2.0p25.f000").write_bytes(GRIB)
    (served / "gfs.20240101" / "00" / "atmos" / "gfs.t00z.pgrb2.0p25.f000.idx").write_bytes(IDX)
    (tmp_path / "secret.txt").write_bytes(b"outside the served root")
    return served


@pytest.fixture
def server(root: Path) -> Iterator[LoopbackServer]:
    with serve_directory(root) as running:
        yield running


def fetch(url: str, range_header: str | None = None, timeout: float = 5.0, method: str = "GET"):
    """(status, headers, body) of one request with urllib."""
    headers = {"Range": range_header} if range_header else {}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def raw_get(server: LoopbackServer, path: str) -> tuple[int, bytes]:
    """GET a raw, un-normalised path with http.client."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("LoopbackServer")]


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


def test_head_reports_size_without_body(server: LoopbackServer) -> None:
    status, headers, body = fetch(f"{server.url}/data.bin", method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, "10000", b"")
    assert server.requests[-1] == RequestRecord(
        "HEAD", "/data.bin", None, 200, 0, None, server.requests[-1].time
    )


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


# ---------------------------------------------------------------------------- request log


def test_request_log_records_method_path_range_status_and_bytes(server: LoopbackServer) -> None:
    fetch(f"{server.url}/data.bin", "bytes=10-19")
    fetch(f"{server.url}/data.bin")
    fetch(f"{server.url}/missing.bin")
    records = server.requests
    assert [(r.method, r.path, r.range, r.status, r.bytes_sent, r.fault) for r in records] == [
        ("GET", "/data.bin", "bytes=10-19", 206, 10, None),
        ("GET", "/data.bin", None, 200, 10_000, None),
        ("GET", "/missing.bin", None, 404, len(b"404 not found\n"), None),
    ]
    assert records[0].time <= records[1].time <= records[2].time
    assert len(server.requests_for("data.bin")) == 2

    records.clear()  # a snapshot: the server's log is untouched
    assert len(server.requests) == 3
    server.clear_requests()
    assert server.requests == []


def test_request_log_is_thread_safe(server: LoopbackServer) -> None:
    def worker(i: int) -> None:
        for j in range(5):
            start = 10 * i + j
            assert fetch(f"{server.url}/data.bin", f"bytes={start}-{start}")[2] == DATA[start:][:1]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = server.requests
    assert len(records) == 40
    assert sorted(r.range for r in records) == sorted(
        f"bytes={10 * i + j}-{10 * i + j}" for i in range(8) for j in range(5)
    )
    assert all(r.status == 206 and r.bytes_sent == 1 for r in records)


# --------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("status", [503, 500, 404])
def test_status_fault_for_the_first_n_requests(server: LoopbackServer, status: int) -> None:
    rule = server.add_fault("*.bin", "status", status=status, times=2)
    results = [fetch(f"{server.url}/data.bin", "bytes=0-9")[0] for _ in range(3)]
    assert results == [status, status, 206]
    assert rule.hits == 2
    assert [r.fault for r in server.requests] == ["status", "status", None]
    assert [r.status for r in server.requests] == [status, status, 206]


def test_fault_patterns_glob_and_regex(server: LoopbackServer) -> None:
    server.add_fault("/gfs.*/00/atmos/*.idx", "status", status=500, times=None)
    server.add_fault(re.compile(r"\.f000$"), "status", status=503, times=None)
    atmos = f"{server.url}/gfs.20240101/00/atmos"
    assert fetch(f"{atmos}/gfs.t00z.pgrb2.0p25.f000.idx")[0] == 500
    assert fetch(f"{atmos}/gfs.t00z.pgrb2.0p25.f000.idx")[0] == 500  # times=None: forever
    assert fetch(f"{atmos}/gfs.t00z.pgrb2.0p25.f000")[0] == 503
    assert fetch(f"{server.url}/data.bin")[0] == 200  # matches neither rule
    server.clear_faults()
    assert server.faults == []
    assert fetch(f"{atmos}/gfs.t00z.pgrb2.0p25.f000.idx")[0] == 200


def test_remove_one_fault(server: LoopbackServer) -> None:
    keep = server.add_fault("*.idx", "status", status=500, times=None)
    drop = server.add_fault("*.bin", "status", status=500, times=None)
    server.remove_fault(drop)
    assert server.faults == [keep]
    assert fetch(f"{server.url}/data.bin")[0] == 200


def test_delay_fault_triggers_client_timeout(server: LoopbackServer) -> None:
    rule = server.add_fault("data.bin", "delay", seconds=1.0, times=1)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch(f"{server.url}/data.bin", timeout=0.2)
    assert time.monotonic() - started < 0.9
    assert rule.hits == 1
    # The rule is used up: the next request is answered at once.
    started = time.monotonic()
    assert fetch(f"{server.url}/data.bin", "bytes=0-0", timeout=2)[2] == DATA[:1]
    assert time.monotonic() - started < 0.5


def test_short_delay_then_normal_answer(server: LoopbackServer) -> None:
    server.add_fault("data.bin", "delay", seconds=0.3)
    started = time.monotonic()
    status, _, body = fetch(f"{server.url}/data.bin", "bytes=5-9", timeout=5)
    assert time.monotonic() - started >= 0.3
    assert (status, body) == (206, DATA[5:10])
    record = server.requests[-1]
    assert (record.status, record.bytes_sent, record.fault) == (206, 5, "delay")


def test_truncate_fault_sends_a_short_body(server: LoopbackServer) -> None:
    server.add_fault("data.bin", "truncate", truncate_to=1234, times=2)
    with pytest.raises(http.client.IncompleteRead) as whole:
        fetch(f"{server.url}/data.bin")
    assert (len(whole.value.partial), whole.value.expected) == (1234, 10_000 - 1234)
    assert whole.value.partial == DATA[:1234]

    with pytest.raises(http.client.IncompleteRead) as ranged:
        fetch(f"{server.url}/data.bin", "bytes=2000-5999")
    assert ranged.value.partial == DATA[2000:3234]
    assert ranged.value.expected == 4000 - 1234

    records = server.requests
    assert [(r.status, r.bytes_sent, r.fault) for r in records] == [
        (200, 1234, "truncate"),
        (206, 1234, "truncate"),
    ]
    assert fetch(f"{server.url}/data.bin")[2] == DATA


def test_truncate_default_is_half_and_fsspec_notices(server: LoopbackServer) -> None:
    server.add_fault("data.bin", "truncate", times=1)
    with pytest.raises(http.client.IncompleteRead) as error:
        fetch(f"{server.url}/data.bin", "bytes=0-999")
    assert len(error.value.partial) == 500

    server.add_fault("data.bin", "truncate", times=1)
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    with pytest.raises(Exception, match=r"(?i)payload|content|length|transfer|closed"):
        fs.cat_file(f"{server.url}/data.bin", start=0, end=1000)


def test_reset_fault_closes_without_response(server: LoopbackServer) -> None:
    rule = server.add_fault("data.bin", "reset", times=1)
    with pytest.raises(ConnectionResetError):  # http.client.RemoteDisconnected is one
        fetch(f"{server.url}/data.bin")
    assert rule.hits == 1
    record = server.requests[-1]
    assert (record.status, record.bytes_sent, record.fault) == (None, 0, "reset")
    assert fetch(f"{server.url}/data.bin")[0] == 200


def test_ignore_range_fault_answers_200_with_whole_file(server: LoopbackServer) -> None:
    rule = server.add_fault("data.bin", "ignore_range", times=1)
    status, _, body = fetch(f"{server.url}/data.bin")  # no Range: does not consume the rule
    assert (status, body, rule.hits) == (200, DATA, 0)
    status, headers, body = fetch(f"{server.url}/data.bin", "bytes=100-199")
    assert (status, body, rule.hits) == (200, DATA, 1)
    assert "Content-Range" not in headers
    status, _, body = fetch(f"{server.url}/data.bin", "bytes=100-199")
    assert (status, body) == (206, DATA[100:200])
    assert [(r.status, r.bytes_sent, r.fault) for r in server.requests] == [
        (200, 10_000, None),
        (200, 10_000, "ignore_range"),
        (206, 100, None),
    ]


def test_fault_restricted_to_methods(server: LoopbackServer) -> None:
    server.add_fault("data.bin", "status", status=503, times=None, methods=("HEAD",))
    assert fetch(f"{server.url}/data.bin", method="HEAD")[0] == 503
    assert fetch(f"{server.url}/data.bin")[0] == 200


def test_invalid_faults_are_rejected(server: LoopbackServer) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.add_fault("*", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        server.add_fault("*", "status", times=0)
    with pytest.raises(ValueError, match=r"400\.\.599"):
        server.add_fault("*", "status", status=200)
    with pytest.raises(ValueError, match="seconds"):
        server.add_fault("*", "delay")


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
