"""Atomic writes: a file that exists is complete; a failed write leaves nothing behind."""

from pathlib import Path

import pytest

from climaflow.io import atomic_path, write_atomic


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "new" / "out.txt"
    assert write_atomic(target, "one") == target
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_a_failure_leaves_neither_the_file_nor_a_temporary(tmp_path):
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError, match="writer failed"), atomic_path(target) as temporary:
        assert temporary.parent == tmp_path and temporary != target
        temporary.write_bytes(b"half a file")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("previous")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("new, but not finished")
        raise RuntimeError
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]


def test_a_block_that_writes_nothing_is_an_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "out.txt"):
        pass
    assert list(tmp_path.iterdir()) == []
