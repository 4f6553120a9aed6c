"""A small synthetic NEX-GDDP-CMIP6 archive: same names, layout, format and metadata as the real one.

No machine that runs the tests reaches the public bucket, so this module writes real NetCDF4
files (with ``netCDF4``) that look like NEX-GDDP-CMIP6's: one file per model, scenario,
variable and year, CF time ``days since 1950-01-01`` at noon with ``time_bnds``, ``lat``/``lon``
with bounds, float32 data compressed with zlib and chunked by day, the archive's variable and
global attributes. The grid is the real 0.25° grid (or a coarser one with the same layout),
optionally cut to a box to keep files small.

Values are deterministic functions of (variable, scenario, date, lat, lon), given by
:func:`expected_value`, plus optional seeded random noise, so tests know what to expect.
"""

import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import cftime
import netCDF4
import numpy as np
import numpy.typing as npt

from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile
from climaflow.datasets.nex_gddp_cmip6.models import NEX_GDDP_MODELS
from climaflow.datasets.nex_gddp_cmip6.template import VARIABLE_ATTRS, nex_gddp_grid

TIME_UNITS = "days since 1950-01-01 00:00:00"
FILL_VALUE = np.float32(1.0e20)
#: What files with undeclared fills hold in their fill cells (CMIP's 1e20, no attribute says so).
UNDECLARED_FILL = np.float32(1.0e20)
REVISION = "v1.1"
#: zlib compression levels netCDF4 accepts.
CompressionLevel = Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


# Warming in K per year after the scenario's first year (historical: since 1950).
_WARMING_RATE = {
    "historical": 0.01,
    "ssp126": 0.01,
    "ssp245": 0.025,
    "ssp370": 0.04,
    "ssp585": 0.05,
}
_NOISE_STD = {"tas": 2.0, "tasmax": 2.5, "tasmin": 2.5, "pr": 0.5}  # K; relative for pr
_DAYS_BEFORE_MONTH = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])


def daily_dates(year: int, calendar: str = "noleap") -> np.ndarray:
    """Noon of every day of ``year`` in ``calendar``, as an array of ``cftime`` datetimes."""
    dates: np.ndarray = cftime.num2date(
        _time_values(year, calendar), TIME_UNITS, calendar, only_use_cftime_datetimes=True
    )
    return dates


def expected_value(
    variable: str,
    scenario: str,
    dates: Collection[Any],
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    version: str | None = None,
) -> npt.NDArray[np.float32]:
    """The noise-free values the synthetic archive holds, shape ``(len(dates), lat, lon)``, float32.

    A function of the calendar date (year, month, day: so 1 March has the same seasonal value
    in leap and non-leap years), latitude, longitude, variable and scenario (each scenario
    warms at its own rate). Files written as revision ``v1.1`` hold these values shifted by
    +0.5 K (temperatures) or scaled by 1.05 (precipitation).
    """
    if variable not in VARIABLE_ATTRS:
        raise ValueError(f"unknown variable {variable!r}; expected one of {sorted(VARIABLE_ATTRS)}")
    year = np.array([d.year for d in dates], dtype=np.float64)[:, None, None]
    month = np.array([d.month for d in dates])
    day = np.array([d.day for d in dates], dtype=np.float64)
    position = (_DAYS_BEFORE_MONTH[month - 1] + day - 0.5 * _is_29_february(month, day))[
        :, None, None
    ]
    season = np.cos(2 * np.pi * (position - 200) / 365)
    lat_rad = np.deg2rad(np.asarray(lat, dtype=np.float64))[None, :, None]
    lon_rad = np.deg2rad(np.asarray(lon, dtype=np.float64))[None, None, :]
    warming = _warming(scenario, year)
    if variable == "pr":
        values = 3e-5 * (1 + 0.5 * season * np.cos(lon_rad)) * (1 + 0.02 * warming)
        values = values * (1 + 0.1 * np.cos(lat_rad))
        if version == REVISION:
            values = values * 1.05
    else:
        offset = {"tas": 0.0, "tasmax": 6.0, "tasmin": -6.0}[variable]
        values = (
            258.0
            + 30.0 * np.cos(lat_rad)
            + 12.0 * season * np.sin(lat_rad)
            + 2.0 * np.sin(lon_rad)
            + warming
            + offset
        )
        if version == REVISION:
            values = values + 0.5
    return np.broadcast_to(values, (len(dates), lat_rad.size, lon_rad.size)).astype(np.float32)


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

    The data are :func:`expected_value` for the file's variable, scenario, year and version,
    plus, when ``seed`` is given, reproducible random noise that depends on the seed, variable,
    scenario and year (precipitation stays non-negative).

    ``undeclared_fills`` writes :data:`UNDECLARED_FILL` on every day in the cells of
    :func:`undeclared_fill_cells`, with no ``_FillValue`` or ``missing_value`` attribute, as
    many CMIP files do. ``n_days`` writes only the year's first days (an incomplete year).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    dates = daily_dates(file.year, calendar)[:n_days]
    values = expected_value(file.variable, file.scenario, dates, lat, lon, version=file.version)
    if seed is not None:
        values = _add_noise(values, file, seed)
    if undeclared_fills:
        values = np.where(undeclared_fill_cells(lat.size, lon.size), UNDECLARED_FILL, values)

    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.setncatts(_global_attrs(file, lat, lon))
        nc.createDimension("time", None)
        nc.createDimension("lat", lat.size)
        nc.createDimension("lon", lon.size)
        nc.createDimension("bnds", 2)

        time_values = _time_values(file.year, calendar)[:n_days]
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
        for name, centres, axis, units, standard_name in (
            ("lat", lat, "Y", "degrees_north", "latitude"),
            ("lon", lon, "X", "degrees_east", "longitude"),
        ):
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

        data = nc.createVariable(
            file.variable,
            "f4",
            ("time", "lat", "lon"),
            zlib=True,
            complevel=complevel,
            shuffle=True,
            chunksizes=(1, lat.size, lon.size),
            fill_value=False if undeclared_fills else FILL_VALUE,
        )
        declared = {} if undeclared_fills else {"missing_value": FILL_VALUE}
        data.setncatts({**VARIABLE_ATTRS[file.variable], **declared})
        data[:] = values
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
    years = list(years)
    known = NEX_GDDP_MODELS.get(model)
    labels = {
        "variant_label": variant_label or (known.variant_label if known else "r1i1p1f1"),
        "grid_label": grid_label or (known.grid_label if known else "gn"),
    }
    calendar = calendar or (known.calendar if known and known.calendar else "noleap")
    files = [
        NexGddpFile(model=model, scenario=scenario, variable=variable, year=year, **labels)
        for variable in variables
        for year in years
    ]
    files += [
        NexGddpFile(model, scenario, variable, year, version=REVISION, **labels)
        for year, variable in revisions
    ]
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


def undeclared_fill_cells(n_lat: int, n_lon: int) -> npt.NDArray[np.bool_]:
    """The ``(lat, lon)`` cells where files with undeclared fills hold them: about one in 7."""
    lat_index, lon_index = np.meshgrid(np.arange(n_lat), np.arange(n_lon), indexing="ij")
    cells: npt.NDArray[np.bool_] = (lat_index + 2 * lon_index) % 7 == 0
    return cells


def _time_values(year: int, calendar: str) -> np.ndarray:
    start, end = cftime.date2num(
        [
            cftime.datetime(year, 1, 1, calendar=calendar),
            cftime.datetime(year + 1, 1, 1, calendar=calendar),
        ],
        TIME_UNITS,
        calendar,
    )
    return np.arange(float(start), float(end), dtype=np.float64) + 0.5


def _is_29_february(month: np.ndarray, day: np.ndarray) -> npt.NDArray[np.bool_]:
    is_29_february: npt.NDArray[np.bool_] = (month == 2) & (day == 29)
    return is_29_february


def _warming(scenario: str, year: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if scenario == "historical":
        return _WARMING_RATE["historical"] * (year - 1950)
    rate = _WARMING_RATE.get(scenario, 0.03)
    return _WARMING_RATE["historical"] * 65 + rate * (year - 2015)


def _add_noise(
    values: npt.NDArray[np.float32], file: NexGddpFile, seed: int
) -> npt.NDArray[np.float32]:
    entropy = [seed, file.year, *file.variable.encode(), *file.scenario.encode()]
    rng = np.random.default_rng(entropy)
    scale = np.float32(_NOISE_STD[file.variable])
    noise: npt.NDArray[np.float32] = rng.standard_normal(values.shape, dtype=np.float32) * scale
    if file.variable == "pr":
        return values * np.exp(noise)
    return values + noise


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
