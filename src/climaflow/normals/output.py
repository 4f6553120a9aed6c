"""Normals on disk: names, contents, atomic writes, and the validity check behind "skip if exists".

One NetCDF4 file per (variable, region, scenario, target year)::

    {output}/{variable}/{scenario}/{REGION}/{variable}_{REGION}_{scenario}_{T}_30yr_normal.nc

(``30yr`` is the window length). Files are written to ``<name>.tmp-<uuid>`` in the same
directory and renamed with :func:`os.replace`, so a crash never leaves a file that looks done.

Encoding: float32, zlib level 1 with byte shuffle, chunks of 73 days x up to 64 x 64 cells.
zlib is the one NetCDF4 filter every reader has built in (netCDF-C, xarray, CDO, NCO, R,
MATLAB, Panoply), so files open anywhere without HDF5 plugins; shuffle makes it nearly halve
float32 normals; levels above 1 cost 1.5-3x the write time for about 2 % smaller files.
The chunks serve both map (one day) and time-series (one cell) reads.
"""

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cftime
import numpy as np
import xarray as xr

from climaflow import __version__
from climaflow.locks import NETCDF_LOCK
from climaflow.names import check_path_component
from climaflow.normals.calendar import DAYS_OF_YEAR
from climaflow.normals.compute import NORMALS_CELL_METHOD
from climaflow.normals.periods import format_years
from climaflow.normals.regions import Region

COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}
CHUNK_DAYS = 73
CHUNK_CELLS = 64
CLIMATOLOGY_UNITS = "days since 1950-01-01 00:00:00"
CLIMATOLOGY_CALENDAR = "noleap"


@dataclass(frozen=True)
class NormalMetadata:
    """Everything a normal's file records about how it was made.

    ``window``, ``min_years`` and ``inputs_fingerprint`` are the parameters a rerun compares
    to decide whether an existing file can be kept.
    """

    variable: str
    target_year: int
    period: str
    scenario: str
    model: str
    region: Region
    window: int
    min_years: int
    inputs_fingerprint: str
    source_years: tuple[int, ...]
    source_scenarios: tuple[str, ...]
    variable_attrs: Mapping[str, Any]

    @property
    def scenarios_used(self) -> list[str]:
        """The distinct source scenarios, in window order."""
        return list(dict.fromkeys(self.source_scenarios))


@dataclass(frozen=True)
class OutputCheck:
    """Whether an existing output can be kept, and why not if it cannot."""

    exists: bool
    valid: bool
    reason: str


def normal_path(
    output: str | Path,
    variable: str,
    scenario: str,
    region: str,
    target_year: int,
    window: int = 30,
) -> Path:
    """Where the normal of (variable, scenario, region, target year) is written.

    Raises ``ValueError`` for names that could leave ``output`` (``..``, separators).
    """
    for value, what in ((variable, "variable"), (scenario, "scenario"), (region, "region")):
        check_path_component(value, what)
    name = f"{variable}_{region}_{scenario}_{target_year}_{window}yr_normal.nc"
    return Path(output) / variable / scenario / region / name


def normal_dataset(
    values: np.ndarray,
    lat: xr.DataArray,
    lon: xr.DataArray,
    metadata: NormalMetadata,
) -> xr.Dataset:
    """The output dataset: the normal ``(dayofyear, lat, lon)`` with its CF metadata.

    ``lat`` and ``lon`` are the region's coordinates (values and attributes are kept).
    """
    first, last = min(metadata.source_years), max(metadata.source_years)
    # Climatology bounds of day N: 00:00 of day N in the first year to 00:00 of the day after
    # day N in the last year (CF 7.4); the time value is noon of day N in the middle year.
    starts = np.array([_noleap_date(first, day) for day in DAYS_OF_YEAR])
    ends = np.array([_noleap_date(last, day) + _ONE_DAY for day in DAYS_OF_YEAR])
    middle = np.array([_noleap_date((first + last) // 2, day) + _HALF_DAY for day in DAYS_OF_YEAR])
    attrs = dict(metadata.variable_attrs)
    attrs["cell_methods"] = f"{attrs.get('cell_methods', '')} {NORMALS_CELL_METHOD}".strip()
    dataset = xr.Dataset(
        {
            metadata.variable: (("dayofyear", "lat", "lon"), values.astype(np.float32), attrs),
            "climatology_bnds": (("dayofyear", "nv"), np.stack([starts, ends], axis=1)),
        },
        coords={
            "dayofyear": (
                "dayofyear",
                DAYS_OF_YEAR,
                {
                    "long_name": "day of year on a 365-day calendar (29 February dropped)",
                    "units": "1",
                },
            ),
            "time": (
                "dayofyear",
                middle,
                {"standard_name": "time", "climatology": "climatology_bnds"},
            ),
            "lat": lat,
            "lon": lon,
        },
    )
    dataset.attrs = _global_attrs(metadata)
    return dataset


def write_normal(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to ``path`` atomically (temporary name in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with NETCDF_LOCK:
            dataset.to_netcdf(
                temporary, engine="netcdf4", format="NETCDF4", encoding=_encoding(dataset)
            )
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_output(
    path: str | Path, *, variable: str, expected: Mapping[str, Any], shape: Sequence[int]
) -> OutputCheck:
    """Can the existing file at ``path`` be kept?

    Valid means: it opens, records the same ``expected`` attributes (e.g. window, min_years,
    inputs_fingerprint), and ``variable`` reads completely with ``shape``. The climaflow
    version is not compared.
    """
    path = Path(path)
    if not path.exists():
        return OutputCheck(exists=False, valid=False, reason="missing")
    try:
        with (
            NETCDF_LOCK,
            xr.open_dataset(path, engine="netcdf4", decode_times=False, cache=False) as dataset,
        ):
            for key, value in expected.items():
                recorded = dataset.attrs.get(key)
                if recorded is None or str(recorded) != str(value):
                    return OutputCheck(True, False, f"{key} is {recorded!r}, not {value!r}")
            if variable not in dataset or dataset[variable].shape != tuple(shape):
                return OutputCheck(True, False, f"no {variable} of shape {tuple(shape)}")
            dataset[variable].load()
    except Exception as error:
        return OutputCheck(True, False, f"unreadable: {error}")
    return OutputCheck(exists=True, valid=True, reason="valid")


_ONE_DAY = cftime.DatetimeNoLeap(2001, 1, 2) - cftime.DatetimeNoLeap(2001, 1, 1)
_HALF_DAY = _ONE_DAY / 2


def _noleap_date(year: int, dayofyear: int) -> cftime.DatetimeNoLeap:
    return cftime.DatetimeNoLeap(year, 1, 1) + (dayofyear - 1) * _ONE_DAY


def _encoding(dataset: xr.Dataset) -> dict[str, dict[str, Any]]:
    time_encoding = {"units": CLIMATOLOGY_UNITS, "calendar": CLIMATOLOGY_CALENDAR, "dtype": "f8"}
    encoding: dict[str, dict[str, Any]] = {
        "time": time_encoding,
        "climatology_bnds": time_encoding,
    }
    for name, variable in dataset.data_vars.items():
        if variable.dims == ("dayofyear", "lat", "lon"):
            n_lat, n_lon = variable.shape[1:]
            encoding[name] = {
                **COMPRESSION,
                "dtype": "float32",
                "chunksizes": (CHUNK_DAYS, min(n_lat, CHUNK_CELLS), min(n_lon, CHUNK_CELLS)),
            }
    return encoding


def _global_attrs(metadata: NormalMetadata) -> dict[str, Any]:
    region = metadata.region
    return {
        "Conventions": "CF-1.8",
        "title": (
            f"{metadata.window}-year daily climate normal of {metadata.variable}, "
            f"{region.name}, {metadata.scenario}, target year {metadata.target_year}"
        ),
        "variable": metadata.variable,
        "target_year": np.int32(metadata.target_year),
        "period": metadata.period,
        "scenario": metadata.scenario,
        "source_years": np.array(metadata.source_years, dtype=np.int32),
        "source_years_description": format_years(metadata.source_years),
        "source_scenarios": ",".join(metadata.source_scenarios),
        "scenarios_used": ",".join(metadata.scenarios_used),
        "model": metadata.model,
        "region": region.name,
        "region_bounds": np.array(region.bounds, dtype=np.float64),
        "region_bounds_description": "lon_min, lon_max (degrees east, 0..360), lat_min, lat_max",
        "window": np.int32(metadata.window),
        "min_years": np.int32(metadata.min_years),
        "inputs_fingerprint": metadata.inputs_fingerprint,
        "climaflow_version": __version__,
        "creation_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
