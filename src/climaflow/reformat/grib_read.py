"""Reading one GRIB2 message by explicit keys, with eccodes or cfgrib.

Messages are selected by ``shortName``, ``typeOfLevel``, ``level`` and ``stepType`` and
exactly one must match: cfgrib can otherwise merge or drop messages that differ only in
their step range. The grid is checked against the one expected, so data never lands
flipped or shifted.
"""

from pathlib import Path
from typing import Literal

import eccodes
import numpy as np
import xarray as xr


class GribReadError(ValueError):
    """A GRIB file does not hold exactly the expected message on the expected grid."""


def read_grib_message(
    path: Path,
    *,
    short_name: str,
    type_of_level: str,
    level: int,
    step_type: str,
    expected_grid: tuple[np.ndarray, np.ndarray],
    engine: Literal["eccodes", "cfgrib"] = "eccodes",
) -> np.ndarray:
    """The values (float32, ``latitude x longitude``, NaN where missing) of one message.

    Parameters
    ----------
    path
        A GRIB2 file (whole, or the selected messages of one).
    short_name, type_of_level, level, step_type
        Keys the message must have, e.g. ``"2t"``, ``"heightAboveGround"``, ``2``, ``"instant"``.
    expected_grid
        Latitudes and longitudes the values must lie on, in order.
    engine
        ``"eccodes"`` decodes directly; ``"cfgrib"`` goes through xarray.

    Raises
    ------
    GribReadError
        When not exactly one message matches, or it lies on another grid; the message
        names the file and the keys.
    """
    keys = f"shortName={short_name} typeOfLevel={type_of_level} level={level} stepType={step_type}"
    if engine == "cfgrib":
        values, latitudes, longitudes = _read_cfgrib(
            path, short_name, type_of_level, level, step_type, keys
        )
    else:
        values, latitudes, longitudes = _read_eccodes(
            path, short_name, type_of_level, level, step_type, keys
        )
    expected_lat, expected_lon = expected_grid
    same_grid = (
        latitudes.shape == expected_lat.shape
        and longitudes.shape == expected_lon.shape
        and np.allclose(latitudes, expected_lat, atol=1e-6)
        and np.allclose(longitudes, expected_lon, atol=1e-6)
    )
    if not same_grid:
        raise GribReadError(
            f"{path}: {keys} is on a {latitudes.size}x{longitudes.size} grid from "
            f"({latitudes[0]}, {longitudes[0]}) to ({latitudes[-1]}, {longitudes[-1]}); expected "
            f"{expected_lat.size}x{expected_lon.size} from ({expected_lat[0]}, {expected_lon[0]}) "
            f"to ({expected_lat[-1]}, {expected_lon[-1]})"
        )
    return values


def _read_eccodes(
    path: Path, short_name: str, type_of_level: str, level: int, step_type: str, keys: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wanted = (short_name, type_of_level, level, step_type)
    found = []
    unreadable = 0
    with path.open("rb") as f:
        while True:
            try:
                handle = eccodes.codes_grib_new_from_file(f)
            except eccodes.GribInternalError:
                unreadable += 1
                break  # the rest of the file cannot be framed into messages
            if handle is None:
                break
            try:
                message_keys = tuple(
                    eccodes.codes_get(handle, key)
                    for key in ("shortName", "typeOfLevel", "level", "stepType")
                )
                if message_keys == wanted:
                    found.append(_decode(handle))
            except eccodes.GribInternalError:
                unreadable += 1  # a damaged message: skip it, others may be intact
            finally:
                eccodes.codes_release(handle)
    if len(found) != 1:
        damaged = f" ({unreadable} damaged messages)" if unreadable else ""
        raise GribReadError(f"{path}: expected 1 message with {keys}, found {len(found)}{damaged}")
    return found[0]


def _decode(handle: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if eccodes.codes_get(handle, "gridType") != "regular_ll":
        raise GribReadError(f"grid type {eccodes.codes_get(handle, 'gridType')} is not regular_ll")
    ni = eccodes.codes_get(handle, "Ni")
    nj = eccodes.codes_get(handle, "Nj")
    lat0 = eccodes.codes_get(handle, "latitudeOfFirstGridPointInDegrees")
    lat1 = eccodes.codes_get(handle, "latitudeOfLastGridPointInDegrees")
    lon0 = eccodes.codes_get(handle, "longitudeOfFirstGridPointInDegrees")
    dlon = eccodes.codes_get(handle, "iDirectionIncrementInDegrees")
    eccodes.codes_set(handle, "missingValue", 9.999e20)
    values = eccodes.codes_get_values(handle).reshape(nj, ni)
    values = np.where(values == 9.999e20, np.nan, values).astype("float32")
    latitudes = np.linspace(lat0, lat1, nj)
    longitudes = lon0 + dlon * np.arange(ni)
    return values, latitudes, longitudes


def _read_cfgrib(
    path: Path, short_name: str, type_of_level: str, level: int, step_type: str, keys: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    filters = {
        "shortName": short_name,
        "typeOfLevel": type_of_level,
        "level": level,
        "stepType": step_type,
    }
    try:
        ds = xr.open_dataset(
            path, engine="cfgrib", backend_kwargs={"indexpath": "", "filter_by_keys": filters}
        )
    except Exception as error:
        raise GribReadError(f"{path}: cfgrib cannot open it with {keys}: {error}") from error
    with ds:
        if len(ds.data_vars) != 1:
            raise GribReadError(
                f"{path}: expected 1 message with {keys}, found {len(ds.data_vars)}"
            )
        (data,) = ds.data_vars.values()
        if data.dims != ("latitude", "longitude"):
            raise GribReadError(f"{path}: {keys} matched several messages (dims {data.dims})")
        return (
            data.values.astype("float32"),
            ds["latitude"].values,
            ds["longitude"].values,
        )
