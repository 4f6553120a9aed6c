"""The values the synthetic GFS archive holds, as functions tests can compare against."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from climaflow.testing.gfs_archive.messages import (
    SyntheticMessage,
    init_datetime,
    lead_hours_of,
    variable_named,
)
from climaflow.testing.gfs_archive.variables import (
    CONVECTIVE_FRACTION,
    EPOCH,
    PRECIPITATION,
    SECONDS_PER_HOUR,
    VARIABLES,
)


def hours_since_epoch(time: datetime) -> float:
    return (time - EPOCH).total_seconds() / SECONDS_PER_HOUR


def grid_mesh(
    latitudes: np.ndarray | Sequence[float], longitudes: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(latitudes, dtype=np.float64)
    lon = np.asarray(longitudes, dtype=np.float64)
    if lat.ndim == 1 and lon.ndim == 1:
        return lat[:, np.newaxis], lon[np.newaxis, :]
    return np.broadcast_arrays(lat, lon)  # type: ignore[return-value]


def hash_uniform(key: str, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Pseudo-random numbers in [0, 1) that depend only on ``key`` and each point's lat/lon."""
    seed = np.uint64(zlib.crc32(key.encode()) | (zlib.adler32(key.encode()) << 32))
    a = np.round(np.asarray(lat) * 1e6).astype(np.int64).astype(np.uint64)
    b = np.round(np.asarray(lon) * 1e6).astype(np.int64).astype(np.uint64)
    a, b = np.broadcast_arrays(a, b)
    x = a * np.uint64(0x9E3779B97F4A7C15) ^ b * np.uint64(0xC2B2AE3D27D4EB4F) ^ seed
    # splitmix64 finalizer; uint64 array arithmetic wraps around silently.
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def expected_field(
    variable: str,
    init_time: datetime | np.datetime64,
    lead_time_hours: int,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """The exact values of an instantaneous synthetic variable, before GRIB packing.

    Parameters
    ----------
    variable
        A key of :data:`VARIABLES` (or its cfgrib shortName) of an instantaneous variable (see
        :func:`expected_precipitation_rate`, :func:`expected_accumulation` and
        :func:`expected_values` for statistics). ``"precipitation_rate"`` at lead ``L`` is
        :func:`expected_precipitation_rate` of the hour ending at ``max(L, 1)``.
    init_time
        Initialisation time (naive UTC, aware, or ``numpy.datetime64``).
    lead_time_hours
        Forecast hour.
    latitudes, longitudes
        Degrees north / east. Two 1-D arrays give the ``(len(latitudes), len(longitudes))``
        grid; arrays of other shapes are broadcast against each other point by point.
    noise_seed
        ``None`` for smooth fields; an int adds pseudo-random noise of amplitude
        ``VARIABLES[variable].noise_scale`` that depends only on (seed, variable, init time,
        lead time, latitude, longitude), so any subset of points gets the same values.

    Returns
    -------
    numpy.ndarray
        Float64 values in the variable's units: K (about 250-310 at 2 m, 240-290 at 850 hPa,
        215-245 at 2 hPa), Pa (about 99 000-104 000), % (about 40-98), m s-1 (about -14..14),
        gpm (5000-5900), kg m-2 s-1 (0 to about 3.5e-4).
    """
    var = variable_named(variable)
    if var.step_type != "instant":
        raise ValueError(
            f"{var.name} is accumulated or averaged: use expected_precipitation_rate, "
            "expected_accumulation or expected_values"
        )
    init = init_datetime(init_time)
    lead = lead_hours_of(lead_time_hours)
    if var.name == "precipitation_rate":
        return expected_precipitation_rate(
            init, max(lead, 1), latitudes, longitudes, noise_seed=noise_seed
        )
    lat, lon = grid_mesh(latitudes, longitudes)
    smooth = _SMOOTH_FIELDS[var.name](_FieldTerms.at(init, lead, lat, lon))
    values = np.asarray(smooth, dtype=np.float64)
    values = np.broadcast_to(values, np.broadcast_shapes(lat.shape, lon.shape)).copy()
    if noise_seed is not None:
        key = f"{noise_seed}:{var.name}:{init:%Y%m%d%H}:{lead}"
        values += var.noise_scale * (2.0 * hash_uniform(key, lat, lon) - 1.0)
        if var.name == "relative_humidity_2m":
            np.clip(values, 0.0, 100.0, out=values)
    return values


@dataclass(frozen=True)
class _FieldTerms:
    """The building blocks of the smooth instantaneous fields at one init and lead time.

    ``phi`` and ``lam`` are the latitude and longitude in radians (broadcastable arrays), with
    ``cos_phi`` and ``sin_phi``; ``season`` is an annual cycle of the valid time (about +1 in
    July), ``diurnal`` a daily cycle of local solar time (+1 at 15 h), ``wave`` the phase of
    synoptic waves drifting east over 5 days, ``drift`` a bounded function of the lead time
    itself (not only of the valid time, so that a mix-up of init and lead times shows up) and
    ``init_phase`` the phase of a weekly cycle in the init time.
    """

    phi: np.ndarray
    lam: np.ndarray
    cos_phi: np.ndarray
    sin_phi: np.ndarray
    season: float
    diurnal: np.ndarray
    wave: float
    drift: float
    init_phase: float

    @classmethod
    def at(cls, init: datetime, lead: int, lat: np.ndarray, lon: np.ndarray) -> _FieldTerms:
        """The terms at init time ``init``, lead ``lead`` hours and points ``lat``, ``lon`` (°)."""
        phi = np.deg2rad(lat)
        valid_hours = hours_since_epoch(init) + lead
        local_solar_hour = (valid_hours % 24 + lon / 15.0) % 24
        return cls(
            phi=phi,
            lam=np.deg2rad(lon),
            cos_phi=np.cos(phi),
            sin_phi=np.sin(phi),
            season=np.cos(2 * np.pi * (valid_hours / 24.0 - 196.0) / 365.25),
            diurnal=np.cos(2 * np.pi * (local_solar_hour - 15.0) / 24.0),
            wave=2 * np.pi * valid_hours / 120.0,
            drift=np.sin(2 * np.pi * lead / 50.0),
            init_phase=2 * np.pi * hours_since_epoch(init) / (24 * 7),
        )


def _temperature_2m(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        258.0
        + 42.0 * t.cos_phi**2
        + 6.0 * t.season * t.sin_phi
        + 4.0 * t.diurnal * t.cos_phi
        + 3.0 * np.sin(2 * t.lam - t.wave) * t.cos_phi
        + 0.8 * t.drift
        + 0.5 * np.sin(t.init_phase)
    )
    return values


def _relative_humidity_2m(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        68.0
        + 15.0 * np.sin(3 * t.lam - t.wave) * t.cos_phi
        - 6.0 * t.diurnal * t.cos_phi
        + 4.0 * np.cos(4 * t.phi)
        + 2.0 * t.drift
        + np.cos(t.init_phase)
    )
    clipped: np.ndarray = np.clip(values, 0.0, 100.0)
    return clipped


def _pressure_reduced_to_mean_sea_level(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        101325.0
        + 1500.0 * np.sin(2 * t.phi) * np.cos(3 * t.lam - t.wave)
        + 600.0 * t.cos_phi * np.sin(2 * t.lam + t.wave)
        - 400.0 * np.cos(6 * t.phi)
        + 80.0 * t.drift
        + 50.0 * np.sin(t.init_phase)
    )
    return values


def _wind_u_10m(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        -6.0 * np.cos(3 * t.phi) * t.cos_phi
        + 5.0 * np.sin(2 * t.lam - t.wave) * t.cos_phi
        + 1.5 * t.diurnal
        + 0.5 * t.drift
        + 0.3 * np.cos(t.init_phase)
    )
    return values


def _wind_v_10m(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        4.0 * np.sin(3 * t.lam - t.wave) * t.cos_phi
        + 3.0 * np.sin(2 * t.phi) * np.cos(t.lam)
        - 1.0 * t.diurnal
        - 0.5 * t.drift
        + 0.3 * np.sin(t.init_phase)
    )
    return values


def _geopotential_height_500hpa(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        5100.0
        + 700.0 * t.cos_phi**2
        + 80.0 * np.sin(4 * t.lam - t.wave) * np.sin(2 * t.phi) ** 2
        + 10.0 * t.drift
        + 5.0 * np.sin(t.init_phase)
    )
    return values


def _temperature_2hpa(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        230.0
        + 12.0 * t.season * t.sin_phi
        + 2.0 * np.cos(t.lam - t.wave) * t.cos_phi
        + 0.3 * t.drift
    )
    return values


def _temperature_850hpa(t: _FieldTerms) -> np.ndarray:
    values: np.ndarray = (
        248.0
        + 36.0 * t.cos_phi**2
        + 5.0 * t.season * t.sin_phi
        + 3.0 * np.sin(2 * t.lam - t.wave) * t.cos_phi
        + 0.5 * t.drift
    )
    return values


#: The noise-free formula of each instantaneous variable but ``precipitation_rate``.
_SMOOTH_FIELDS: dict[str, Callable[[_FieldTerms], np.ndarray]] = {
    "temperature_2m": _temperature_2m,
    "relative_humidity_2m": _relative_humidity_2m,
    "pressure_reduced_to_mean_sea_level": _pressure_reduced_to_mean_sea_level,
    "wind_u_10m": _wind_u_10m,
    "wind_v_10m": _wind_v_10m,
    "geopotential_height_500hpa": _geopotential_height_500hpa,
    "temperature_2hpa": _temperature_2hpa,
    "temperature_850hpa": _temperature_850hpa,
}


def expected_precipitation_rate(
    init_time: datetime | np.datetime64,
    lead_time_hours: int,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """The true precipitation rate during the hour ending at ``lead_time_hours``.

    The synthetic rate is constant within each forecast hour ``(L - 1, L]``, so accumulations
    are exact sums: the accumulation over ``(a, b]`` is ``sum(rate(L) * 3600 for L in a+1..b)``
    (:func:`expected_accumulation`), and deaccumulating consecutive messages (bucket
    differences divided by 3600 s) gives back exactly this rate, up to packing precision.

    Parameters
    ----------
    init_time
        Initialisation time.
    lead_time_hours
        End of the hour, >= 1.
    latitudes, longitudes
        As for :func:`expected_field`.
    noise_seed
        ``None``, or an int to multiply the rate by a seeded pseudo-random factor in [0.5, 1.5).

    Returns
    -------
    numpy.ndarray
        Float64 rate in kg m-2 s-1 (= mm s-1), >= 0: a global mean about 5e-5 (4 mm/day), up to
        about 3.5e-4 (1.3 mm/h), and dry areas (about half the globe) where it is exactly 0.
    """
    init = init_datetime(init_time)
    lead = lead_hours_of(lead_time_hours)
    if lead < 1:
        raise ValueError("the precipitation rate is defined for the hours ending at leads >= 1")
    lat, lon = grid_mesh(latitudes, longitudes)
    phi = np.deg2rad(lat)
    lam = np.deg2rad(lon)
    mid_hours = hours_since_epoch(init) + lead - 0.5
    init_phase = 2 * np.pi * hours_since_epoch(init) / (24 * 5)
    tropics = np.exp(-((lat / 25.0) ** 2))
    storm_tracks = np.exp(-(((np.abs(lat) - 50.0) / 12.0) ** 2))
    moving = np.sin(3 * lam + 2 * phi - 2 * np.pi * mid_hours / 36.0 + init_phase)
    shape = 1.6 * tropics * (0.6 + 0.4 * moving) + 1.2 * storm_tracks * moving - 0.2
    rate = 2.5e-4 * np.clip(shape, 0.0, None) * np.cos(phi) ** 0.5
    rate = np.broadcast_to(rate, np.broadcast_shapes(lat.shape, lon.shape)).astype(np.float64)
    if noise_seed is not None:
        key = f"{noise_seed}:{PRECIPITATION}:{init:%Y%m%d%H}:{lead}"
        scale = VARIABLES[PRECIPITATION].noise_scale
        rate = rate * (1.0 - scale + 2.0 * scale * hash_uniform(key, lat, lon))
    return np.where(rate > 0.0, rate, 0.0)


def expected_accumulation(
    init_time: datetime | np.datetime64,
    start_hour: int,
    end_hour: int,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """Exact precipitation accumulated over forecast hours ``(start_hour, end_hour]``, kg m-2.

    This is what the APCP message ``"{start_hour}-{end_hour} hour acc fcst"`` holds before GRIB
    packing: the sum of :func:`expected_precipitation_rate` times 3600 s over the hours.
    """
    start = lead_hours_of(start_hour)
    end = lead_hours_of(end_hour)
    if end <= start:
        raise ValueError(f"empty accumulation window {start}-{end}")
    total: np.ndarray | None = None
    for lead in range(start + 1, end + 1):
        rate = expected_precipitation_rate(
            init_time, lead, latitudes, longitudes, noise_seed=noise_seed
        )
        total = rate * SECONDS_PER_HOUR if total is None else total + rate * SECONDS_PER_HOUR
    assert total is not None
    return total


def expected_values(
    message: SyntheticMessage,
    init_time: datetime | np.datetime64,
    latitudes: np.ndarray | Sequence[float],
    longitudes: np.ndarray | Sequence[float],
    *,
    noise_seed: int | None = None,
) -> np.ndarray:
    """The exact values of one planned message (:func:`messages_for_lead`), before packing.

    Instantaneous variables: :func:`expected_field`. ``APCP``: :func:`expected_accumulation`
    over the message's window, so the total since the start is the sum of the buckets since
    the start; ``ACPCP``: :data:`CONVECTIVE_FRACTION` of it. ``PRATE`` averages: the
    accumulation over the window divided by its length in seconds.
    """
    var = message.variable
    if var.step_type == "instant":
        return expected_field(
            var.name, init_time, message.end_step, latitudes, longitudes, noise_seed=noise_seed
        )
    total = expected_accumulation(
        init_time,
        message.start_step,
        message.end_step,
        latitudes,
        longitudes,
        noise_seed=noise_seed,
    )
    if var.step_type == "avg":
        return total / ((message.end_step - message.start_step) * SECONDS_PER_HOUR)
    if var.name == "convective_precipitation":
        return CONVECTIVE_FRACTION * total
    return total


def packing_tolerance(values: np.ndarray, bits_per_value: int = 16) -> float:
    """An upper bound of the GRIB simple-packing error for a field with these values.

    Simple packing stores ``(value - min) * 2**-E`` in ``bits_per_value`` bits, with the binary
    scale factor ``E`` chosen so that the range fits, so the error is at most one quantisation
    step ``range / (2**bits_per_value - 1)``, and at most twice that as ``E`` is a power of two.
    """
    span = float(np.max(values) - np.min(values))
    levels: int = 2**bits_per_value - 1  # int ** int is typed Any (a negative power is a float)
    return 2.0 * span / levels + 1e-12 * max(1.0, float(np.max(np.abs(values))))
