"""Where each input year comes from, and reading one year of one variable in a region.

Two kinds of input:

- a NEX-GDDP-CMIP6-style directory of yearly NetCDF files, local or at a URL (anything
  fsspec opens: ``https://``, ``s3://`` with s3fs...), laid out as
  ``{root}/{model}/{scenario}/{variant}/{var}/{var}_day_{model}_{scenario}_{variant}_{grid}_{year}[_vN.N].nc``
  with each model's own labels (:mod:`climaflow.datasets.nex_gddp_cmip6.models`); the
  newest version of a year wins;
- a Zarr store with a ``time`` dimension, as written by the ``nex-gddp-cmip6`` integration:
  either one store per scenario (a path with a ``{scenario}`` placeholder, optionally
  ``{model}`` too) or one store with a ``scenario`` dimension.

Reading happens inside Dask tasks on workers: :func:`read_year_regions` opens the file once
(a remote one is staged once into a temporary directory through :mod:`climaflow.io`, with its
retries, and removed afterwards), cuts every region by index slices and loads only those,
holding :data:`~climaflow.locks.NETCDF_LOCK` while it touches the file. Planning reads one
input's metadata (:func:`inspect_input`): over HTTP(S) with byte-range requests (netCDF-C's
``#mode=bytes``: kilobytes, not the file), so that every input is fetched about once per run.
"""

import logging
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np
import xarray as xr

from climaflow.datasets.nex_gddp_cmip6.archive import find_year_files
from climaflow.datasets.nex_gddp_cmip6.models import ModelInfo, archive_models, resolve_model
from climaflow.io import download, is_local, local_path
from climaflow.locks import NETCDF_LOCK
from climaflow.normals.calendar import check_calendar, years_and_days
from climaflow.normals.regions import RegionSlices

logger = logging.getLogger(__name__)

TIME_CODER = xr.coders.CFDatetimeCoder(use_cftime=True)


@dataclass(frozen=True)
class YearInput:
    """One year of one variable and scenario: where to read it and what identifies it.

    ``fingerprint`` changes when the input does (file name and size; store and year).
    """

    variable: str
    scenario: str
    year: int
    location: str
    fingerprint: str
    is_zarr: bool = False


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


class Archive(Protocol):
    """A source of yearly inputs for the normals pipeline."""

    def year_inputs(
        self, variable: str, scenario: str, years: Iterable[int]
    ) -> dict[int, YearInput]:
        """The available inputs among ``years``, by year (missing years are absent)."""
        ...

    def describe(self) -> str:
        """Where the archive is, for messages."""
        ...


class NexGddpArchive:
    """Yearly NetCDF files in the NEX-GDDP-CMIP6 layout under a local path or URL.

    Which files exist, and each model's labels, the integration finds
    (:func:`~climaflow.datasets.nex_gddp_cmip6.archive.find_year_files`).
    """

    def __init__(
        self,
        root: str | Path,
        model: str,
        *,
        variant_label: str | None = None,
        grid_label: str | None = None,
    ) -> None:
        self.root = str(root).rstrip("/")
        self.model = model
        self.variant_label = variant_label
        self.grid_label = grid_label
        self._labels: dict[str, ModelInfo] = {}

    def describe(self) -> str:
        return f"NEX-GDDP-CMIP6 archive {self.root} (model {self.model})"

    def year_inputs(
        self, variable: str, scenario: str, years: Iterable[int]
    ) -> dict[int, YearInput]:
        if scenario not in self._labels:  # the labels hold for every variable: look once
            self._labels[scenario] = resolve_model(
                self.root,
                self.model,
                scenario,
                variant_label=self.variant_label,
                grid_label=self.grid_label,
            )
        found = find_year_files(
            self.root,
            self.model,
            scenario,
            variable,
            years,
            grid_label=self.grid_label,
            info=self._labels[scenario],
        )
        return {
            year: YearInput(
                variable=variable,
                scenario=scenario,
                year=year,
                location=found_file.location,
                fingerprint=f"{found_file.file.filename}:{found_file.size}",
            )
            for year, found_file in found.items()
        }


class ZarrArchive:
    """A Zarr store (or one per scenario) with a ``time`` dimension."""

    def __init__(self, store: str, model: str) -> None:
        self.store = store
        self.model = model

    def describe(self) -> str:
        return f"Zarr store {self.store} (model {self.model})"

    def store_for(self, scenario: str) -> str:
        """The store holding ``scenario`` (the placeholders filled in)."""
        return self.store.format(model=self.model, scenario=scenario)

    def year_inputs(
        self, variable: str, scenario: str, years: Iterable[int]
    ) -> dict[int, YearInput]:
        store = self.store_for(scenario)
        try:
            dataset = open_zarr_scenario(store, scenario, templated="{scenario}" in self.store)
        except FileNotFoundError:
            return {}
        if dataset is None or variable not in dataset:
            return {}
        present = set(years_and_days(dataset["time"])[0].tolist())
        return {
            year: YearInput(
                variable=variable,
                scenario=scenario,
                year=year,
                location=store,
                fingerprint=f"{store}#{year}",
                is_zarr=True,
            )
            for year in sorted(present & set(years))
        }


def open_archive(
    location: str | Path,
    model: str,
    *,
    variant_label: str | None = None,
    grid_label: str | None = None,
) -> NexGddpArchive | ZarrArchive:
    """A :class:`ZarrArchive` when ``location`` is (a template of) a Zarr store, else a NetCDF archive."""
    location = str(location)
    if location.rstrip("/").endswith(".zarr") or _is_local_zarr(location):
        return ZarrArchive(location, model)
    return NexGddpArchive(location, model, variant_label=variant_label, grid_label=grid_label)


def archive_model_names(location: str | Path) -> list[str]:
    """Every model of the archive at ``location`` (for ``--model all``).

    Raises
    ------
    ValueError
        For a Zarr store, whose model is named by its path.
    """
    location = str(location)
    if location.rstrip("/").endswith(".zarr") or _is_local_zarr(location):
        raise ValueError(f"{location} is a Zarr store: name its model instead of 'all'")
    return archive_models(location)


def open_zarr_scenario(store: str, scenario: str, *, templated: bool) -> xr.Dataset | None:
    """Open ``store`` lazily for ``scenario``; ``None`` when the store does not hold it.

    A store with a ``scenario`` dimension is indexed by it; a store templated by scenario
    holds its scenario; any other store must carry a matching ``scenario`` attribute.

    Raises
    ------
    FileNotFoundError
        If there is no store at ``store``.
    ValueError
        If a store without ``scenario`` dimension or template names another scenario.
    """
    try:
        dataset: xr.Dataset = xr.open_zarr(store, decode_times=TIME_CODER)
    except (FileNotFoundError, KeyError) as error:
        raise FileNotFoundError(f"no Zarr store at {store}") from error
    if "scenario" in dataset.dims:
        if scenario not in dataset["scenario"].values:
            return None
        return dataset.sel(scenario=scenario, drop=True)
    stored = dataset.attrs.get("scenario")
    if not templated and stored != scenario:
        raise ValueError(
            f"Zarr store {store} has no 'scenario' dimension and holds scenario {stored!r}, "
            f"not {scenario!r}; give a store path with a {{scenario}} placeholder"
        )
    return dataset


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
    with _open_year_dataset(source, storage_options) as dataset:
        variable = _variable(dataset, source)
        if grid is not None:
            _check_grid(source, variable, grid)
        check_calendar(variable["time"].dt.calendar, source.location)
        in_year = np.flatnonzero(years_and_days(variable["time"])[0] == source.year)
        if in_year.size == 0:
            raise ValueError(f"{source.location} has no time steps in {source.year}")
        if in_year.size < variable.sizes["time"]:
            variable = variable.isel(time=slice(in_year[0], in_year[-1] + 1))
        return [slices.subset(variable).load() for slices in regions]


@contextmanager
def _open_year_dataset(
    source: YearInput, storage_options: Mapping[str, Any] | None = None
) -> Iterator[xr.Dataset]:
    if source.is_zarr:
        dataset = open_zarr_scenario(source.location, source.scenario, templated=True)
        if dataset is None:
            raise ValueError(f"Zarr store {source.location} has no scenario {source.scenario!r}")
        yield dataset.sel(time=str(source.year))
        return
    with (
        _local_copy(source.location, storage_options) as path,
        _open_netcdf(path, source.location) as dataset,
    ):
        yield dataset


@contextmanager
def _open_netcdf(path: str, location: str) -> Iterator[xr.Dataset]:
    """Open a NetCDF file (a path, or a URL netCDF-C reads) holding the NetCDF lock."""
    with NETCDF_LOCK:
        try:
            dataset = xr.open_dataset(path, engine="netcdf4", decode_times=TIME_CODER, cache=False)
        except Exception as error:
            raise OSError(f"cannot open {location}: {error}") from error
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


def _is_local_zarr(location: str) -> bool:
    path = Path(location)
    return path.is_dir() and any((path / name).exists() for name in ("zarr.json", ".zgroup"))
