"""A served directory, and a running loopback server over it."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from climaflow.testing import LoopbackServer, serve_directory
from tests.testing.http_server.served_files import ATMOS, DATA, GRIB, IDX


@pytest.fixture
def root(tmp_path: Path) -> Path:
    served = tmp_path / "root"
    (served / ATMOS).mkdir(parents=True)
    (served / "data.bin").write_bytes(DATA)
    (served / ATMOS / "gfs.t00z.pgrb2.0p25.f000").write_bytes(GRIB)
    (served / ATMOS / "gfs.t00z.pgrb2.0p25.f000.idx").write_bytes(IDX)
    (tmp_path / "secret.txt").write_bytes(b"outside the served root")
    return served


@pytest.fixture
def server(root: Path) -> Iterator[LoopbackServer]:
    with serve_directory(root) as running:
        yield running
