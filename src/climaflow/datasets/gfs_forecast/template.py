"""The ``gfs-forecast`` output dataset: NOAA GFS 0.25° forecasts by init and lead time.

Chunks and shards (real grid, float32):

- chunk ``1 init x 105 leads x 121 lat x 121 lon`` = 6.2 MB uncompressed: a point's full
  forecast is 2 chunks per init time; a map at one lead is 6 x 12 chunks.
- shard ``1 init x 210 leads x 363 lat x 363 lon`` = 110 MB uncompressed (about 20-40 MB
  after rounding and zstd): objects large enough for cloud storage, and 8 independent
  shard writes per variable and init time so writes spread over workers.

One init time is one shard deep, so every init time is its own region job.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from climaflow.reformat.grib_index import ForecastTime
from climaflow.reformat.grib_read import MessageKeys
from climaflow.reformat.template import DataVar, Encoding, ProcessingAttrs, Template

HOUR = np.timedelta64(1, "h")

#: The real GFS lead times: hourly to 120 h, then 3-hourly to 384 h (209 steps).
GFS_LEAD_TIMES_HOURS: tuple[int, ...] = (*range(0, 121), *range(123, 385, 3))
GFS_INIT_TIME_START = np.datetime64("2021-05-01T00", "ns")
GFS_INIT_TIME_FREQUENCY = np.timedelta64(6, "h")
GFS_RESOLUTION_DEGREES = 0.25
GFS_CHUNKS = (1, 105, 121, 121)
GFS_SHARDS = (1, 210, 363, 363)


class StatisticWindow(StrEnum):
    """Which window a GFS statistical message (accumulation, average, extreme) covers.

    A GFS file at lead ``L > 0`` holds its statistics over two windows, e.g. at lead 7:
    ``APCP:surface:6-7 hour acc fcst`` and ``APCP:surface:0-7 hour acc fcst``.
    """

    SINCE_RESET = "since_reset"
    """From the last reset (a multiple of the bucket length below ``L``) to ``L``: 6-7 h at
    lead 7, 0-6 h at lead 6. Accumulations over it deaccumulate with a ``reset_frequency``
    of the bucket length."""
    SINCE_START = "since_start"
    """From the initialisation to ``L``: 0-7 h at lead 7. Accumulations over it deaccumulate
    with ``reset_frequency=None``."""


#: GFS resets its accumulations, averages and extremes every 6 forecast hours.
GFS_STATISTIC_BUCKET_HOURS = 6

#: eccodes ``stepType`` of each GFS statistic and wgrib2's name for it in ``.idx`` inventories.
IDX_STATISTICS: Mapping[str, str] = {"accum": "acc", "avg": "ave", "max": "max", "min": "min"}


@dataclass(frozen=True, kw_only=True)
class GfsDataVar(DataVar):
    """A GFS variable and the GRIB messages it comes from.

    Attributes
    ----------
    grib_element, grib_level
        The message's variable and level as NOAA ``.idx`` inventories spell them
        (``TMP``, ``2 m above ground``).
    grib_short_name, grib_type_of_level, grib_level_value, grib_step_type
        The eccodes/cfgrib keys the message must have (``2t``, ``heightAboveGround``, 2,
        ``instant``); ``grib_step_type`` is ``"instant"`` or a statistic of
        :data:`IDX_STATISTICS` (``"accum"``, ``"avg"``, ``"max"``, ``"min"``).
    grib_window
        For a statistic, which of the file's windows the variable takes (ignored for
        instantaneous variables). ``None`` leaves it open: only for sources holding one
        window per lead, since selecting from a GFS file at leads above the first bucket
        then matches two different messages and fails.
    grib_bucket_hours
        Length of the reset cycle of :attr:`StatisticWindow.SINCE_RESET`.

    Raises
    ------
    ValueError
        On construction, for an unknown ``grib_step_type``, or a variable deaccumulated to a
        rate whose window does not agree with ``processing.reset_frequency`` (the bucket length
        for ``SINCE_RESET``, ``None`` for ``SINCE_START``).
    """

    grib_element: str
    grib_level: str
    grib_short_name: str
    grib_type_of_level: str
    grib_level_value: int
    grib_step_type: str = "instant"
    grib_window: StatisticWindow | None = StatisticWindow.SINCE_RESET
    grib_bucket_hours: int = GFS_STATISTIC_BUCKET_HOURS

    def __post_init__(self) -> None:
        if self.grib_step_type != "instant" and self.grib_step_type not in IDX_STATISTICS:
            raise ValueError(
                f"{self.name}: grib_step_type {self.grib_step_type!r} is not 'instant' or one "
                f"of {sorted(IDX_STATISTICS)}"
            )
        if self.processing.deaccumulate_to_rate:
            self._check_deaccumulation()

    def _check_deaccumulation(self) -> None:
        if self.grib_step_type != "accum" or self.grib_window is None:
            raise ValueError(
                f"{self.name}: only an accumulation over a declared window can be "
                f"deaccumulated to a rate (grib_step_type {self.grib_step_type!r}, "
                f"grib_window {self.grib_window})"
            )
        reset = self.processing.reset_frequency
        if self.grib_window is StatisticWindow.SINCE_START:
            consistent, expected = reset is None, "None"
        else:
            bucket = np.timedelta64(self.grib_bucket_hours, "h")
            consistent, expected = reset is not None and reset == bucket, str(bucket)
        if not consistent:
            raise ValueError(
                f"{self.name}: accumulations {self.grib_window} need reset_frequency "
                f"{expected}, got {reset}"
            )

    @property
    def is_statistic(self) -> bool:
        """Whether the message is a statistic over a time window rather than a point in time."""
        return self.grib_step_type != "instant"

    def present_at(self, lead_hours: int) -> bool:
        """Whether GFS files at this lead hold the variable (no statistics at lead 0)."""
        return not self.is_statistic or lead_hours > 0

    def window_start(self, lead_hours: int) -> int | None:
        """First forecast hour of the message at this lead (``lead_hours`` for instantaneous
        variables); ``None`` when the window is left open."""
        if not self.is_statistic:
            return lead_hours
        if self.grib_window is StatisticWindow.SINCE_RESET:
            return (lead_hours - 1) // self.grib_bucket_hours * self.grib_bucket_hours
        if self.grib_window is StatisticWindow.SINCE_START:
            return 0
        return None

    def matches_forecast(self, forecast: ForecastTime, lead_hours: int) -> bool:
        """Whether an inventory line with this forecast field is the variable's at this lead.

        Times are compared as numbers, so ``0-1 day acc fcst`` is the 0-24 h window.
        """
        if forecast.end_hours != lead_hours:
            return False
        if not self.is_statistic:
            return forecast.statistic is None
        start = self.window_start(lead_hours)
        return forecast.statistic == IDX_STATISTICS[self.grib_step_type] and (
            start is None or forecast.start_hours == start
        )

    def describe_forecast(self, lead_hours: int) -> str:
        """The wanted forecast field at this lead, for messages: ``"6-7 hour acc fcst"``."""
        if not self.is_statistic:
            return str(ForecastTime(lead_hours, lead_hours))
        start = self.window_start(lead_hours)
        window = f"{start}-{lead_hours}" if start is not None else f"(any)-{lead_hours}"
        return f"{window} hour {IDX_STATISTICS[self.grib_step_type]} fcst"

    def grib_keys(self, lead_hours: int) -> MessageKeys:
        """The keys the variable's GRIB message must have at this lead; ``stepRange`` is
        pinned (``"7"``, ``"6-7"``) unless the window is left open."""
        start = self.window_start(lead_hours)
        if start is None:
            step_range = None
        elif self.is_statistic:
            step_range = f"{start}-{lead_hours}"
        else:
            step_range = str(lead_hours)
        return MessageKeys(
            self.grib_short_name,
            self.grib_type_of_level,
            self.grib_level_value,
            self.grib_step_type,
            step_range,
        )


def gfs_grid(resolution_degrees: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """The global GFS regular lat-lon grid at a resolution.

    Parameters
    ----------
    resolution_degrees
        Grid spacing in degrees; 180 and 360 must be whole multiples of it and it must be a
        whole number of micro-degrees (GRIB2's unit), e.g. 0.25 (real GFS: 721 x 1440), 2.5, 5.

    Returns
    -------
    latitudes, longitudes
        Float64 1-D arrays: latitudes from 90 down to -90 inclusive, longitudes from 0 up to
        ``360 - resolution_degrees``.
    """
    res = float(resolution_degrees)
    if not res > 0:
        raise ValueError(f"resolution must be positive, got {resolution_degrees}")
    n_lat = round(180.0 / res)
    n_lon = round(360.0 / res)
    micro = round(res * 1e6)
    if abs(n_lat * res - 180.0) > 1e-9 or abs(n_lon * res - 360.0) > 1e-9:
        raise ValueError(f"180 and 360 must be whole multiples of the resolution {res}")
    if abs(micro - res * 1e6) > 1e-6:
        raise ValueError(f"resolution {res} is not a whole number of micro-degrees")
    latitudes = 90.0 - res * np.arange(n_lat + 1, dtype=np.float64)
    longitudes = res * np.arange(n_lon, dtype=np.float64)
    return latitudes, longitudes


def gfs_data_vars(
    chunks: tuple[int, ...], shards: tuple[int, ...] | None
) -> tuple[GfsDataVar, ...]:
    """The six ``gfs-forecast`` variables, all stored with ``chunks`` and ``shards``."""
    encoding = Encoding(dtype="float32", chunks=chunks, shards=shards)
    return (
        GfsDataVar(
            name="temperature_2m",
            encoding=encoding,
            attrs={
                "long_name": "2 metre temperature",
                "standard_name": "air_temperature",
                "units": "K",
            },
            processing=ProcessingAttrs(keep_mantissa_bits=10),
            grib_element="TMP",
            grib_level="2 m above ground",
            grib_short_name="2t",
            grib_type_of_level="heightAboveGround",
            grib_level_value=2,
        ),
        GfsDataVar(
            name="relative_humidity_2m",
            encoding=encoding,
            attrs={
                "long_name": "2 metre relative humidity",
                "standard_name": "relative_humidity",
                "units": "%",
            },
            processing=ProcessingAttrs(keep_mantissa_bits=7),
            grib_element="RH",
            grib_level="2 m above ground",
            grib_short_name="2r",
            grib_type_of_level="heightAboveGround",
            grib_level_value=2,
        ),
        GfsDataVar(
            name="wind_u_10m",
            encoding=encoding,
            attrs={
                "long_name": "10 metre U wind component",
                "standard_name": "eastward_wind",
                "units": "m s-1",
            },
            processing=ProcessingAttrs(keep_mantissa_bits=8),
            grib_element="UGRD",
            grib_level="10 m above ground",
            grib_short_name="10u",
            grib_type_of_level="heightAboveGround",
            grib_level_value=10,
        ),
        GfsDataVar(
            name="wind_v_10m",
            encoding=encoding,
            attrs={
                "long_name": "10 metre V wind component",
                "standard_name": "northward_wind",
                "units": "m s-1",
            },
            processing=ProcessingAttrs(keep_mantissa_bits=8),
            grib_element="VGRD",
            grib_level="10 m above ground",
            grib_short_name="10v",
            grib_type_of_level="heightAboveGround",
            grib_level_value=10,
        ),
        GfsDataVar(
            name="pressure_reduced_to_mean_sea_level",
            encoding=encoding,
            attrs={
                "long_name": "Pressure reduced to MSL",
                "standard_name": "air_pressure_at_mean_sea_level",
                "units": "Pa",
            },
            processing=ProcessingAttrs(keep_mantissa_bits=13),
            grib_element="PRMSL",
            grib_level="mean sea level",
            grib_short_name="prmsl",
            grib_type_of_level="meanSea",
            grib_level_value=0,
        ),
        GfsDataVar(
            name="precipitation_surface",
            encoding=encoding,
            attrs={
                "long_name": "Precipitation rate",
                "standard_name": "precipitation_flux",
                "units": "kg m-2 s-1",
                "comment": "Average rate since the previous lead time, from GRIB APCP "
                "totals accumulated over 6-hour buckets (not the totals since the start).",
            },
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


@dataclass(frozen=True, kw_only=True)
class GfsForecastTemplate(Template[GfsDataVar]):
    """``init_time x lead_time x latitude x longitude``; append dimension ``init_time``.

    The defaults describe the real 0.25° GFS; tests scale the grid, leads and chunks down
    with :func:`make_gfs_template`.
    """

    dataset_id: str = "gfs-forecast"
    dims: tuple[str, ...] = ("init_time", "lead_time", "latitude", "longitude")
    append_dim: str = "init_time"
    data_vars: tuple[GfsDataVar, ...] = field(
        default_factory=lambda: gfs_data_vars(GFS_CHUNKS, GFS_SHARDS)
    )
    attrs: Mapping[str, Any] = field(
        default_factory=lambda: {
            "title": "NOAA GFS forecast",
            "source": "NOAA Global Forecast System, 0.25 degree GRIB2 (pgrb2.0p25)",
            "institution": "NOAA NCEP",
            "Conventions": "CF-1.10",
        }
    )
    coordinate_attrs: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {
            "init_time": {
                "long_name": "Forecast initialization time",
                "standard_name": "forecast_reference_time",
            },
            "lead_time": {"long_name": "Forecast lead time", "standard_name": "forecast_period"},
            "valid_time": {"long_name": "Valid time", "standard_name": "time"},
            "latitude": {"units": "degrees_north", "standard_name": "latitude"},
            "longitude": {"units": "degrees_east", "standard_name": "longitude"},
        }
    )
    coordinate_encoding: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {
            "init_time": {"units": "seconds since 1970-01-01", "dtype": "int64"},
            "lead_time": {"units": "seconds", "dtype": "int64"},
            "valid_time": {"units": "seconds since 1970-01-01", "dtype": "int64"},
        }
    )
    init_time_start: np.datetime64 = GFS_INIT_TIME_START
    init_time_frequency: np.timedelta64 = GFS_INIT_TIME_FREQUENCY
    lead_times_hours: tuple[int, ...] = GFS_LEAD_TIMES_HOURS
    resolution_degrees: float = GFS_RESOLUTION_DEGREES

    def dimension_coordinates(self, append_dim_end: Any) -> dict[str, np.ndarray]:
        latitudes, longitudes = gfs_grid(self.resolution_degrees)
        return {
            "init_time": np.arange(
                # numpy's stub omits the datetime64-and-unit form of the constructor.
                np.datetime64(self.init_time_start, "ns"),  # type: ignore[call-overload]
                np.datetime64(append_dim_end, "ns"),
                self.init_time_frequency,
            ).astype("datetime64[ns]"),
            "lead_time": (np.array(self.lead_times_hours) * HOUR).astype("timedelta64[ns]"),
            "latitude": latitudes,
            "longitude": longitudes,
        }

    def derived_coordinates(
        self, dimension_coordinates: Mapping[str, np.ndarray]
    ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        init = dimension_coordinates["init_time"][:, None]
        lead = dimension_coordinates["lead_time"][None, :]
        return {"valid_time": (("init_time", "lead_time"), init + lead)}


def make_gfs_template(
    *,
    resolution_degrees: float = GFS_RESOLUTION_DEGREES,
    lead_times_hours: tuple[int, ...] = GFS_LEAD_TIMES_HOURS,
    init_time_start: np.datetime64 = GFS_INIT_TIME_START,
    chunks: tuple[int, ...] = GFS_CHUNKS,
    shards: tuple[int, ...] | None = GFS_SHARDS,
) -> GfsForecastTemplate:
    """A ``gfs-forecast`` template; the defaults are the real dataset's."""
    return GfsForecastTemplate(
        data_vars=gfs_data_vars(chunks, shards),
        resolution_degrees=resolution_degrees,
        lead_times_hours=lead_times_hours,
        init_time_start=init_time_start,
    )
