"""A loopback HTTP server over the files of :mod:`served_files`, with short retry backoffs."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import dask.config
import pytest

from climaflow.testing.http_server import LoopbackServer, serve_directory
from tests.io.served_files import SMALL, WAVE


@pytest.fixture
def served(tmp_path: Path, realdata: Path) -> Iterator[LoopbackServer]:
    root = tmp_path / "served"
    root.mkdir()
    shutil.copy(realdata / WAVE, root / WAVE)
    shutil.copy(realdata / f"{WAVE}.idx", root / f"{WAVE}.idx")
    (root / "small.bin").write_bytes(SMALL)
    with (
        serve_directory(root) as server,
        dask.config.set({"climaflow.io.backoff-seconds": 0.01}),
    ):
        yield server
