"""The ``gfs-forecast`` data variables: CF attributes, rounding and GRIB message of each.

The declarations only; what the GRIB fields mean, and how a message is chosen with them, is
:class:`~climaflow.datasets.gfs_forecast.data_var.GfsDataVar`'s documentation.
"""

from functools import partial

import numpy as np

from climaflow.datasets.gfs_forecast.data_var import GfsDataVar, StatisticWindow
from climaflow.reformat.template import Encoding, ProcessingAttrs


def _cf_attrs(long_name: str, standard_name: str, units: str, **more: str) -> dict[str, str]:
    """CF attributes, in the order they are written to the variable's ``zarr.json``."""
    return {"long_name": long_name, "standard_name": standard_name, "units": units, **more}


def gfs_data_vars(
    chunks: tuple[int, ...], shards: tuple[int, ...] | None
) -> tuple[GfsDataVar, ...]:
    """The six ``gfs-forecast`` variables, in output order.

    Parameters
    ----------
    chunks, shards
        The encoding every variable is stored with, as float32 (see
        :class:`~climaflow.reformat.template.Encoding`).

    Returns
    -------
    tuple of GfsDataVar
        Five instantaneous fields, then ``precipitation_surface``: a rate deaccumulated from
        GFS's 6-hour ``APCP`` buckets.
    """
    data_var = partial(GfsDataVar, encoding=Encoding(dtype="float32", chunks=chunks, shards=shards))
    return (
        data_var(
            name="temperature_2m",
            attrs=_cf_attrs("2 metre temperature", "air_temperature", "K"),
            processing=ProcessingAttrs(keep_mantissa_bits=10),
            grib_element="TMP",
            grib_level="2 m above ground",
            grib_short_name="2t",
            grib_type_of_level="heightAboveGround",
            grib_level_value=2,
        ),
        data_var(
            name="relative_humidity_2m",
            attrs=_cf_attrs("2 metre relative humidity", "relative_humidity", "%"),
            processing=ProcessingAttrs(keep_mantissa_bits=7),
            grib_element="RH",
            grib_level="2 m above ground",
            grib_short_name="2r",
            grib_type_of_level="heightAboveGround",
            grib_level_value=2,
        ),
        data_var(
            name="wind_u_10m",
            attrs=_cf_attrs("10 metre U wind component", "eastward_wind", "m s-1"),
            processing=ProcessingAttrs(keep_mantissa_bits=8),
            grib_element="UGRD",
            grib_level="10 m above ground",
            grib_short_name="10u",
            grib_type_of_level="heightAboveGround",
            grib_level_value=10,
        ),
        data_var(
            name="wind_v_10m",
            attrs=_cf_attrs("10 metre V wind component", "northward_wind", "m s-1"),
            processing=ProcessingAttrs(keep_mantissa_bits=8),
            grib_element="VGRD",
            grib_level="10 m above ground",
            grib_short_name="10v",
            grib_type_of_level="heightAboveGround",
            grib_level_value=10,
        ),
        data_var(
            name="pressure_reduced_to_mean_sea_level",
            attrs=_cf_attrs("Pressure reduced to MSL", "air_pressure_at_mean_sea_level", "Pa"),
            processing=ProcessingAttrs(keep_mantissa_bits=13),
            grib_element="PRMSL",
            grib_level="mean sea level",
            grib_short_name="prmsl",
            grib_type_of_level="meanSea",
            grib_level_value=0,
        ),
        data_var(
            name="precipitation_surface",
            attrs=_cf_attrs(
                "Precipitation rate",
                "precipitation_flux",
                "kg m-2 s-1",
                comment="Average rate since the previous lead time, from GRIB APCP totals "
                "accumulated over 6-hour buckets (not the totals since the start).",
            ),
            processing=ProcessingAttrs(
                keep_mantissa_bits=7,
                deaccumulate_to_rate=True,
                reset_frequency=np.timedelta64(6, "h"),
            ),
            grib_element="APCP",
            grib_level="surface",
            grib_short_name="tp",
            grib_type_of_level="surface",
            grib_level_value=0,
            grib_step_type="accum",
            grib_window=StatisticWindow.SINCE_RESET,
        ),
    )
