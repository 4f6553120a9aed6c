"""What a normal's NetCDF encoding costs: write time, read time and size, per filter.

One normal as climaflow writes it (CONUS at 0.25°: 365 days x 104 x 240 cells, float32, a
smooth field plus noise of a 30-year mean, NaN over 30 % of the cells like the ocean of a
land-only product), written with :func:`climaflow.normals.output.write_normal`'s chunks and
each filter the netCDF4 wheels carry: none, zlib (levels 1, 4, 9, with and without byte
shuffle), zstd and blosc (lz4, zstd), bzip2. Times are the best of ``--repeat`` runs in this
process. Run::

    .venv/bin/python benchmarks/compare_netcdf_encodings.py
"""

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr

from climaflow.normals.output import COMPRESSION

SHAPE = (365, 104, 240)
CHUNKS = (73, 64, 64)

FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "zlib 1, no shuffle": {"zlib": True, "complevel": 1, "shuffle": False},
    "zlib 1 + shuffle (climaflow)": COMPRESSION,
    "zlib 4 + shuffle": {"zlib": True, "complevel": 4, "shuffle": True},
    "zlib 9 + shuffle": {"zlib": True, "complevel": 9, "shuffle": True},
    "zstd 1 + shuffle": {"compression": "zstd", "complevel": 1, "shuffle": True},
    "zstd 5 + shuffle": {"compression": "zstd", "complevel": 5, "shuffle": True},
    "blosc_lz4 5": {"compression": "blosc_lz4", "complevel": 5},
    "blosc_zstd 3": {"compression": "blosc_zstd", "complevel": 3},
    "bzip2 4 + shuffle": {"compression": "bzip2", "complevel": 4, "shuffle": True},
}


def normal_like(seed: int = 0) -> xr.Dataset:
    """A day-of-year normal: seasonal cycle and gradient, noise / sqrt(30), NaN 'ocean'."""
    rng = np.random.default_rng(seed)
    day = np.arange(SHAPE[0])[:, None, None]
    lat = np.linspace(24, 50, SHAPE[1])[None, :, None]
    lon = np.linspace(234, 294, SHAPE[2])[None, None, :]
    values = (
        288.0
        - 0.6 * (lat - 24)
        + 12.0 * np.sin(2 * np.pi * (day - 100) / 365) * (lat / 50)
        + 0.01 * (lon - 234)
        + rng.normal(0.0, 2.0 / np.sqrt(30), SHAPE)
    ).astype(np.float32)
    values[:, :, : int(SHAPE[2] * 0.3)] = np.nan
    return xr.Dataset({"tas": (("dayofyear", "lat", "lon"), values)})


def measure(dataset: xr.Dataset, encoding: dict[str, Any], path: Path, repeat: int) -> tuple:
    writes, reads = [], []
    for _ in range(repeat):
        path.unlink(missing_ok=True)
        start = time.perf_counter()
        dataset.to_netcdf(
            path,
            engine="netcdf4",
            format="NETCDF4",
            encoding={"tas": {**encoding, "chunksizes": CHUNKS}},
        )
        writes.append(time.perf_counter() - start)
        start = time.perf_counter()
        with netCDF4.Dataset(path) as nc:
            read = nc["tas"][:]
        reads.append(time.perf_counter() - start)
    np.testing.assert_array_equal(np.ma.filled(read, np.nan), dataset["tas"].values)
    return min(writes), min(reads), path.stat().st_size


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    dataset = normal_like()
    raw = dataset["tas"].nbytes
    print(f"one normal: {SHAPE} float32, {raw / 1e6:.1f} MB uncompressed, chunks {CHUNKS}")
    print(f"{'filter':<30}{'write [s]':>10}{'read [s]':>10}{'size [MB]':>11}{'ratio':>7}")
    with tempfile.TemporaryDirectory() as directory:
        for name, encoding in FILTERS.items():
            write, read, size = measure(dataset, encoding, Path(directory) / "n.nc", args.repeat)
            print(f"{name:<30}{write:>10.3f}{read:>10.3f}{size / 1e6:>11.2f}{raw / size:>7.2f}")


if __name__ == "__main__":
    main()
