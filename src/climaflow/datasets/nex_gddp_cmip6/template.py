"""The ``nex-gddp-cmip6`` output dataset: one store per model and scenario, ``time x lat x lon``.

Chunks and shards (real 0.25° grid, 600 x 1440, float32):

- chunk ``365 days x 40 lat x 40 lon`` = 2.3 MB uncompressed: a map of one day reads
  15 x 36 chunks, a cell's 86-year series reads 86 chunks; neither access pattern pays
  for the other much.
- shard ``365 days x 200 lat x 240 lon`` = 70 MB uncompressed, 18 shards a year: one
  shard deep in time is one noleap year, so a region job is one yearly file per variable.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cftime
import numpy as np
import xarray as xr

from climaflow.datasets.nex_gddp_cmip6.models import resolve_model
from climaflow.names import check_path_component
from climaflow.reformat.template import DataVar, Encoding, ProcessingAttrs, Template

TIME_UNITS = "days since 1950-01-01"
NEX_GDDP_CHUNKS = (365, 40, 40)
NEX_GDDP_SHARDS = (365, 200, 240)
#: Mantissa bits kept: temperatures within 0.01 K at 300 K, precipitation within 0.013 %.
KEEP_MANTISSA_BITS = {"tas": 14, "tasmax": 14, "tasmin": 14, "pr": 12}
SCENARIO_FIRST_YEAR = {"historical": 1950}  # every SSP starts in 2015
SSP_FIRST_YEAR = 2015


VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "tas": {
        "units": "K",
        "standard_name": "air_temperature",
        "long_name": "Daily Near-Surface Air Temperature",
    },
    "tasmax": {
        "units": "K",
        "standard_name": "air_temperature",
        "long_name": "Daily Maximum Near-Surface Air Temperature",
    },
    "tasmin": {
        "units": "K",
        "standard_name": "air_temperature",
        "long_name": "Daily Minimum Near-Surface Air Temperature",
    },
    "pr": {
        "units": "kg m-2 s-1",
        "standard_name": "precipitation_flux",
        "long_name": "Precipitation",
    },
}


def nex_gddp_grid(
    resolution_degrees: float = 0.25,
    *,
    lat_bounds: tuple[float, float] | None = None,
    lon_bounds: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes and longitudes of the NEX-GDDP-CMIP6 grid.

    At 0.25° this is the real grid: 600 latitudes -59.875..89.875 and 1440 longitudes
    0.125..359.875. Other resolutions keep its layout (cell centres half a cell inside
    -60..90 N and 0..360 E). ``lat_bounds`` / ``lon_bounds`` keep only the centres inside
    ``[low, high]`` (degrees north; degrees east in 0..360).
    """
    half = resolution_degrees / 2
    lat = np.arange(-60 + half, 90, resolution_degrees)
    lon = np.arange(half, 360, resolution_degrees)
    if lat_bounds is not None:
        lat = lat[(lat >= lat_bounds[0]) & (lat <= lat_bounds[1])]
    if lon_bounds is not None:
        lon = lon[(lon >= lon_bounds[0]) & (lon <= lon_bounds[1])]
    if lat.size == 0 or lon.size == 0:
        raise ValueError(f"no grid cell inside lat {lat_bounds} and lon {lon_bounds}")
    return lat, lon


@dataclass(frozen=True, kw_only=True)
class NexGddpDataVar(DataVar):
    """A NEX-GDDP-CMIP6 variable; ``source_units`` are checked on every file read."""

    source_units: str


def nex_gddp_data_vars(
    variables: tuple[str, ...], chunks: tuple[int, ...], shards: tuple[int, ...] | None
) -> tuple[NexGddpDataVar, ...]:
    """Data variables for ``variables`` (of pr, tas, tasmax, tasmin)."""
    unknown = sorted(set(variables) - set(VARIABLE_ATTRS))
    if unknown:
        raise KeyError(
            f"unknown NEX-GDDP-CMIP6 variables {unknown}; known: {sorted(VARIABLE_ATTRS)}"
        )
    return tuple(
        NexGddpDataVar(
            name=name,
            encoding=Encoding(dtype="float32", chunks=chunks, shards=shards),
            attrs=dict(VARIABLE_ATTRS[name]),
            processing=ProcessingAttrs(keep_mantissa_bits=KEEP_MANTISSA_BITS[name]),
            source_units=VARIABLE_ATTRS[name]["units"],
        )
        for name in variables
    )


def daily_noon_times(first: cftime.datetime, end: Any, calendar: str) -> np.ndarray:
    """Noon of every day from ``first`` up to ``end`` (exclusive), as cftime datetimes."""
    end_value = cftime.date2num(_as_cftime(end, calendar), TIME_UNITS, calendar)
    first_value = cftime.date2num(first, TIME_UNITS, calendar)
    values = np.arange(first_value, end_value, 1.0)
    return np.asarray(cftime.num2date(values, TIME_UNITS, calendar, only_use_cftime_datetimes=True))


def _as_cftime(label: Any, calendar: str) -> cftime.datetime:
    """A time label (``"2015-01-01"``, a year, a datetime) in ``calendar``."""
    if isinstance(label, cftime.datetime):
        return label
    if isinstance(label, int):
        return cftime.datetime(label, 1, 1, calendar=calendar)
    text = str(np.datetime64(label, "s"))
    date, _, clock = text.partition("T")
    year, month, day = (int(part) for part in date.split("-"))
    hour, minute, second = (int(part) for part in (clock or "00:00:00").split(":"))
    return cftime.datetime(year, month, day, hour, minute, second, calendar=calendar)


@dataclass(frozen=True, kw_only=True)
class NexGddpTemplate(Template[NexGddpDataVar]):
    """Daily data of one model and scenario; append dimension ``time`` (noon of each day).

    ``append_dim_end`` may be a year (exclusive: ``2015`` ends on 31 Dec 2014), an ISO date
    string or a cftime datetime.
    """

    dataset_id: str = "nex-gddp-cmip6"
    dims: tuple[str, ...] = ("time", "lat", "lon")
    append_dim: str = "time"
    data_vars: tuple[NexGddpDataVar, ...] = field(
        default_factory=lambda: nex_gddp_data_vars(
            ("pr", "tas", "tasmax", "tasmin"), NEX_GDDP_CHUNKS, NEX_GDDP_SHARDS
        )
    )
    coordinate_attrs: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {
            "time": {"standard_name": "time", "axis": "T"},
            "lat": {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
            "lon": {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
        }
    )
    model: str = "NorESM2-LM"
    scenario: str = "historical"
    variant_label: str = "r1i1p1f1"
    grid_label: str = "gn"
    calendar: str = "noleap"
    resolution_degrees: float = 0.25
    lat_bounds: tuple[float, float] | None = None
    lon_bounds: tuple[float, float] | None = None

    @property
    def first_time(self) -> cftime.datetime:
        year = SCENARIO_FIRST_YEAR.get(self.scenario, SSP_FIRST_YEAR)
        return cftime.datetime(year, 1, 1, 12, calendar=self.calendar)

    def append_dim_label(self, value: Any) -> cftime.datetime:
        return _as_cftime(value, self.calendar)

    def dimension_coordinates(self, append_dim_end: Any) -> dict[str, np.ndarray]:
        lat, lon = nex_gddp_grid(
            self.resolution_degrees, lat_bounds=self.lat_bounds, lon_bounds=self.lon_bounds
        )
        return {
            "time": daily_noon_times(self.first_time, append_dim_end, self.calendar),
            "lat": lat,
            "lon": lon,
        }

    def to_dataset(
        self, append_dim_end: Any, *, coordinates: Mapping[str, np.ndarray] | None = None
    ) -> xr.Dataset:
        ds = super().to_dataset(append_dim_end, coordinates=coordinates)
        ds.attrs.update(
            {
                "title": f"NEX-GDDP-CMIP6 {self.model} {self.scenario}",
                "source": "NASA NEX-GDDP-CMIP6 daily bias-corrected downscaled CMIP6",
                "model_id": self.model,
                "scenario": self.scenario,
                "variant_label": self.variant_label,
                "grid_label": self.grid_label,
                "Conventions": "CF-1.10",
            }
        )
        ds["time"].encoding.update(
            {"units": TIME_UNITS, "calendar": self.calendar, "dtype": "float64"}
        )
        return ds


def make_nex_gddp_template(
    *,
    model: str = "NorESM2-LM",
    scenario: str = "historical",
    variables: tuple[str, ...] = ("pr", "tas", "tasmax", "tasmin"),
    calendar: str | None = None,
    variant_label: str | None = None,
    grid_label: str | None = None,
    source_url: str | None = None,
    resolution_degrees: float = 0.25,
    lat_bounds: tuple[float, float] | None = None,
    lon_bounds: tuple[float, float] | None = None,
    chunks: tuple[int, ...] = NEX_GDDP_CHUNKS,
    shards: tuple[int, ...] | None = NEX_GDDP_SHARDS,
) -> NexGddpTemplate:
    """A ``nex-gddp-cmip6`` template; the defaults are the real dataset's.

    The model's variant and grid labels default to what
    :func:`~climaflow.datasets.nex_gddp_cmip6.models.resolve_model` finds: the listing of the
    archive at ``source_url`` when given, else the table of the real archive's models; its
    calendar defaults to the table's (``noleap`` for a model not in it).
    """
    check_path_component(model, "model")
    check_path_component(scenario, "scenario")
    info = resolve_model(
        source_url, model, scenario, variant_label=variant_label, grid_label=grid_label
    )
    calendar = calendar or info.calendar or "noleap"
    return NexGddpTemplate(
        data_vars=nex_gddp_data_vars(variables, chunks, shards),
        model=model,
        scenario=scenario,
        variant_label=info.variant_label,
        grid_label=info.grid_label,
        calendar=calendar,
        resolution_degrees=resolution_degrees,
        lat_bounds=lat_bounds,
        lon_bounds=lon_bounds,
    )
