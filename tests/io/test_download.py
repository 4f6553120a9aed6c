"""Downloads over a real loopback HTTP server: retries, permanent failures, byte ranges."""

import dask.config
import eccodes
import numpy as np
import pytest

from climaflow.io import DownloadError, download
from climaflow.reformat.grib_index import coalesce_ranges, parse_index, select
from tests.io.served_files import SMALL, WAVE


def decode_messages(data: bytes) -> list[tuple[str, np.ndarray]]:
    """(shortName, values) of every GRIB message in ``data``."""
    messages = []
    offset = 0
    while (start := data.find(b"GRIB", offset)) >= 0:
        length = int.from_bytes(data[start + 8 : start + 16], "big")  # GRIB2 section 0
        handle = eccodes.codes_new_from_message(data[start : start + length])
        try:
            messages.append(
                (eccodes.codes_get(handle, "shortName"), eccodes.codes_get_values(handle))
            )
        finally:
            eccodes.codes_release(handle)
        offset = start + length
    return messages


def test_transient_503s_are_retried(served, tmp_path):
    served.add_fault("/small.bin", "status", status=503, times=2)
    path = download(f"{served.url}/small.bin", tmp_path / "out" / "small.bin")
    assert path.read_bytes() == SMALL
    statuses = [r.status for r in served.requests_for("/small.bin")]
    assert statuses == [503, 503, 200]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["small.bin"]  # no temporary


def test_404_fails_without_retry(served, tmp_path):
    with pytest.raises(DownloadError, match=r"missing\.bin: not found \(HTTP 404\)"):
        download(f"{served.url}/missing.bin", tmp_path / "out" / "missing.bin")
    assert [r.status for r in served.requests_for("/missing.bin")] == [404]
    assert not (tmp_path / "out" / "missing.bin").exists()


def test_retries_give_up_with_the_reason(served, tmp_path):
    served.add_fault("/small.bin", "status", status=500, times=None)
    with (
        dask.config.set({"climaflow.io.max-retries": 2}),
        pytest.raises(DownloadError, match=r"HTTP 500.*gave up after 3 attempts"),
    ):
        download(f"{served.url}/small.bin", tmp_path / "small.bin")
    assert len(served.requests_for("/small.bin")) == 3
    assert not (tmp_path / "small.bin").exists()


def test_byte_ranges_of_two_messages_decode_like_the_whole_file(served, realdata, tmp_path):
    entries = parse_index((realdata / f"{WAVE}.idx").read_text())
    wanted = select(entries, "HTSGW", "surface") + select(entries, "PERPW", "surface")
    assert len(wanted) == 2
    served.clear_requests()
    path = download(f"{served.url}/{WAVE}", tmp_path / "two.grib2", coalesce_ranges(wanted))

    data = path.read_bytes()
    assert len(data) == sum(entry.length for entry in wanted)  # exactly those bytes
    whole = dict(decode_messages((realdata / WAVE).read_bytes()))
    fetched = decode_messages(data)
    assert [name for name, _ in fetched] == ["swh", "perpw"]
    for name, values in fetched:
        np.testing.assert_array_equal(values, whole[name])
    ranges = [r.range for r in served.requests_for(f"/{WAVE}")]
    assert ranges == [f"bytes={wanted[0].start}-{wanted[1].end - 1}"]  # adjacent: one request


def test_local_sources_are_not_copied(realdata, tmp_path):
    assert download(str(realdata / WAVE), tmp_path / "x") == realdata / WAVE
    with pytest.raises(DownloadError, match="not found"):
        download(str(tmp_path / "nope.grib2"), tmp_path / "y")
