"""Writing the synthetic NEX-GDDP-CMIP6 archive: one NetCDF4 file per variable and year."""

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import netCDF4
import numpy as np

from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile
from climaflow.datasets.nex_gddp_cmip6.models import NEX_GDDP_MODELS
from climaflow.datasets.nex_gddp_cmip6.template import VARIABLE_ATTRS, nex_gddp_grid
from climaflow.testing.nex_gddp_archive.values import (
    REVISION,
    TIME_UNITS,
    daily_time_values,
    file_values,
)

__all__ = [
    "FILL_VALUE",
    "CompressionLevel",
    "write_synthetic_nex_gddp_archive",
    "write_synthetic_year_file",
]

FILL_VALUE = np.float32(1.0e20)
#: zlib compression levels netCDF4 accepts.
CompressionLevel = Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def write_synthetic_year_file(
    path: str | Path,
    file: NexGddpFile,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    calendar: str = "noleap",
    seed: int | None = None,
    complevel: CompressionLevel = 1,
    undeclared_fills: bool = False,
    n_days: int | None = None,
) -> Path:
    """Write one yearly file of the archive at ``path`` and return the path.

    The data are :func:`~climaflow.testing.nex_gddp_archive.values.file_values` for the same
    arguments: the file's :func:`expected_value`, plus, when ``seed`` is given, reproducible
    random noise (precipitation stays non-negative). ``undeclared_fills`` writes
    :data:`UNDECLARED_FILL` in the cells of :func:`undeclared_fill_cells`, with no
    ``_FillValue`` or ``missing_value`` attribute, as many CMIP files do. ``n_days`` writes only
    the year's first days (an incomplete year).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    values = file_values(
        file,
        lat,
        lon,
        calendar=calendar,
        seed=seed,
        undeclared_fills=undeclared_fills,
        n_days=n_days,
    )
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.setncatts(_global_attrs(file, lat, lon))
        nc.createDimension("time", None)
        nc.createDimension("lat", lat.size)
        nc.createDimension("lon", lon.size)
        nc.createDimension("bnds", 2)
        _write_time(nc, daily_time_values(file.year, calendar)[:n_days], calendar)
        _write_coordinate(nc, "lat", lat, axis="Y", units="degrees_north", standard_name="latitude")
        _write_coordinate(nc, "lon", lon, axis="X", units="degrees_east", standard_name="longitude")
        _write_data(
            nc, file.variable, values, complevel=complevel, declare_fills=not undeclared_fills
        )
    return path


def write_synthetic_nex_gddp_archive(
    root: str | Path,
    *,
    model: str = "NorESM2-LM",
    scenario: str = "historical",
    variables: Iterable[str] = ("tas",),
    years: Iterable[int],
    resolution_degrees: float = 0.25,
    lat_bounds: tuple[float, float] | None = None,
    lon_bounds: tuple[float, float] | None = None,
    lat: np.ndarray | None = None,
    lon: np.ndarray | None = None,
    calendar: str | None = None,
    seed: int | None = None,
    revisions: Iterable[tuple[int, str]] = (),
    complevel: CompressionLevel = 1,
    variant_label: str | None = None,
    grid_label: str | None = None,
    undeclared_fill_years: Iterable[int] = (),
    incomplete_years: Mapping[int, int] | None = None,
) -> list[Path]:
    """Write one scenario of a synthetic NEX-GDDP-CMIP6 archive under ``root``.

    Parameters
    ----------
    root
        Archive root; files land at
        ``{root}/{model}/{scenario}/{variant}/{var}/{var}_day_{model}_{scenario}_{variant}_{grid}_{year}.nc``.
    model, scenario, variables, years
        What to write: one file per variable and year. Call again for another scenario.
    resolution_degrees, lat_bounds, lon_bounds
        The grid (see :func:`nex_gddp_grid`); ignored when ``lat`` and ``lon`` are given.
    lat, lon
        Explicit cell centres (e.g. longitudes in -180..180), overriding the grid options.
    calendar
        ``"noleap"``, ``"standard"`` (29 February in leap years), ``"360_day"`` (twelve
        30-day months): the calendars of the archive's models. By default the real
        archive's calendar of ``model``, ``"noleap"`` for other models.
    seed
        When given, reproducible random noise is added to :func:`expected_value`.
    revisions
        ``(year, variable)`` pairs also written as a ``_v1.1`` revision next to the original,
        with the revised values of :func:`expected_value`.
    complevel
        zlib compression level of the data variable.
    variant_label, grid_label
        The labels in paths and names; by default the real archive's for ``model`` (see
        :data:`~climaflow.datasets.nex_gddp_cmip6.models.NEX_GDDP_MODELS`), ``r1i1p1f1`` and
        ``gn`` for other models.
    undeclared_fill_years
        Years whose files hold undeclared fill values (see :func:`write_synthetic_year_file`).
    incomplete_years
        ``{year: n_days}``: years whose files stop after their first ``n_days`` days.

    Returns
    -------
    The written paths, originals first, in variable then year order.
    """
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon, or neither")
    if lat is None or lon is None:
        lat, lon = nex_gddp_grid(resolution_degrees, lat_bounds=lat_bounds, lon_bounds=lon_bounds)
    known = NEX_GDDP_MODELS.get(model)
    calendar = calendar or (known.calendar if known and known.calendar else "noleap")
    files = _archive_files(
        model,
        scenario,
        variables,
        years,
        revisions,
        variant_label=variant_label or (known.variant_label if known else "r1i1p1f1"),
        grid_label=grid_label or (known.grid_label if known else "gn"),
    )
    fill_years = set(undeclared_fill_years)
    incomplete_years = incomplete_years or {}
    return [
        write_synthetic_year_file(
            file.path(root),
            file,
            lat,
            lon,
            calendar=calendar,
            seed=seed,
            complevel=complevel,
            undeclared_fills=file.year in fill_years,
            n_days=incomplete_years.get(file.year),
        )
        for file in files
    ]


def _archive_files(
    model: str,
    scenario: str,
    variables: Iterable[str],
    years: Iterable[int],
    revisions: Iterable[tuple[int, str]],
    *,
    variant_label: str,
    grid_label: str,
) -> list[NexGddpFile]:
    """The files of one scenario: originals by variable then year, then the revisions."""
    labels = {"variant_label": variant_label, "grid_label": grid_label}
    years = list(years)
    originals = [
        NexGddpFile(model=model, scenario=scenario, variable=variable, year=year, **labels)
        for variable in variables
        for year in years
    ]
    revised = [
        NexGddpFile(model, scenario, variable, year, version=REVISION, **labels)
        for year, variable in revisions
    ]
    return originals + revised


def _write_time(nc: netCDF4.Dataset, time_values: np.ndarray, calendar: str) -> None:
    """The CF ``time`` coordinate of daily means at noon, with day-long ``time_bnds``."""
    time = nc.createVariable("time", "f8", ("time",))
    time.setncatts(
        {
            "standard_name": "time",
            "long_name": "time",
            "axis": "T",
            "units": TIME_UNITS,
            "calendar": calendar,
            "bounds": "time_bnds",
        }
    )
    time[:] = time_values
    nc.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = np.stack(
        [time_values - 0.5, time_values + 0.5], axis=1
    )


def _write_coordinate(
    nc: netCDF4.Dataset,
    name: str,
    centres: np.ndarray,
    *,
    axis: str,
    units: str,
    standard_name: str,
) -> None:
    """The CF coordinate ``name`` holding cell ``centres``, with its ``{name}_bnds``."""
    coordinate = nc.createVariable(name, "f8", (name,))
    coordinate.setncatts(
        {
            "standard_name": standard_name,
            "long_name": standard_name,
            "units": units,
            "axis": axis,
            "bounds": f"{name}_bnds",
        }
    )
    coordinate[:] = centres
    nc.createVariable(f"{name}_bnds", "f8", (name, "bnds"))[:] = _cell_bounds(centres)


def _write_data(
    nc: netCDF4.Dataset,
    variable: str,
    values: np.ndarray,
    *,
    complevel: CompressionLevel,
    declare_fills: bool,
) -> None:
    """The float32 data variable, zlib-compressed and chunked by day.

    With ``declare_fills``, :data:`FILL_VALUE` is declared as ``_FillValue`` and
    ``missing_value``; otherwise neither attribute is written (and netCDF4 fills nothing).
    """
    n_lat, n_lon = values.shape[1:]
    data = nc.createVariable(
        variable,
        "f4",
        ("time", "lat", "lon"),
        zlib=True,
        complevel=complevel,
        shuffle=True,
        chunksizes=(1, n_lat, n_lon),
        fill_value=FILL_VALUE if declare_fills else False,
    )
    declared = {"missing_value": FILL_VALUE} if declare_fills else {}
    data.setncatts({**VARIABLE_ATTRS[variable], **declared})
    data[:] = values


def _cell_bounds(centres: np.ndarray) -> np.ndarray:
    if centres.size == 1:
        return np.array([[centres[0] - 0.125, centres[0] + 0.125]])
    edges = np.concatenate(
        [
            [centres[0] - (centres[1] - centres[0]) / 2],
            (centres[:-1] + centres[1:]) / 2,
            [centres[-1] + (centres[-1] - centres[-2]) / 2],
        ]
    )
    return np.stack([edges[:-1], edges[1:]], axis=1)


def _global_attrs(file: NexGddpFile, lat: np.ndarray, lon: np.ndarray) -> dict[str, str]:
    resolution = float(abs(lat[1] - lat[0])) if lat.size > 1 else 0.25
    return {
        "activity": "NEX-GDDP-CMIP6",
        "contact": "Dr. Rama Nemani: rama.nemani@nasa.gov, Dr. Bridget Thrasher: bridget@climateanalyticsgroup.org",
        "Conventions": "CF-1.7",
        "creation_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "frequency": "day",
        "institution": "NASA Earth Exchange, NASA Ames Research Center, Moffett Field, CA 94035",
        "model_id": file.model,
        "cmip6_source_id": file.model,
        "scenario": file.scenario,
        "variant_label": file.variant_label,
        "version": (file.version or "v1.0").removeprefix("v"),
        "product": "output",
        "realm": "atmos",
        "source": "BCSD",
        "resolution_id": f"{resolution:g} degree",
        "title": (
            f"{file.model}, {file.variant_label}, {file.scenario}, "
            "global downscaled CMIP6 climate projection data"
        ),
        "references": "BCSD method: Thrasher et al., 2012, Hydrol. Earth Syst. Sci.,16, 3309-3314.",
        "tracking_id": str(uuid.uuid5(uuid.NAMESPACE_URL, file.relative_path)),
        "comment": (
            "Synthetic data written by climaflow for tests and demos: values are deterministic "
            "functions of variable, scenario, date, lat and lon (plus seeded noise)."
        ),
    }
