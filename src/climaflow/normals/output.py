"""Normals on disk: names, contents, atomic writes, and the validity check behind "skip if exists".

One NetCDF4 file per (model, variable, region, scenario, target year)::

    {output}/{model}/{variable}/{scenario}/{REGION}/{variable}_{model}_{REGION}_{scenario}_{T}_30yr_normal.nc

(``30yr`` is the window length). Each file holds the normal with dims
``(target_year, dayofyear, lat, lon)``, ``target_year`` of length 1, so that
``xr.open_mfdataset(files, combine="by_coords")`` stacks a model's target years. The
``time`` coordinate (noon of each day in the window's middle year) and its CF climatology
bounds (CF conventions 7.4) carry the ``target_year`` dimension too. Files are written to ``<name>.tmp-<uuid>`` in the same
directory and renamed with :func:`os.replace`, so a crash never leaves a file that looks done.

Encoding: float32, zlib level 1 with byte shuffle, chunks of 73 days x up to 64 x 64 cells.
zlib is the one NetCDF4 filter every reader has built in (netCDF-C, xarray, CDO, NCO, R,
MATLAB, Panoply), so files open anywhere without HDF5 plugins; shuffle makes it nearly halve
float32 normals; levels above 1 cost 1.5-3x the write time for about 2 % smaller files.
The chunks serve both map (one day) and time-series (one cell) reads.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cftime
import numpy as np
import xarray as xr

from climaflow import __version__
from climaflow.io import atomic_path
from climaflow.locks import NETCDF_LOCK
from climaflow.names import check_path_component
from climaflow.normals.calendar import days_of_year, days_per_year
from climaflow.normals.compute import NORMALS_CELL_METHODS, dayofyear_attrs
from climaflow.normals.periods import format_years
from climaflow.normals.regions import Region

COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}
CHUNK_DAYS = 73
CHUNK_CELLS = 64
CLIMATOLOGY_UNITS = "days since 1950-01-01 00:00:00"


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
    calendar: str
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
    model: str,
    variable: str,
    scenario: str,
    region: str,
    target_year: int,
    window: int = 30,
) -> Path:
    """Where the normal of (model, variable, scenario, region, target year) is written.

    Raises ``ValueError`` for names that could leave ``output`` (``..``, separators).
    """
    name = f"{variable}_{model}_{region}_{scenario}_{target_year}_{window}yr_normal.nc"
    return output_folder(output, model, variable, scenario, region) / name


def output_folder(
    output: str | Path, model: str, variable: str, scenario: str, region: str
) -> Path:
    """``{output}/{model}/{variable}/{scenario}/{region}``, where a run's outputs go.

    Raises ``ValueError`` for names that could leave ``output`` (``..``, separators).
    """
    for value, what in (
        (model, "model"),
        (variable, "variable"),
        (scenario, "scenario"),
        (region, "region"),
    ):
        check_path_component(value, what)
    return Path(output) / model / variable / scenario / region


def normal_dataset(
    values: np.ndarray,
    lat: xr.DataArray,
    lon: xr.DataArray,
    metadata: NormalMetadata,
) -> xr.Dataset:
    """The output dataset: the normal ``(target_year, dayofyear, lat, lon)`` with CF metadata.

    ``values`` is ``(dayofyear, lat, lon)`` on the calendar's day axis (365 days, or 360 for
    360_day); ``lat`` and ``lon`` are the region's coordinates (values and attributes kept).
    """
    days = days_of_year(metadata.calendar)
    first, last = min(metadata.source_years), max(metadata.source_years)
    # Climatology bounds of day N: 00:00 of day N in the first year to 00:00 of the day after
    # day N in the last year (CF 7.4); the time value is noon of day N in the middle year.
    starts = [_day(metadata.calendar, first, day) for day in days]
    ends = [_day(metadata.calendar, last, day) + _ONE_DAY for day in days]
    middle = [_day(metadata.calendar, (first + last) // 2, day) + _HALF_DAY for day in days]
    attrs = {**metadata.variable_attrs, "cell_methods": NORMALS_CELL_METHODS}
    dataset = xr.Dataset(
        {
            metadata.variable: (
                ("target_year", "dayofyear", "lat", "lon"),
                np.asarray(values, dtype=np.float32)[np.newaxis],
                attrs,
            ),
            "climatology_bnds": (
                ("target_year", "dayofyear", "nv"),
                np.array([np.stack([starts, ends], axis=1)]),
            ),
        },
        coords={
            "target_year": (
                "target_year",
                np.array([metadata.target_year], dtype=np.int32),
                {"long_name": "last year of the normal's window"},
            ),
            "dayofyear": ("dayofyear", days, dayofyear_attrs(metadata.calendar)),
            "time": (
                ("target_year", "dayofyear"),
                np.array([middle]),
                {"standard_name": "time", "climatology": "climatology_bnds"},
            ),
            "lat": lat,
            "lon": lon,
        },
    )
    dataset.attrs = _global_attrs(metadata)
    return dataset


def write_normal(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to ``path`` atomically (:func:`climaflow.io.atomic_path`: a temporary
    name in the same folder, fsync, then rename)."""
    path = Path(path)
    with atomic_path(path) as temporary, NETCDF_LOCK:
        dataset.to_netcdf(
            temporary, engine="netcdf4", format="NETCDF4", encoding=_encoding(dataset)
        )
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


def output_calendar(calendar: str) -> str:
    """The calendar of a normal's time axis: 360_day stays, every other one is noleap."""
    return "360_day" if days_per_year(calendar) == 360 else "noleap"


def _day(calendar: str, year: int, dayofyear: int) -> cftime.datetime:
    first = cftime.datetime(year, 1, 1, calendar=output_calendar(calendar))
    return first + (int(dayofyear) - 1) * _ONE_DAY


def _encoding(dataset: xr.Dataset) -> dict[Hashable, dict[str, Any]]:
    calendar = str(dataset.attrs["calendar"])
    time_encoding = {
        "units": CLIMATOLOGY_UNITS,
        "calendar": output_calendar(calendar),
        "dtype": "f8",
        "_FillValue": None,
    }
    encoding: dict[Hashable, dict[str, Any]] = {
        "time": time_encoding,
        "climatology_bnds": time_encoding,
        **{name: {"_FillValue": None} for name in ("target_year", "dayofyear", "lat", "lon")},
    }
    for name, variable in dataset.data_vars.items():
        if variable.dims == ("target_year", "dayofyear", "lat", "lon"):
            n_lat, n_lon = variable.shape[2:]
            encoding[name] = {
                **COMPRESSION,
                "dtype": "float32",
                "chunksizes": (1, CHUNK_DAYS, min(n_lat, CHUNK_CELLS), min(n_lon, CHUNK_CELLS)),
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
        "calendar": metadata.calendar,
        "region": region.name,
        "region_bounds": np.array(region.bounds, dtype=np.float64),
        "region_bounds_description": "lon_min, lon_max (degrees east, 0..360), lat_min, lat_max",
        "window": np.int32(metadata.window),
        "min_years": np.int32(metadata.min_years),
        "inputs_fingerprint": metadata.inputs_fingerprint,
        "climaflow_version": __version__,
        "creation_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
