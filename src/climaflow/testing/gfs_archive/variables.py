"""The variables of the synthetic GFS archive: GRIB keys, inventory names and value shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

PRECIPITATION_BUCKET_HOURS = 6

CONVECTIVE_FRACTION = 0.4

SECONDS_PER_HOUR = 3600.0

EPOCH = datetime(2000, 1, 1)


@dataclass(frozen=True)
class SyntheticVariable:
    """How one variable is encoded in GRIB2, named in the ``.idx`` and decoded by cfgrib.

    Attributes
    ----------
    name
        Key in :data:`VARIABLES`, e.g. ``"temperature_2m"``.
    idx_variable
        wgrib2 variable abbreviation in the ``.idx``, e.g. ``"TMP"``.
    idx_level
        wgrib2 level string in the ``.idx``, e.g. ``"2 m above ground"``.
    short_name
        eccodes/cfgrib ``shortName``, e.g. ``"2t"``.
    type_of_level
        eccodes/cfgrib ``typeOfLevel``, e.g. ``"heightAboveGround"``.
    level
        eccodes/cfgrib ``level`` (m for heights, hPa for isobaric levels, 0 otherwise).
    discipline, parameter_category, parameter_number
        GRIB2 parameter triple.
    type_of_first_fixed_surface
        GRIB2 code table 4.5 (1 ground, 100 isobaric, 101 mean sea level, 103 height above
        ground).
    scaled_value_of_first_fixed_surface
        Level value in the surface's SI unit (Pa or m), scale factor 0.
    units
        Units of the values.
    step_type
        ``"instant"``, ``"accum"`` or ``"avg"``.
    since_start
        For a statistic: whether each file also holds it since initialisation (``0-L``), after
        the bucket (``b-L``); GFS does so for accumulations.
    noise_scale
        Amplitude of the optional seeded noise, in ``units`` (a relative factor for
        precipitation).
    """

    name: str
    idx_variable: str
    idx_level: str
    short_name: str
    type_of_level: str
    level: int
    discipline: int
    parameter_category: int
    parameter_number: int
    type_of_first_fixed_surface: int
    scaled_value_of_first_fixed_surface: int
    units: str
    step_type: Literal["instant", "accum", "avg"] = "instant"
    since_start: bool = False
    noise_scale: float = 0.0


def make_variable(*args: Any, **kwargs: Any) -> SyntheticVariable:
    return SyntheticVariable(*args, **kwargs)


VARIABLES: dict[str, SyntheticVariable] = {
    v.name: v
    for v in (
        make_variable(
            "pressure_reduced_to_mean_sea_level", "PRMSL", "mean sea level", "prmsl", "meanSea",
            0, 0, 3, 1, 101, 0, "Pa", noise_scale=50.0,
        ),
        make_variable(
            "temperature_2hpa", "TMP", "2 mb", "t", "isobaricInhPa",
            2, 0, 0, 0, 100, 200, "K", noise_scale=0.5,
        ),
        make_variable(
            "geopotential_height_500hpa", "HGT", "500 mb", "gh", "isobaricInhPa",
            500, 0, 3, 5, 100, 50000, "gpm", noise_scale=5.0,
        ),
        make_variable(
            "temperature_850hpa", "TMP", "850 mb", "t", "isobaricInhPa",
            850, 0, 0, 0, 100, 85000, "K", noise_scale=0.5,
        ),
        make_variable(
            "temperature_2m", "TMP", "2 m above ground", "2t", "heightAboveGround",
            2, 0, 0, 0, 103, 2, "K", noise_scale=0.5,
        ),
        make_variable(
            "relative_humidity_2m", "RH", "2 m above ground", "2r", "heightAboveGround",
            2, 0, 1, 1, 103, 2, "%", noise_scale=2.0,
        ),
        make_variable(
            "wind_u_10m", "UGRD", "10 m above ground", "10u", "heightAboveGround",
            10, 0, 2, 2, 103, 10, "m s-1", noise_scale=0.5,
        ),
        make_variable(
            "wind_v_10m", "VGRD", "10 m above ground", "10v", "heightAboveGround",
            10, 0, 2, 3, 103, 10, "m s-1", noise_scale=0.5,
        ),
        make_variable(
            "precipitation_rate", "PRATE", "surface", "prate", "surface",
            0, 0, 1, 7, 1, 0, "kg m-2 s-1",
        ),
        make_variable(
            "precipitation_rate_average", "PRATE", "surface", "prate", "surface",
            0, 0, 1, 7, 1, 0, "kg m-2 s-1", step_type="avg",
        ),
        make_variable(
            "precipitation_surface", "APCP", "surface", "tp", "surface",
            0, 0, 1, 8, 1, 0, "kg m-2", step_type="accum", since_start=True, noise_scale=0.5,
        ),
        make_variable(
            "convective_precipitation", "ACPCP", "surface", "acpcp", "surface",
            0, 0, 1, 10, 1, 0, "kg m-2", step_type="accum", since_start=True,
        ),
    )
}  # fmt: skip

DISTRACTOR_VARIABLES: tuple[str, ...] = (
    "temperature_2hpa",
    "geopotential_height_500hpa",
    "temperature_850hpa",
    "precipitation_rate",
    "precipitation_rate_average",
    "convective_precipitation",
)

DEFAULT_VARIABLES: tuple[str, ...] = (
    "pressure_reduced_to_mean_sea_level",
    "temperature_2m",
    "relative_humidity_2m",
    "wind_u_10m",
    "wind_v_10m",
    "precipitation_surface",
)

PRECIPITATION = "precipitation_surface"
