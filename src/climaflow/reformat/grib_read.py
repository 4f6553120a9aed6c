"""Reading GRIB messages by explicit keys, with eccodes or cfgrib.

A request names a message by ``shortName``, ``typeOfLevel``, ``level``, ``stepType`` and,
unless it leaves it open, ``stepRange``: GFS files hold messages that differ only in their
step range (the 6-7 h precipitation bucket and the 0-7 h total), of which cfgrib would
otherwise keep the first without a word. One eccodes pass over the file finds, for every
request, the messages matching it:

- messages holding the same field with the same values (the same identification, grid and
  product definition, and equal decoded values, like the two identical 0-6 h APCP messages
  of a GFS file at lead 6) count as one: the first is read;
- different fields matching one request (two step ranges when the request leaves it open,
  three soil layers sharing ``level=0``, or one field's header with two sets of values) are
  an error naming the file, the keys and the messages;
- a field on a grid other than a regular latitude-longitude one is an error naming the file
  and the grid type.

The chosen message is decoded by eccodes or by xarray's cfgrib engine, and its grid is checked
against the expected one, longitudes compared modulo 360 (GFS: 0 to 359.75), so data never land
flipped or shifted and both engines give the same values. Errors are per request: the file's
other requests are unaffected.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import eccodes
import numpy as np
import xarray as xr

GribEngine = Literal["eccodes", "cfgrib"]
_MISSING = 9.999e20
_PLACEABLE_GRID_TYPES = frozenset({"regular_ll"})


class GribReadError(ValueError):
    """A GRIB file does not hold exactly the expected message on the expected grid."""


@dataclass(frozen=True)
class MessageKeys:
    """The keys that identify one message, e.g. ``2t heightAboveGround 2 instant 7``.

    ``step_range`` is eccodes' ``stepRange`` (``"7"``, ``"6-7"``); ``None`` accepts any.
    """

    short_name: str
    type_of_level: str
    level: int
    step_type: str
    step_range: str | None = None

    def __str__(self) -> str:
        pinned = "" if self.step_range is None else f" stepRange={self.step_range}"
        return (
            f"shortName={self.short_name} typeOfLevel={self.type_of_level} "
            f"level={self.level} stepType={self.step_type}{pinned}"
        )

    @property
    def without_step_range(self) -> tuple[str, str, int, str]:
        """The keys every matching message has whatever the request's ``step_range``."""
        return (self.short_name, self.type_of_level, self.level, self.step_type)

    def as_filter(self) -> dict[str, str | int]:
        """These keys as cfgrib's ``filter_by_keys``."""
        keys: dict[str, str | int] = {
            "shortName": self.short_name,
            "typeOfLevel": self.type_of_level,
            "level": self.level,
            "stepType": self.step_type,
        }
        if self.step_range is not None:
            keys["stepRange"] = self.step_range
        return keys


Grid = tuple[np.ndarray, np.ndarray]
Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]  # values, latitudes, longitudes


def read_grib_messages(
    path: Path,
    wanted: Mapping[str, MessageKeys],
    *,
    expected_grid: Grid,
    engine: GribEngine = "eccodes",
) -> dict[str, np.ndarray | GribReadError]:
    """The values of several messages of one file, by name; an error in place of any that fails.

    Each value is float32, ``latitude x longitude``, NaN where the bitmap says missing. A
    name maps to a :class:`GribReadError` when no message or several different fields match
    its keys, the message is damaged, or it lies on another grid (or one that is not regular
    latitude-longitude); the other names are unaffected. Identical messages count as one,
    the first in the file being read.
    """
    found = _scan(path, wanted, decode=engine == "eccodes")
    results: dict[str, np.ndarray | GribReadError] = {}
    for name, keys in wanted.items():
        match = found[name]
        if isinstance(match, _Field):
            match = _read_cfgrib(path, replace(keys, step_range=match.step_range))
        results[name] = (
            match
            if isinstance(match, GribReadError)
            else _on_grid(path, keys, match, expected_grid)
        )
    return results


def read_grib_message(
    path: Path,
    *,
    short_name: str,
    type_of_level: str,
    level: int,
    step_type: str,
    step_range: str | None = None,
    expected_grid: Grid,
    engine: GribEngine = "eccodes",
) -> np.ndarray:
    """The values of the one field with these keys (see :func:`read_grib_messages`).

    Raises
    ------
    GribReadError
        When no field or several different ones match, or it lies on another grid; the
        message names the file and the keys.
    """
    keys = MessageKeys(short_name, type_of_level, level, step_type, step_range)
    result = read_grib_messages(path, {"": keys}, expected_grid=expected_grid, engine=engine)[""]
    if isinstance(result, GribReadError):
        raise result
    return result


def _on_grid(
    path: Path, keys: MessageKeys, decoded: Decoded, expected_grid: Grid
) -> np.ndarray | GribReadError:
    values, latitudes, longitudes = decoded
    expected_lat, expected_lon = expected_grid
    same_grid = (
        latitudes.shape == expected_lat.shape
        and longitudes.shape == expected_lon.shape
        and np.allclose(latitudes, expected_lat, atol=1e-6)
        and np.allclose((longitudes - expected_lon + 180.0) % 360.0 - 180.0, 0.0, atol=1e-6)
    )
    if same_grid:
        return values
    return GribReadError(
        f"{path}: {keys} is on a {latitudes.size}x{longitudes.size} grid from "
        f"({latitudes[0]}, {longitudes[0]}) to ({latitudes[-1]}, {longitudes[-1]}); expected "
        f"{expected_lat.size}x{expected_lon.size} from ({expected_lat[0]}, {expected_lon[0]}) "
        f"to ({expected_lat[-1]}, {expected_lon[-1]})"
    )


@dataclass(frozen=True)
class _Field:
    """One distinct field matching a request: its first message and its identity."""

    message_number: int
    step_range: str
    identity: tuple[str, ...]


@dataclass
class _Matches:
    """The distinct fields matching one request, and the first one decoded or refused.

    ``first_values`` keeps the first field's values, to tell a repeated message from another
    field under the same header, when the scan does not decode (the cfgrib engine decodes
    the chosen message itself).
    """

    fields: list[_Field] = field(default_factory=list)
    first: Decoded | GribReadError | None = None
    first_values: np.ndarray | None = None


def _scan(
    path: Path, wanted: Mapping[str, MessageKeys], *, decode: bool
) -> dict[str, Decoded | _Field | GribReadError]:
    """One pass over the file: each request's field (decoded when ``decode``) or its error."""
    names_by_keys: dict[tuple[str, str, int, str], list[str]] = {}
    for name, keys in wanted.items():
        names_by_keys.setdefault(keys.without_step_range, []).append(name)
    matches = {name: _Matches() for name in wanted}
    damaged = number = 0
    with path.open("rb") as f:
        while True:
            try:
                handle = eccodes.codes_grib_new_from_file(f)
            except eccodes.GribInternalError:
                damaged += 1
                break  # the rest of the file cannot be framed into messages
            if handle is None:
                break
            number += 1
            try:
                _match_message(path, handle, number, wanted, names_by_keys, matches, decode)
            except eccodes.GribInternalError:
                damaged += 1  # a damaged message: skip it, others may be intact
            finally:
                eccodes.codes_release(handle)
    note = f" ({damaged} damaged messages)" if damaged else ""
    return {name: _resolve(path, wanted[name], found, note) for name, found in matches.items()}


def _match_message(
    path: Path,
    handle: int,
    number: int,
    wanted: Mapping[str, MessageKeys],
    names_by_keys: Mapping[tuple[str, str, int, str], list[str]],
    matches: Mapping[str, _Matches],
    decode: bool,
) -> None:
    """Record the message as a field of every request it matches (decoding it if first)."""
    keys = (
        eccodes.codes_get(handle, "shortName"),
        eccodes.codes_get(handle, "typeOfLevel"),
        eccodes.codes_get(handle, "level"),
        eccodes.codes_get(handle, "stepType"),
    )
    names = names_by_keys.get(keys, [])
    if not names:
        return
    step_range = eccodes.codes_get(handle, "stepRange")
    names = [name for name in names if wanted[name].step_range in (None, step_range)]
    if not names:
        return
    identity = _field_identity(handle)
    for name in names:
        found = matches[name]
        if any(known.identity == identity for known in found.fields) and _same_values(
            found, handle
        ):
            continue  # the same field with the same values again: the first one is read
        if not found.fields:
            found.first = _check_grid_type(path, handle, number, wanted[name])
            if found.first is None and decode:
                found.first = _decode(handle)
            elif found.first is None:
                found.first_values = _values(handle)
        found.fields.append(_Field(number, step_range, identity))


def _same_values(found: _Matches, handle: int) -> bool:
    """Whether the message's values equal the first field's (missing points equal)."""
    first = found.first_values
    if first is None and isinstance(found.first, tuple):
        first = found.first[0].ravel()
    return first is not None and bool(np.array_equal(_values(handle), first, equal_nan=True))


def _values(handle: int) -> np.ndarray:
    """The message's values, float32, flat, NaN where the bitmap says missing."""
    eccodes.codes_set(handle, "missingValue", _MISSING)
    values = eccodes.codes_get_values(handle)
    return np.where(values == _MISSING, np.nan, values).astype("float32")


def _field_identity(handle: int) -> tuple[str, ...]:
    """Digests of the sections saying which field a message holds, not how it is packed:
    identification (GRIB1: product definition), grid and (GRIB2) product definition."""
    keys = ["md5Section1", "md5GridSection"]
    if eccodes.codes_get(handle, "edition") == 2:
        keys.append("md5Section4")
    return tuple(str(eccodes.codes_get(handle, key)) for key in keys)


def _check_grid_type(
    path: Path, handle: int, number: int, keys: MessageKeys
) -> GribReadError | None:
    grid_type = eccodes.codes_get(handle, "gridType")
    if grid_type in _PLACEABLE_GRID_TYPES:
        return None
    return GribReadError(
        f"{path}: {keys} (message {number}) is on a {grid_type} grid; only regular "
        "latitude-longitude grids can be placed on the template's grid"
    )


def _resolve(
    path: Path, keys: MessageKeys, found: _Matches, note: str
) -> Decoded | _Field | GribReadError:
    if not found.fields:
        return GribReadError(f"{path}: expected 1 message with {keys}, found 0{note}")
    if len(found.fields) > 1:
        fields = ", ".join(
            f"message {f.message_number} (stepRange={f.step_range})" for f in found.fields
        )
        return GribReadError(
            f"{path}: expected 1 message with {keys}, found {len(found.fields)} different "
            f"fields: {fields}{note}"
        )
    return found.fields[0] if found.first is None else found.first


def _decode(handle: int) -> Decoded:
    ni = eccodes.codes_get(handle, "Ni")
    nj = eccodes.codes_get(handle, "Nj")
    lat0 = eccodes.codes_get(handle, "latitudeOfFirstGridPointInDegrees")
    lat1 = eccodes.codes_get(handle, "latitudeOfLastGridPointInDegrees")
    lon0 = eccodes.codes_get(handle, "longitudeOfFirstGridPointInDegrees")
    lon1 = eccodes.codes_get(handle, "longitudeOfLastGridPointInDegrees")
    # From the first to the last point, as cfgrib does: the increment is rounded in the file
    # (0.166667 for 1/6 degree) and accumulating it drifts.
    if eccodes.codes_get(handle, "iScansNegatively"):
        lon1 = lon1 if lon1 <= lon0 else lon1 - 360.0
    else:
        lon1 = lon1 if lon1 >= lon0 else lon1 + 360.0
    values = _values(handle).reshape(nj, ni)
    return values, np.linspace(lat0, lat1, nj), np.linspace(lon0, lon1, ni)


def _read_cfgrib(path: Path, keys: MessageKeys) -> Decoded | GribReadError:
    """The field :func:`_scan` chose (``keys`` pin its step range), through xarray's cfgrib."""
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
                f"{path}: expected 1 message with {keys}, cfgrib found {len(ds.data_vars)}"
            )
        (data,) = ds.data_vars.values()
        if data.dims != ("latitude", "longitude"):
            return GribReadError(f"{path}: cfgrib read {keys} with dims {data.dims}")
        return data.values.astype("float32"), ds["latitude"].values, ds["longitude"].values
