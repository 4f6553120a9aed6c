"""Objects through obstore over a real loopback HTTP server and on the local disk."""

import time

import pytest

from climaflow.io import (
    DownloadError,
    list_objects,
    object_exists,
    object_size,
    read_bytes,
    read_ranges,
    write_object,
)
from tests.io.served_files import SMALL, WAVE


def test_range_answered_with_the_whole_file_still_gives_the_range(served, realdata):
    served.add_fault(f"/{WAVE}", "ignore_range", times=1)
    data = read_bytes(f"{served.url}/{WAVE}", (1000, 1100))
    assert data == (realdata / WAVE).read_bytes()[1000:1100]
    assert [(r.status, r.range) for r in served.requests_for(f"/{WAVE}")] == [
        (200, "bytes=1000-1099"),
        (200, None),  # then fetched whole and sliced
    ]


@pytest.mark.parametrize("byte_range", [None, (100, 900)], ids=["whole", "range"])
def test_a_body_cut_short_is_fetched_once_more(served, byte_range):
    served.add_fault("/small.bin", "truncate", times=1)
    data = read_bytes(f"{served.url}/small.bin", byte_range)
    assert data == (SMALL if byte_range is None else SMALL[100:900])
    assert [r.fault for r in served.requests_for("/small.bin")] == ["truncate", None]


def test_ranges_come_back_in_order_from_one_call(served):
    served.clear_requests()
    ranges = [(900, 1000), (0, 10), (20, 30), (1020, None)]
    parts = read_ranges(f"{served.url}/small.bin", ranges)
    assert parts == [SMALL[900:1000], SMALL[0:10], SMALL[20:30], SMALL[1020:]]
    # nearby bounded ranges are merged into one request; the open-ended one is another
    assert sorted(r.range for r in served.requests_for("/small.bin")) == [
        "bytes=0-999",
        "bytes=1020-",
    ]


def test_ranges_past_the_end_are_errors(served):
    with pytest.raises(DownloadError, match=r"asked for bytes 1000-1099, received 24 bytes"):
        read_ranges(f"{served.url}/small.bin", [(0, 10), (1000, 1100)])
    with pytest.raises(DownloadError, match=r"small\.bin: HTTP 416"):
        read_bytes(f"{served.url}/small.bin", (5000, 5100))
    assert [r.status for r in served.requests_for("/small.bin")][-1] == 416  # not retried


def test_size_and_existence_from_a_head_request(served, tmp_path):
    assert object_size(f"{served.url}/small.bin") == len(SMALL)
    assert object_exists(f"{served.url}/small.bin")
    assert not object_exists(f"{served.url}/missing.bin")
    assert [r.method for r in served.requests] == ["HEAD", "HEAD", "HEAD"]
    (tmp_path / "local.bin").write_bytes(b"abc")
    assert object_size(str(tmp_path / "local.bin")) == 3
    assert not object_exists(f"file://{tmp_path}/missing.bin")


def test_percent_escapes_in_urls_name_the_file(served):
    (served.root / "a b.bin").write_bytes(b"spaced")
    assert read_bytes(f"{served.url}/a%20b.bin") == b"spaced"


def test_storage_options_reach_the_store(served):
    served.add_fault("/small.bin", "delay", seconds=2, times=None)
    options = {"client_options": {"timeout": "200ms"}, "retry_config": {"max_retries": 1}}
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"small\.bin: timed out \(gave up after 2 attempts\)"):
        read_bytes(f"{served.url}/small.bin", storage_options=options)
    assert time.monotonic() - started < 1.5
    assert len([r for r in served.requests if r.fault == "delay"]) <= 2


def test_http_stores_refuse_other_stores_options(served):
    with pytest.raises(ValueError, match="take only client_options and retry_config, not region"):
        read_bytes(f"{served.url}/small.bin", storage_options={"region": "us-west-2"})


def test_a_signed_url_keeps_its_query_but_errors_do_not_show_it(served):
    assert read_bytes(f"{served.url}/small.bin?X-Amz-Signature=secret") == SMALL
    with pytest.raises(DownloadError) as error:
        read_bytes(f"{served.url}/missing.bin?X-Amz-Signature=secret")
    assert str(error.value) == f"{served.url}/missing.bin: not found (HTTP 404)"
    assert error.value.not_found


def test_local_objects_are_written_whole_and_listed(tmp_path):
    folder = tmp_path / "records"
    assert list_objects(str(folder)) == []
    write_object(f"{folder}/b.json", b"{}")
    write_object(f"{folder}/a.json", b"[]")
    assert list_objects(str(folder)) == [f"{folder}/a.json", f"{folder}/b.json"]
    assert read_ranges(f"{folder}/a.json", [(1, 2), (0, 1)]) == [b"]", b"["]
    with pytest.raises(DownloadError, match="not found") as error:
        read_bytes(str(folder / "missing.json"))
    assert error.value.not_found
