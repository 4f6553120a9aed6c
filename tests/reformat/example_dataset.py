"""A tiny example dataset for the framework's tests: one ``.npy`` file per day.

Values are a known function of the coordinates, so tests can compute what the store
must hold with plain numpy.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from climaflow.io import download
from climaflow.reformat.region_job import RegionJob
from climaflow.reformat.source_file_coord import SourceFileCoord
from climaflow.reformat.template import DataVar, Encoding, ProcessingAttrs, Template

START = np.datetime64("2000-01-01", "ns")
DAY = np.timedelta64(1, "D")
LATITUDES = np.array([10.0, 0.0, -10.0])
LONGITUDES = np.array([0.0, 90.0, 180.0, 270.0])
VARIABLES = ("temperature", "precipitation")


def expected_values(name: str, times: np.ndarray) -> np.ndarray:
    """The exact field a file holds: a function of variable, day, latitude and longitude."""
    days = ((times - START) / DAY).astype("float64")[:, None, None]
    lat = LATITUDES[None, :, None]
    lon = LONGITUDES[None, None, :]
    if name == "temperature":
        values = 280.0 + 0.37 * days + 0.11 * lat + 0.013 * lon
    else:
        values = 1e-4 * (1.0 + np.sin(0.3 * days + 0.02 * lon) ** 2) * (1.0 + 0.01 * lat)
    return values.astype("float32")


def write_archive(root: Path, times: np.ndarray) -> None:
    """Write ``{root}/{variable}/{YYYY-MM-DD}.npy`` for every day and variable."""
    for name in VARIABLES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for time, values in zip(times, expected_values(name, times), strict=True):
            np.save(root / name / f"{np.datetime_as_string(time, 'D')}.npy", values)


@dataclass(frozen=True, kw_only=True)
class ExampleTemplate(Template[DataVar]):
    dataset_id: str = "example"
    dims: tuple[str, ...] = ("time", "latitude", "longitude")
    append_dim: str = "time"
    data_vars: tuple[DataVar, ...] = (
        DataVar(
            name="temperature",
            encoding=Encoding(dtype="float32", chunks=(2, 3, 2), shards=(4, 3, 2)),
            attrs={"units": "K", "standard_name": "air_temperature"},
        ),
        DataVar(
            name="precipitation",
            encoding=Encoding(dtype="float32", chunks=(2, 3, 2), shards=(4, 3, 2)),
            attrs={"units": "kg m-2 s-1", "standard_name": "precipitation_flux"},
            processing=ProcessingAttrs(keep_mantissa_bits=7),
        ),
    )

    def dimension_coordinates(self, append_dim_end: Any) -> dict[str, np.ndarray]:
        return {
            "time": np.arange(START, np.datetime64(append_dim_end, "ns"), DAY),
            "latitude": LATITUDES,
            "longitude": LONGITUDES,
        }


@dataclass(frozen=True, kw_only=True)
class ExampleSourceFileCoord(SourceFileCoord):
    root: str
    variable: str
    time: np.datetime64

    def get_url(self) -> str:
        return f"{self.root}/{self.variable}/{np.datetime_as_string(self.time, 'D')}.npy"

    def out_loc(self) -> Mapping[str, Any]:
        return {"time": self.time}

    def contains(self, data_var_name: str) -> bool:
        return data_var_name == self.variable


class ExampleRegionJob(RegionJob[DataVar, ExampleSourceFileCoord]):
    def __init__(self, *, source_root: Path | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_root = str(source_root)

    def generate_source_file_coords(
        self, processing_ds: xr.Dataset, data_vars: Sequence[DataVar]
    ) -> list[ExampleSourceFileCoord]:
        return [
            ExampleSourceFileCoord(root=self.source_root, variable=var.name, time=time)
            for var in data_vars
            for time in processing_ds["time"].values
        ]

    def download_file(self, coord: ExampleSourceFileCoord) -> Path:
        # one folder per variable: every variable's files have the same names
        return download(
            coord.get_url(),
            self.download_dir / coord.variable / Path(coord.get_url()).name,
            storage_options=self.source_storage_options,
        )

    def read_data(self, coord: ExampleSourceFileCoord, data_var: DataVar) -> np.ndarray:
        assert coord.downloaded_path is not None
        return np.load(coord.downloaded_path)


class FlakyTransformRegionJob(ExampleRegionJob):
    """Fails each variable's first transform (a transient error), then works."""

    def apply_data_transformations(self, data_array: xr.DataArray, data_var: DataVar) -> None:
        marker = Path(self.source_root) / f"failed-once-{data_var.name}"
        if not marker.exists():
            marker.touch()
            raise RuntimeError(f"transient failure transforming {data_var.name}")
        super().apply_data_transformations(data_array, data_var)
