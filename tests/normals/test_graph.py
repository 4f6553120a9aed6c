"""Batch sizing of the normals graph."""

import logging

from climaflow.normals.graph import default_batch_size


def test_default_batch_size_fits_memory(caplog):
    year = 365 * 104 * 240 * 4  # CONUS at 0.25 degrees, float32
    assert default_batch_size(year, 30, memory_per_thread=5 * 2**30) == 10
    assert default_batch_size(year, 30, memory_per_thread=int(33.5 * year * 2)) == 1
    with caplog.at_level(logging.WARNING, logger="climaflow.normals.graph"):
        assert default_batch_size(year, 30, memory_per_thread=2**20) == 1
    assert "exceeds the planned share of worker memory" in caplog.text
