"""Fault injection: error statuses, delays, truncated bodies, resets, ignored ranges."""

from __future__ import annotations

import http.client
import re
import time

import fsspec
import pytest

from climaflow.testing import FaultRule, LoopbackServer
from climaflow.testing.http_server.faults import FaultRuleList
from tests.testing.http_server.client import fetch
from tests.testing.http_server.served_files import DATA


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


# ------------------------------------------------------------------------------- rules


def test_rule_matches_by_glob_regex_method_range_and_times() -> None:
    path = "/gfs.20240101/00/atmos/gfs.t00z.pgrb2.0p25.f000.idx"
    assert FaultRule("*.idx", "status").matches("GET", path, has_range=False)
    assert FaultRule("/gfs.*/*.idx", "status").matches("GET", path, has_range=False)
    assert not FaultRule("/*.bin", "status").matches("GET", path, has_range=False)
    assert FaultRule(re.compile(r"f000\.idx$"), "status").matches("GET", path, has_range=False)
    head_only = FaultRule("*", "status", methods=frozenset({"HEAD"}))
    assert not head_only.matches("GET", path, has_range=False)
    assert head_only.matches("HEAD", path, has_range=False)
    assert not FaultRule("*", "ignore_range").matches("GET", path, has_range=False)
    assert FaultRule("*", "ignore_range").matches("GET", path, has_range=True)
    assert not FaultRule("*", "status", times=2, hits=2).matches("GET", path, has_range=False)


def test_rule_rejects_invalid_arguments_on_construction() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultRule("*", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="truncate_to"):
        FaultRule("*", "truncate", truncate_to=-1)


def test_rule_list_applies_every_delay_and_the_first_other_rule() -> None:
    rules = FaultRuleList()
    slow = FaultRule("*", "delay", seconds=0.5, times=None)
    first = FaultRule("*", "status", status=500, times=1)
    slower = FaultRule("*.bin", "delay", seconds=1.0, times=None)
    second = FaultRule("*", "reset", times=None)
    for rule in (slow, first, slower, second):
        rules.add(rule)
    assert rules.take("GET", "/data.bin", has_range=False) == (1.5, first)
    assert rules.take("GET", "/data.bin", has_range=False) == (1.5, second)  # first used up
    assert rules.take("GET", "/a.idx", has_range=False) == (0.5, second)
    assert [rule.hits for rule in (slow, first, slower, second)] == [3, 1, 2, 2]
    assert rules.snapshot() == [slow, first, slower, second]  # used-up rules stay listed
    rules.remove(first)
    assert rules.snapshot() == [slow, slower, second]
    rules.clear()
    assert rules.take("GET", "/data.bin", has_range=False) == (0.0, None)
