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

Reading them is :mod:`climaflow.normals.read`'s job.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import xarray as xr

from climaflow.datasets.nex_gddp_cmip6.archive import find_year_files
from climaflow.datasets.nex_gddp_cmip6.models import ModelInfo, archive_models, resolve_model
from climaflow.normals.calendar import years_and_days

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


def _is_local_zarr(location: str) -> bool:
    path = Path(location)
    return path.is_dir() and any((path / name).exists() for name in ("zarr.json", ".zgroup"))
