"""Reading inputs: one input's metadata at planning, and one year of a variable in regions.

Reading happens inside Dask tasks on workers: :func:`read_year_regions` opens the file once
(a remote one is staged once into a temporary directory through :mod:`climaflow.io`, with its
retries, and removed afterwards), cuts every region by index slices and loads only those,
holding :data:`~climaflow.locks.NETCDF_LOCK` while it touches the file. Planning reads one
input's metadata (:func:`inspect_input`): over HTTP(S) with byte-range requests (netCDF-C's
``#mode=bytes``: kilobytes, not the file), so that every input is fetched about once per run.
"""

import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import xarray as xr

from climaflow.fills import mask_declared_fills
from climaflow.io import download, is_local, local_path
from climaflow.io.urls import redact_url
from climaflow.locks import NETCDF_LOCK
from climaflow.normals.archive import TIME_CODER, YearInput, open_zarr_scenario
from climaflow.normals.calendar import check_calendar, years_and_days
from climaflow.normals.regions import RegionSlices

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputGrid:
    """What a variable's inputs look like: grid, calendar and the variable's attributes."""

    lat: np.ndarray
    lon: np.ndarray
    calendar: str
    dtype: np.dtype
    variable_attrs: dict[str, Any] = field(default_factory=dict)
    lat_attrs: dict[str, Any] = field(default_factory=dict)
    lon_attrs: dict[str, Any] = field(default_factory=dict)


def inspect_input(
    source: YearInput, *, storage_options: Mapping[str, Any] | None = None
) -> InputGrid:
    """Grid, calendar and variable attributes of one input, from its metadata only.

    An HTTP(S) file is read by byte ranges (its header and coordinates: kilobytes) when no
    ``storage_options`` are given; should that fail, or for other remote stores, the file is
    fetched whole through :mod:`climaflow.io`.

    Raises
    ------
    ValueError
        If the variable is missing or not on a ``(time, lat, lon)`` grid.
    UnsupportedCalendarError
        If climaflow has no day-of-year layout for its calendar.
    """
    if not source.is_zarr and not storage_options and _is_http(source.location):
        try:
            with _open_netcdf(f"{source.location}#mode=bytes", source.location) as dataset:
                return _describe(dataset, source)
        except OSError as error:
            logger.info("%s; fetching the whole file to inspect it", error)
    with _open_year_dataset(source, storage_options) as dataset:
        return _describe(dataset, source)


def _describe(dataset: xr.Dataset, source: YearInput) -> InputGrid:
    variable = _variable(dataset, source)
    calendar = variable["time"].dt.calendar
    check_calendar(calendar, source.location)
    return InputGrid(
        lat=dataset["lat"].values.copy(),
        lon=dataset["lon"].values.copy(),
        calendar=calendar,
        dtype=variable.dtype,
        variable_attrs=dict(variable.attrs),
        lat_attrs=dict(dataset["lat"].attrs),
        lon_attrs=dict(dataset["lon"].attrs),
    )


def read_year(
    source: YearInput,
    slices: RegionSlices,
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """The year's values of the variable in one region, loaded into memory.

    See :func:`read_year_regions`, which reads several regions from one opening of the file.
    """
    return read_year_regions(source, [slices], grid, storage_options=storage_options)[0]


def read_year_regions(
    source: YearInput,
    regions: Sequence[RegionSlices],
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> list[xr.DataArray]:
    """The year's values of the variable in each of ``regions``, loaded into memory.

    The input is opened (and, when remote, fetched) once for all regions. Only time steps of
    ``source.year`` are kept (a file or store may hold more). When ``grid`` (the planned
    ``(lat, lon)`` cell centres) is given, the input must be on it. ``storage_options`` are
    those of :mod:`climaflow.io` for a remote file.

    Raises
    ------
    ValueError, OSError, UnsupportedCalendarError, DownloadError
        For a missing variable, a year with no time steps, another grid, an unsupported
        calendar, or a file that cannot be fetched or read; messages name the input.
    """
    raw = {source.variable: False}  # the variable's values as stored; coordinates decoded
    with _open_year_dataset(source, storage_options, mask_and_scale=raw) as dataset:
        variable = _variable(dataset, source)
        if grid is not None:
            _check_grid(source, variable, grid)
        check_calendar(variable["time"].dt.calendar, source.location)
        in_year = np.flatnonzero(years_and_days(variable["time"])[0] == source.year)
        if in_year.size == 0:
            raise ValueError(f"{source.location} has no time steps in {source.year}")
        if in_year.size < variable.sizes["time"]:
            variable = variable.isel(time=slice(in_year[0], in_year[-1] + 1))
        return [_decoded(slices.subset(variable).load()) for slices in regions]


_FILL_ATTRS = ("_FillValue", "missing_value")
_PACKING_ATTRS = ("scale_factor", "add_offset", "_Unsigned")


def _decoded(data: xr.DataArray) -> xr.DataArray:
    """``data``, loaded without CF masking and scaling, as xarray's decoding gives it.

    Unpacked floats (CMIP's) have their declared fill values set to NaN in place: decoding
    them would copy the year's array. Packed or integer data are decoded by xarray.
    """
    if not np.issubdtype(data.dtype, np.floating) or any(
        name in data.attrs for name in _PACKING_ATTRS
    ):
        name = data.name if data.name is not None else "data"
        decoded = xr.decode_cf(
            data.to_dataset(name=name), decode_times=False, decode_timedelta=False
        )
        return decoded[name].load()
    if not data.values.flags.c_contiguous:
        data = data.copy(data=np.ascontiguousarray(data.values))
    fills = [
        fill
        for name in _FILL_ATTRS
        for fill in np.ravel(data.attrs.get(name, []))
        if np.issubdtype(np.asarray(fill).dtype, np.number)
    ]
    mask_declared_fills(data.values, fills)
    data.encoding.update({name: data.attrs.pop(name) for name in _FILL_ATTRS if name in data.attrs})
    return data


@contextmanager
def _open_year_dataset(
    source: YearInput,
    storage_options: Mapping[str, Any] | None = None,
    *,
    mask_and_scale: bool | Mapping[str, bool] = True,
) -> Iterator[xr.Dataset]:
    """The input's dataset, times decoded; NetCDF fills and packing as ``mask_and_scale``
    says (for all variables, or by variable name; Zarr inputs are always decoded)."""
    if source.is_zarr:
        dataset = open_zarr_scenario(source.location, source.scenario, templated=True)
        if dataset is None:
            raise ValueError(f"Zarr store {source.location} has no scenario {source.scenario!r}")
        yield dataset.sel(time=str(source.year))
        return
    with (
        _local_copy(source.location, storage_options) as path,
        _open_netcdf(path, source.location, mask_and_scale=mask_and_scale) as dataset,
    ):
        yield dataset


@contextmanager
def _open_netcdf(
    path: str, location: str, *, mask_and_scale: bool | Mapping[str, bool] = True
) -> Iterator[xr.Dataset]:
    """Open a NetCDF file (a path, or a URL netCDF-C reads) holding the NetCDF lock."""
    with NETCDF_LOCK:
        try:
            dataset = xr.open_dataset(
                path,
                engine="netcdf4",
                decode_times=TIME_CODER,
                mask_and_scale=mask_and_scale,
                cache=False,
            )
        except Exception as error:
            raise OSError(f"cannot open {redact_url(location)}: {error}") from error
        with dataset:
            yield dataset


@contextmanager
def _local_copy(location: str, storage_options: Mapping[str, Any] | None) -> Iterator[str]:
    """``location`` itself when local, else a download of it (with :mod:`climaflow.io`'s
    retries) into a temporary directory that is removed afterwards.

    Raises
    ------
    DownloadError
        When a remote file cannot be fetched; the message names it and the reason.
    """
    if is_local(location):
        yield str(local_path(location))
        return
    with tempfile.TemporaryDirectory(prefix="climaflow-") as directory:
        destination = Path(directory) / Path(urlsplit(location).path).name
        yield str(download(location, destination, storage_options=storage_options))


def _variable(dataset: xr.Dataset, source: YearInput) -> xr.DataArray:
    if source.variable not in dataset:
        raise ValueError(
            f"{source.location} has no variable {source.variable!r} "
            f"(variables: {', '.join(map(str, dataset.data_vars))})"
        )
    variable = dataset[source.variable]
    if set(variable.dims) != {"time", "lat", "lon"}:
        raise ValueError(
            f"{source.location}: variable {source.variable!r} has dims {variable.dims}, "
            "expected time, lat and lon"
        )
    return variable.transpose("time", "lat", "lon")


def _check_grid(
    source: YearInput, variable: xr.DataArray, grid: tuple[np.ndarray, np.ndarray]
) -> None:
    for name, expected in zip(("lat", "lon"), grid, strict=True):
        values = variable[name].values
        if values.shape != expected.shape or not np.allclose(values, expected):
            raise ValueError(
                f"{source.location}: its {name} grid ({values.size} values from "
                f"{values[0]:g} to {values[-1]:g}) differs from the other inputs' "
                f"({expected.size} values from {expected[0]:g} to {expected[-1]:g})"
            )


def _is_http(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")
