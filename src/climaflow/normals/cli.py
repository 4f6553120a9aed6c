"""``climaflow normals``: the command line over :func:`climaflow.normals.run_normals`.

Every option can also come from a YAML file (``--config run.yaml``) with the same keys
(``target-years`` or ``target_years``); options given on the command line win. Lists are
comma-separated strings or YAML lists; ``periods`` may map period names to
``[first, last]`` target years; ``regions`` may mix names and ``NAME:lon_min,lon_max,lat_min,lat_max``.
"""

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click
import yaml
from click.core import ParameterSource

from climaflow.cli_common import (
    CLUSTER_OPTION_NAMES,
    cluster_options,
    progress_option,
    run_cluster,
    storage_options_option,
)
from climaflow.normals.archive import archive_model_names
from climaflow.normals.outcomes import Status
from climaflow.normals.periods import PERIOD_KINDS, make_periods, parse_year_range
from climaflow.normals.pipeline import plan_run, run_normals
from climaflow.normals.plan import NormalsConfig
from climaflow.normals.regions import get_region

_REQUIRED = ("input", "output", "model", "variables")


@click.command("normals")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file with any of these options (same names); command-line options win.",
)
@click.option("--input", "input", help="Archive root (path or URL) or Zarr store.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Output root.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["netcdf", "zarr"]),
    default="netcdf",
    show_default=True,
    help="netcdf: one NetCDF4 file per target year; zarr: one Zarr v3 store per model, "
    "variable, scenario and region, one shard per target year.",
)
@click.option(
    "--model",
    help="Model(s), comma-separated (e.g. NorESM2-LM,UKESM1-0-LL), or 'all' for every model "
    "of the archive (a model without input for a variable is then left out and named).",
)
@click.option(
    "--variant", help="Variant label of the model's files (one model) [default: from the archive]."
)
@click.option(
    "--grid", help="Grid label of the model's files (one model) [default: from the archive]."
)
@click.option("--variables", help="Comma-separated variables, e.g. tas,pr.")
@click.option(
    "--regions",
    default="CONUS",
    show_default=True,
    help="Comma-separated regions: CONUS, AK, HI, PRVI, GU or NAME:lon_min,lon_max,lat_min,lat_max.",
)
@click.option(
    "--scenario",
    "scenarios",
    default="ssp245",
    show_default=True,
    help="Scenario(s) of hybrid and future periods, comma-separated.",
)
@click.option(
    "--periods",
    default=",".join(PERIOD_KINDS),
    show_default=True,
    help="Comma-separated periods to compute.",
)
@click.option("--target-years", help="Restrict target years, e.g. 1980-2100 or 1990,2000-2010.")
@click.option(
    "--min-years",
    type=int,
    default=25,
    show_default=True,
    help="Fewest window years with a valid value for a normal (per cell and day).",
)
@click.option(
    "--allow-incomplete-years",
    is_flag=True,
    help="Use years whose files lack some days (by default they are left out and named).",
)
@click.option(
    "--window",
    type=int,
    default=30,
    show_default=True,
    help="Years in each target year's window (ending with the target year).",
)
@click.option(
    "--batch-size", type=int, help="Target years per batch task [default: sized to memory]."
)
@click.option(
    "--last-historical-year",
    type=int,
    default=2014,
    show_default=True,
    help="Last year taken from historical files in hybrid windows.",
)
@storage_options_option("--storage-option", "storage_options", "the input archive")
@cluster_options
@progress_option
@click.pass_context
def normals(ctx: click.Context, /, config_file: Path | None, **options: Any) -> None:
    """Compute rolling daily climate normals: one NetCDF file per target year, or (--format
    zarr) one Zarr store per model, variable, scenario and region.

    Reads each input year once per run, for every region; runs every variable, region and
    scenario as one Dask graph, batched by target years. Ends with a summary table; exits
    non-zero if any output failed.
    """
    settings = _merge(ctx, options, _read_yaml(config_file) if config_file else {})
    config = _config(settings)

    cluster = {name: settings[name] for name in CLUSTER_OPTION_NAMES}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # The request is checked against the archive before a cluster starts.
            plan = plan_run(config, show_progress=settings["progress"])
        except (FileNotFoundError, ValueError) as error:
            raise click.ClickException(str(error)) from error
    with (
        run_cluster(**cluster, writable_paths=[config.output]) as client,
        warnings.catch_warnings(record=True) as caught_running,
    ):
        warnings.simplefilter("always")
        try:
            summary = run_normals(config, client, plan=plan, show_progress=settings["progress"])
        except (FileNotFoundError, ValueError) as error:
            raise click.ClickException(str(error)) from error
    caught.extend(caught_running)

    for warning in caught:
        click.echo(f"Warning: {warning.message}", err=True)
    for outcome in summary.outcomes:
        if outcome.status in (Status.TOO_FEW_YEARS, Status.FAILED):
            click.echo(
                f"{outcome.status}: {outcome.model} {outcome.variable} {outcome.region} "
                f"{outcome.scenario} {outcome.target_year}: {outcome.message}",
                err=True,
            )
    click.echo(summary.table())
    if summary.failed:
        ctx.exit(1)


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open() as f:
        loaded = yaml.safe_load(f) or {}
    if not isinstance(loaded, Mapping):
        raise click.BadParameter(f"{path} must hold a mapping of options", param_hint="--config")
    return {str(key).replace("-", "_"): value for key, value in loaded.items()}


def _merge(
    ctx: click.Context, options: Mapping[str, Any], from_file: Mapping[str, Any]
) -> dict[str, Any]:
    unknown = set(from_file) - set(options) - {"scenario"}
    if unknown:
        raise click.BadParameter(
            f"unknown keys {', '.join(sorted(unknown))}", param_hint="--config"
        )
    file_values = {("scenarios" if k == "scenario" else k): v for k, v in from_file.items()}
    merged = dict(options)
    for name, value in file_values.items():
        if ctx.get_parameter_source(name) in (None, ParameterSource.DEFAULT):
            merged[name] = value
    missing = [name for name in _REQUIRED if merged.get(name) in (None, "", [])]
    if missing:
        raise click.UsageError(
            "missing " + ", ".join(f"--{name}" for name in missing) + " (option or YAML key)"
        )
    return merged


def _config(settings: Mapping[str, Any]) -> NormalsConfig:
    try:
        periods_setting = settings["periods"]
        if isinstance(periods_setting, Mapping):
            periods = make_periods(
                periods_setting, {k: tuple(v) for k, v in periods_setting.items()}
            )
        else:
            periods = make_periods(_items(periods_setting))
        target_years = None
        if settings["target_years"] is not None:
            target_years = tuple(
                year for spec in _items(settings["target_years"]) for year in parse_year_range(spec)
            )
        every_model = _items(settings["model"]) == ["all"]
        return NormalsConfig(
            input=str(settings["input"]),
            output=Path(settings["output"]),
            models=_models(settings["model"], str(settings["input"])),
            skip_models_without_inputs=every_model,
            variant_label=settings["variant"],
            grid_label=settings["grid"],
            allow_incomplete_years=bool(settings["allow_incomplete_years"]),
            variables=tuple(_items(settings["variables"])),
            regions=tuple(get_region(spec) for spec in _regions(settings["regions"])),
            scenarios=tuple(_items(settings["scenarios"])),
            periods=periods,
            target_years=target_years,
            window=int(settings["window"]),
            min_years=int(settings["min_years"]),
            batch_size=settings["batch_size"],
            last_historical_year=int(settings["last_historical_year"]),
            output_format=settings["output_format"],
            storage_options=dict(settings["storage_options"]) or None,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error


def _models(value: str | Iterable[str], input: str) -> tuple[str, ...]:
    """The models named, or every model of the archive at ``input`` for ``all``."""
    models = _items(value)
    if models == ["all"]:
        return tuple(archive_model_names(input))
    return tuple(models)


def _items(value: str | int | Iterable[Any]) -> list[str]:
    """A comma-separated string (or a YAML list, or a single year) as a list of strings."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, int):
        return [str(value)]
    return [str(item).strip() for item in value]


def _regions(value: str | Iterable[str]) -> list[str]:
    """Region specs; custom ones contain commas, so split a string only between regions."""
    if not isinstance(value, str):
        return [str(item) for item in value]
    specs: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if specs and ":" in specs[-1] and specs[-1].count(",") < 3:
            specs[-1] += f",{part}"
        elif part:
            specs.append(part)
    return specs
