"""Planning a normals run: what to compute, and which input years feed which target years.

:func:`plan_normals` reads directory listings and one input's metadata per (model, variable)
and lists every output as a :class:`TargetJob`: its window's available inputs, its missing
years, its path and the fingerprint of its inputs (what a rerun compares to keep a file).
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from climaflow.datasets.nex_gddp_cmip6.models import UnknownModelError
from climaflow.normals.archive import Archive, YearInput, open_archive
from climaflow.normals.compute import validate_window
from climaflow.normals.output import NormalMetadata, normal_path
from climaflow.normals.periods import (
    DEFAULT_PERIODS,
    HISTORICAL,
    LAST_HISTORICAL_YEAR,
    Period,
    TargetWindow,
    format_years,
    target_windows,
)
from climaflow.normals.read import InputGrid, inspect_input
from climaflow.normals.regions import Region, RegionSlices, region_slices
from climaflow.normals.zarr_output import normals_store_path


@dataclass(frozen=True)
class NormalsConfig:
    """One normals run: inputs, outputs, what to compute and how to batch it.

    Parameters
    ----------
    input
        NEX-GDDP-style archive root (local path or URL) or Zarr store (see
        :mod:`climaflow.normals.archive`).
    output
        Output root; files go to ``{output}/{model}/{var}/{scenario}/{REGION}/...``.
    output_format
        ``"netcdf"``: one NetCDF4 file per target year (:mod:`climaflow.normals.output`);
        ``"zarr"``: one Zarr v3 store per (model, variable, scenario, region) whose shards
        are target years (:mod:`climaflow.normals.zarr_output`).
    models, variables, regions, scenarios
        What to compute: ``scenarios`` are the scenarios of hybrid and future periods
        (historical targets are computed once whatever they are). Every model runs in the
        same graph, each on its own grid and calendar.
    variant_label, grid_label
        The models' file labels when not those the archive lists or the table of the real
        archive's models gives (see :mod:`climaflow.datasets.nex_gddp_cmip6.models`).
    periods, target_years, last_historical_year
        Which target years: every year of ``periods``, restricted to ``target_years`` when
        given; hybrid windows take years up to ``last_historical_year`` from historical files.
    window, min_years
        Window length and the minimum number of available years for a normal.
    batch_size
        Target years per batch task; ``None`` sizes batches to the workers' memory.
    allow_incomplete_years
        Use years that lack some of their calendar's days; by default they are left out of
        every window (and do not count toward ``min_years``).
    skip_models_without_inputs
        Leave out (and name) a model that has no input for a variable, or whose labels
        cannot be found, instead of failing the run: for runs over every model of an
        archive, where not every model has every variable.
    storage_options
        Options of :mod:`climaflow.io` for reading remote inputs (credentials, client and
        retry options; see :mod:`climaflow.io.objects`). Directory listings use fsspec's
        own configuration.
    """

    input: str
    output: Path
    models: tuple[str, ...]
    variables: tuple[str, ...]
    regions: tuple[Region, ...]
    scenarios: tuple[str, ...]
    periods: tuple[Period, ...] = DEFAULT_PERIODS
    target_years: tuple[int, ...] | None = None
    window: int = 30
    min_years: int = 25
    batch_size: int | None = None
    last_historical_year: int = LAST_HISTORICAL_YEAR
    variant_label: str | None = None
    grid_label: str | None = None
    allow_incomplete_years: bool = False
    skip_models_without_inputs: bool = False
    storage_options: Mapping[str, Any] | None = field(default=None, hash=False)
    output_format: Literal["netcdf", "zarr"] = "netcdf"

    def __post_init__(self) -> None:
        validate_window(self.window, self.min_years)
        if self.output_format not in ("netcdf", "zarr"):
            raise ValueError(
                f"output_format must be 'netcdf' or 'zarr', not {self.output_format!r}"
            )
        for name in ("models", "variables", "regions", "scenarios", "periods"):
            if not getattr(self, name):
                raise ValueError(f"no {name} given")
        if (self.variant_label or self.grid_label) and len(self.models) > 1:
            raise ValueError(
                "a variant or grid label applies to one model; models differ in their labels "
                f"(give one model, not {len(self.models)})"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.target_years is not None:
            covered = {year for period in self.periods for year in period.target_years}
            outside = sorted(set(self.target_years) - covered)
            if outside:
                spans = ", ".join(
                    f"{p.name} {p.first_target}-{p.last_target}" for p in self.periods
                )
                raise ValueError(
                    f"target years {format_years(outside, ', ')} are outside the periods "
                    f"computed ({spans})"
                )


@dataclass(frozen=True)
class TargetJob:
    """One output: a (model, variable, region, scenario, target year) and its window's inputs."""

    model: str
    variable: str
    region: Region
    window: TargetWindow
    path: Path
    inputs: tuple[YearInput, ...]
    missing: tuple[tuple[str, int], ...]
    fingerprint: str

    @property
    def target_year(self) -> int:
        return self.window.target_year

    @property
    def output_key(self) -> tuple[Path, int]:
        """The output this job writes: its file, or its store and target year."""
        return (self.path, self.target_year)

    @property
    def scenario(self) -> str:
        return self.window.scenario

    def metadata(
        self,
        *,
        calendar: str,
        window: int,
        min_years: int,
        variable_attrs: Mapping[str, Any],
        years: Iterable[tuple[str, int]],
    ) -> NormalMetadata:
        """What this target's output records, its normal averaged over ``years`` (source
        scenario and year, in window order)."""
        used = list(years)
        return NormalMetadata(
            variable=self.variable,
            target_year=self.target_year,
            period=self.window.period,
            scenario=self.scenario,
            model=self.model,
            calendar=calendar,
            region=self.region,
            window=window,
            min_years=min_years,
            inputs_fingerprint=self.fingerprint,
            source_years=tuple(year for _, year in used),
            source_scenarios=tuple(scenario for scenario, _ in used),
            variable_attrs=variable_attrs,
        )

    def expected_attrs(self, config: NormalsConfig) -> dict[str, Any]:
        """The recorded parameters an existing output must match to be kept."""
        return {
            "window": config.window,
            "min_years": config.min_years,
            "inputs_fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class NormalsPlan:
    """Every target job of a run, and the grid each (model, variable)'s inputs are on."""

    jobs: tuple[TargetJob, ...]
    grids: Mapping[tuple[str, str], InputGrid]
    slices: Mapping[tuple[str, str, str], RegionSlices]
    left_out_models: tuple[tuple[str, str, str], ...] = ()


def plan_normals(config: NormalsConfig) -> NormalsPlan:
    """List every target job: its window's available inputs, missing years and output path.

    Reads only directory listings and one input's metadata per (model, variable).

    Raises
    ------
    FileNotFoundError, UnknownModelError
        If the archive has no input at all for a (model, variable), or a model's labels
        cannot be found (unless ``config.skip_models_without_inputs``: then the pair is
        left out and named in ``left_out_models``).
    ValueError, UnsupportedCalendarError
        For a region outside the grid or an unsupported calendar.
    """
    windows = _windows(config)
    needed: dict[str, set[int]] = defaultdict(set)
    for window in windows.values():
        for source, year in window.year_sources:
            needed[source].add(year)

    jobs: list[TargetJob] = []
    grids: dict[tuple[str, str], InputGrid] = {}
    slices: dict[tuple[str, str, str], RegionSlices] = {}
    left_out: list[tuple[str, str, str]] = []
    found: set[str] = set()
    for model in config.models:
        archive = open_archive(
            config.input,
            model,
            variant_label=config.variant_label,
            grid_label=config.grid_label,
        )
        for variable in config.variables:
            try:
                inputs = {
                    source: archive.year_inputs(variable, source, years)
                    for source, years in needed.items()
                }
                found.update(source for source, by_year in inputs.items() if by_year)
                grid = grids[(model, variable)] = _inspect_first(
                    archive, variable, inputs, config.storage_options
                )
            except (FileNotFoundError, UnknownModelError) as error:
                if not config.skip_models_without_inputs:
                    raise
                left_out.append((model, variable, str(error)))
                continue
            for region in config.regions:
                slices[(model, variable, region.name)] = region_slices(region, grid.lat, grid.lon)
                jobs.extend(
                    _target_job(config, archive, model, variable, region, window, inputs)
                    for _, window in sorted(windows.items())
                )
    _check_scenarios(needed, found, config)
    return NormalsPlan(
        jobs=tuple(jobs), grids=grids, slices=slices, left_out_models=tuple(left_out)
    )


def _windows(config: NormalsConfig) -> dict[tuple[str, int], TargetWindow]:
    """Every target window of the run, by (scenario, target year); historical ones once."""
    windows: dict[tuple[str, int], TargetWindow] = {}
    for scenario in config.scenarios:
        for window in target_windows(
            scenario,
            periods=config.periods,
            window=config.window,
            target_years=config.target_years,
            last_historical_year=config.last_historical_year,
        ):
            windows.setdefault((window.scenario, window.target_year), window)
    return windows


def _check_scenarios(needed: Iterable[str], found: set[str], config: NormalsConfig) -> None:
    """Raise ``FileNotFoundError`` for a scenario no (model, variable) of the run has any
    input for: a misspelt name, whose windows would otherwise be historical years only."""
    missing = sorted(set(needed) - found - {HISTORICAL})
    if missing and found:
        raise FileNotFoundError(
            f"no input for scenario {', '.join(missing)} in {config.input} for "
            f"{', '.join(config.models)} {', '.join(config.variables)} in the years needed "
            f"(inputs found for: {', '.join(sorted(found))}); check the scenario's name"
        )


def _inspect_first(
    archive: Archive,
    variable: str,
    inputs: Mapping[str, Mapping[int, YearInput]],
    storage_options: Mapping[str, Any] | None,
) -> InputGrid:
    first_input = next((i for by_year in inputs.values() for i in by_year.values()), None)
    if first_input is None:
        raise FileNotFoundError(
            f"no input for variable {variable!r} in {archive.describe()} "
            f"(scenarios {', '.join(sorted(inputs))})"
        )
    return inspect_input(first_input, storage_options=storage_options)


def _output_path(
    config: NormalsConfig, model: str, variable: str, region: Region, window: TargetWindow
) -> Path:
    """The target's NetCDF file, or the Zarr store of its (model, variable, scenario, region)."""
    if config.output_format == "zarr":
        return normals_store_path(
            config.output, model, variable, window.scenario, region.name, config.window
        )
    return normal_path(
        config.output,
        model,
        variable,
        window.scenario,
        region.name,
        window.target_year,
        config.window,
    )


def _target_job(
    config: NormalsConfig,
    archive: Archive,
    model: str,
    variable: str,
    region: Region,
    window: TargetWindow,
    inputs: Mapping[str, Mapping[int, YearInput]],
) -> TargetJob:
    available = tuple(
        inputs[source][year] for source, year in window.year_sources if year in inputs[source]
    )
    return TargetJob(
        model=model,
        variable=variable,
        region=region,
        window=window,
        path=_output_path(config, model, variable, region, window),
        inputs=available,
        missing=tuple(
            (source, year) for source, year in window.year_sources if year not in inputs[source]
        ),
        fingerprint=_fingerprint(config, model, variable, region, available),
    )


def _fingerprint(
    config: NormalsConfig,
    model: str,
    variable: str,
    region: Region,
    inputs: Iterable[YearInput],
) -> str:
    description = {
        "variable": variable,
        "model": model,
        "region": [region.name, *region.bounds],
        "allow_incomplete_years": config.allow_incomplete_years,
        "inputs": [[i.scenario, i.year, i.fingerprint] for i in inputs],
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]
