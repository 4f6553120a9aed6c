"""Reading GRIB2 messages by explicit keys, with eccodes or cfgrib.

Messages are selected by ``shortName``, ``typeOfLevel``, ``level`` and ``stepType`` and
exactly one must match each request: cfgrib can otherwise merge or drop messages that
differ only in their step range. The grid is checked against the one expected, so data
never lands flipped or shifted. With eccodes, a file is read once whatever the number of
variables asked of it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import eccodes
import numpy as np
import xarray as xr

GribEngine = Literal["eccodes", "cfgrib"]
_MISSING = 9.999e20


class GribReadError(ValueError):
    """A GRIB file does not hold exactly the expected message on the expected grid."""


@dataclass(frozen=True)
class MessageKeys:
    """The keys that identify one message, e.g. ``2t heightAboveGround 2 instant``."""

    short_name: str
    type_of_level: str
    level: int
    step_type: str

    def __str__(self) -> str:
        return (
            f"shortName={self.short_name} typeOfLevel={self.type_of_level} "
            f"level={self.level} stepType={self.step_type}"
        )

    def as_filter(self) -> dict[str, str | int]:
        """These keys as cfgrib's ``filter_by_keys``."""
        return {
            "shortName": self.short_name,
            "typeOfLevel": self.type_of_level,
            "level": self.level,
            "stepType": self.step_type,
        }


Grid = tuple[np.ndarray, np.ndarray]


def read_grib_messages(
    path: Path,
    wanted: Mapping[str, MessageKeys],
    *,
    expected_grid: Grid,
    engine: GribEngine = "eccodes",
) -> dict[str, np.ndarray | GribReadError]:
    """The values of several messages of one file, by name; an error in place of any that fails.

    Each value is float32, ``latitude x longitude``, NaN where the bitmap says missing. A
    name maps to a :class:`GribReadError` when not exactly one message matches its keys,
    the message is damaged, or it lies on another grid; the other names are unaffected.
    """
    if engine == "cfgrib":
        found = {name: _read_cfgrib(path, keys) for name, keys in wanted.items()}
    else:
        found = _read_eccodes(path, wanted)
    return {
        name: found[name]
        if isinstance(found[name], GribReadError)
        else _on_grid(path, keys, found[name], expected_grid)
        for name, keys in wanted.items()
    }


def read_grib_message(
    path: Path,
    *,
    short_name: str,
    type_of_level: str,
    level: int,
    step_type: str,
    expected_grid: Grid,
    engine: GribEngine = "eccodes",
) -> np.ndarray:
    """The values of the one message with these keys (see :func:`read_grib_messages`).

    Raises
    ------
    GribReadError
        When not exactly one message matches, or it lies on another grid; the message
        names the file and the keys.
    """
    keys = MessageKeys(short_name, type_of_level, level, step_type)
    result = read_grib_messages(path, {"": keys}, expected_grid=expected_grid, engine=engine)[""]
    if isinstance(result, GribReadError):
        raise result
    return result


Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, latitudes, longitudes


def _on_grid(
    path: Path, keys: MessageKeys, decoded: Decoded, expected_grid: Grid
) -> np.ndarray | GribReadError:
    values, latitudes, longitudes = decoded
    expected_lat, expected_lon = expected_grid
    same_grid = (
        latitudes.shape == expected_lat.shape
        and longitudes.shape == expected_lon.shape
        and np.allclose(latitudes, expected_lat, atol=1e-6)
        and np.allclose(longitudes, expected_lon, atol=1e-6)
    )
    if same_grid:
        return values
    return GribReadError(
        f"{path}: {keys} is on a {latitudes.size}x{longitudes.size} grid from "
        f"({latitudes[0]}, {longitudes[0]}) to ({latitudes[-1]}, {longitudes[-1]}); expected "
        f"{expected_lat.size}x{expected_lon.size} from ({expected_lat[0]}, {expected_lon[0]}) "
        f"to ({expected_lat[-1]}, {expected_lon[-1]})"
    )


def _read_eccodes(
    path: Path, wanted: Mapping[str, MessageKeys]
) -> dict[str, Decoded | GribReadError]:
    """One pass over the file: match every message's keys once, decode the matches."""
    by_keys = {
        (k.short_name, k.type_of_level, k.level, k.step_type): name for name, k in wanted.items()
    }
    matches: dict[str, list[Decoded]] = {name: [] for name in wanted}
    damaged = 0
    with path.open("rb") as f:
        while True:
            try:
                handle = eccodes.codes_grib_new_from_file(f)
            except eccodes.GribInternalError:
                damaged += 1
                break  # the rest of the file cannot be framed into messages
            if handle is None:
                break
            try:
                message_keys = tuple(
                    eccodes.codes_get(handle, key)
                    for key in ("shortName", "typeOfLevel", "level", "stepType")
                )
                name = by_keys.get(message_keys)
                if name is not None:
                    matches[name].append(_decode(handle))
            except eccodes.GribInternalError:
                damaged += 1  # a damaged message: skip it, others may be intact
            finally:
                eccodes.codes_release(handle)
    note = f" ({damaged} damaged messages)" if damaged else ""
    return {
        name: found[0]
        if len(found) == 1
        else GribReadError(
            f"{path}: expected 1 message with {wanted[name]}, found {len(found)}{note}"
        )
        for name, found in matches.items()
    }


def _decode(handle: int) -> Decoded:
    if eccodes.codes_get(handle, "gridType") != "regular_ll":
        raise GribReadError(f"grid type {eccodes.codes_get(handle, 'gridType')} is not regular_ll")
    ni = eccodes.codes_get(handle, "Ni")
    nj = eccodes.codes_get(handle, "Nj")
    lat0 = eccodes.codes_get(handle, "latitudeOfFirstGridPointInDegrees")
    lat1 = eccodes.codes_get(handle, "latitudeOfLastGridPointInDegrees")
    lon0 = eccodes.codes_get(handle, "longitudeOfFirstGridPointInDegrees")
    dlon = eccodes.codes_get(handle, "iDirectionIncrementInDegrees")
    eccodes.codes_set(handle, "missingValue", _MISSING)
    values = eccodes.codes_get_values(handle).reshape(nj, ni)
    values = np.where(values == _MISSING, np.nan, values).astype("float32")
    return values, np.linspace(lat0, lat1, nj), lon0 + dlon * np.arange(ni)


def _read_cfgrib(path: Path, keys: MessageKeys) -> Decoded | GribReadError:
    try:
        ds = xr.open_dataset(
            path,
            engine="cfgrib",
            backend_kwargs={"indexpath": "", "filter_by_keys": keys.as_filter()},
        )
    except Exception as error:
        return GribReadError(f"{path}: cfgrib cannot open it with {keys}: {error}")
    with ds:
        if len(ds.data_vars) != 1:
            return GribReadError(
                f"{path}: expected 1 message with {keys}, found {len(ds.data_vars)}"
            )
        (data,) = ds.data_vars.values()
        if data.dims != ("latitude", "longitude"):
            return GribReadError(f"{path}: {keys} matched several messages (dims {data.dims})")
        return data.values.astype("float32"), ds["latitude"].values, ds["longitude"].values
