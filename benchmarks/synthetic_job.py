"""A synthetic region job for benchmarks: values computed in ``read_data``, no source files.

It isolates the framework's own cost (graph, assembly, transfer, shard writes) from
downloads and decoding.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from climaflow.reformat.region_job import RegionJob
from climaflow.reformat.source_file_coord import SourceFileCoord
from climaflow.reformat.template import DataVar, Encoding, Template

N_LAT, N_LON = 256, 512
STEPS_PER_SHARD = 16
CHUNKS = (STEPS_PER_SHARD, 128, 128)
SHARDS = (STEPS_PER_SHARD, 256, 256)


@dataclass(frozen=True, kw_only=True)
class BenchTemplate(Template[DataVar]):
    dataset_id: str = "bench"
    dims: tuple[str, ...] = ("time", "lat", "lon")
    append_dim: str = "time"
    data_vars: tuple[DataVar, ...] = (
        DataVar(name="field", encoding=Encoding(dtype="float32", chunks=CHUNKS, shards=SHARDS)),
    )

    def dimension_coordinates(self, append_dim_end: Any) -> dict[str, np.ndarray]:
        return {
            "time": np.arange(int(append_dim_end)),
            "lat": np.linspace(-90, 90, N_LAT),
            "lon": np.linspace(0, 360, N_LON, endpoint=False),
        }

    def append_dim_label(self, value: Any) -> int:
        return int(value)


@dataclass(frozen=True, kw_only=True)
class BenchCoord(SourceFileCoord):
    step: int

    def get_url(self) -> str:
        return f"memory://{self.step}"

    def out_loc(self) -> Mapping[str, Any]:
        return {"time": self.step}


def field_values(step: int) -> np.ndarray:
    """A smooth, compressible field for one step (what a real model field looks like)."""
    lat = np.linspace(-1.5, 1.5, N_LAT, dtype=np.float32)[:, None]
    lon = np.linspace(0, 6.28, N_LON, dtype=np.float32)[None, :]
    return (280 + 20 * np.cos(lat) + 5 * np.sin(lon + 0.1 * step)).astype(np.float32)


class BenchRegionJob(RegionJob[DataVar, BenchCoord]):
    def generate_source_file_coords(
        self, processing_ds: xr.Dataset, data_vars: Sequence[DataVar]
    ) -> list[BenchCoord]:
        return [BenchCoord(step=int(t)) for t in processing_ds["time"].values]

    def download_file(self, coord: BenchCoord) -> Path:
        return Path(os.devnull)  # nothing to fetch: read_data computes the values

    def read_data(self, coord: BenchCoord, data_var: DataVar) -> np.ndarray:
        return field_values(coord.step)


def expected_array(n_steps: int) -> np.ndarray:
    return np.stack([field_values(step) for step in range(n_steps)])


def make_jobs(
    store: Path, n_steps: int, start: int = 0, stop: int | None = None
) -> list[BenchRegionJob]:
    """Write the template for ``n_steps`` and return jobs covering ``start:stop``."""
    template = BenchTemplate()
    template.write_metadata(store, n_steps)
    return BenchRegionJob.get_jobs(template, store, n_steps, start=start, stop=stop)
