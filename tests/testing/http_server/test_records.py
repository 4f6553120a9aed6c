"""The request log: method, path, range, status, bytes sent and fault of every request."""

from __future__ import annotations

import threading

from climaflow.testing import LoopbackServer, RequestRecord
from tests.testing.http_server.client import fetch
from tests.testing.http_server.served_files import DATA


def test_head_reports_size_without_body(server: LoopbackServer) -> None:
    status, headers, body = fetch(f"{server.url}/data.bin", method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, "10000", b"")
    assert server.requests[-1] == RequestRecord(
        "HEAD", "/data.bin", None, 200, 0, None, server.requests[-1].time
    )


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
