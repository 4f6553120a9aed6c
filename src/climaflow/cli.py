"""The ``climaflow`` command line: a thin layer over the Python API."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from climaflow import __version__
from climaflow.cli_common import (
    ClimaflowGroup,
    cluster_options,
    comma_list,
    key_values,
    log_level_option,
    progress_option,
    run_cluster,
    storage_options_option,
)
from climaflow.normals.cli import normals
from climaflow.reformat.source_file_coord import SourceFileStatus

if TYPE_CHECKING:
    from climaflow.reformat.runner import ReformatResult

logger = logging.getLogger("climaflow")

store_options = storage_options_option("--storage-option", "storage_options", "the store")
source_options = storage_options_option("--source-option", "source_options", "the source archive")
source_url_option = click.option(
    "--source-url", help="Root URL of the source archive (default: the real one)."
)

allow_failures_option = click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when source files failed (their values stay NaN and are listed).",
)


@click.group(
    cls=ClimaflowGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    params=[log_level_option(default="warning")],
)
@click.version_option(__version__, prog_name="climaflow")
def main() -> None:
    """climaflow: reformat GRIB2/NetCDF archives into sharded Zarr v3 stores and compute
    rolling 30-year daily climate normals, on a Dask cluster.

    Runs on a LocalCluster sized to this machine by default, or on a running
    `dask scheduler` given with --scheduler or DASK_SCHEDULER_ADDRESS.
    """


class DatasetCommand(click.Command):
    """A command taking a DATASET argument: its help ends with the datasets there are."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from climaflow.datasets.registry import integrations

        with formatter.section("Datasets (climaflow datasets lists their variables and options)"):
            formatter.write_dl(
                [(name, found.description) for name, found in sorted(integrations().items())]
            )
        super().format_epilog(ctx, formatter)


@main.command()
def datasets() -> None:
    """List the dataset integrations and their variables."""
    from climaflow.datasets.registry import integrations

    for integration in integrations().values():
        template = integration.make_template()
        click.echo(f"{integration.dataset_id}: {integration.description}")
        click.echo(f"  source: {integration.default_source_url}")
        options = integration.template_options()
        if options:
            click.echo(f"  options (-o KEY=VALUE): {', '.join(options)}")
        for var in template.data_vars:
            units = var.attrs.get("units", "")
            click.echo(f"  {var.name:<38} {units:<12} {var.attrs.get('long_name', '')}")


@main.command(cls=DatasetCommand)
@click.argument("dataset")
@click.option(
    "--store",
    required=True,
    help="Zarr v3 store to write or extend: a path, a URL (s3://, gs://...) or an Icechunk "
    "repository (icechunk://PATH, icechunk+s3://BUCKET/PREFIX; one commit per run).",
)
@click.option("--start", required=True, help="First append-dim value, e.g. 2024-01-01T00.")
@click.option("--end", required=True, help="End of the store's append dim (exclusive).")
@click.option(
    "--stop",
    help="Stop processing here (exclusive; default --end), e.g. to re-fill a stretch; the "
    "store is then extended only as far as processing went.",
)
@click.option("--variables", help="Comma-separated variables (default: all).")
@source_url_option
@click.option(
    "-o",
    "--template-option",
    "template_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=key_values,
    help="Dataset option, e.g. -o model=NorESM2-LM -o scenario=ssp245.",
)
@allow_failures_option
@store_options
@source_options
@cluster_options
@progress_option
def reformat(
    dataset: str,
    store: str,
    start: str,
    end: str,
    stop: str | None,
    variables: str | None,
    source_url: str | None,
    template_options: dict[str, str],
    allow_failures: bool,
    storage_options: dict[str, Any],
    source_options: dict[str, Any],
    progress: bool,
    **cluster: Any,
) -> None:
    """Write or extend the Zarr store of DATASET from START to END.

    Exits 1 when any source file is not found or failed to download or read (listed with
    its URL, status and reason; its values stay NaN), unless --allow-failures.
    """
    from climaflow.datasets.registry import get_integration
    from climaflow.reformat.runner import check_request
    from climaflow.reformat.runner import reformat as run_reformat

    integration = get_integration(dataset)
    try:
        template = integration.make_template_from_options(template_options, source_url)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    data_vars = comma_list(variables)
    check_request(template, start=start, end=end, stop=stop, data_vars=data_vars)
    with run_cluster(**cluster, writable_paths=[store]) as client:
        result = run_reformat(
            template,
            integration.region_job,
            store,
            start=start,
            end=end,
            stop=stop,
            data_vars=data_vars,
            client=client,
            show_progress=progress,
            source_url=source_url or integration.default_source_url,
            source_storage_options=source_options,
            store_storage_options=storage_options,
        )
    click.echo(f"\n{dataset} -> {store}: {len(result.jobs)} region jobs")
    _report(result, result.failed_files, allow_failures, "re-run the range to fill them")


@main.command(cls=DatasetCommand)
@click.argument("dataset")
@click.option("--store", required=True, help="The store to extend, made by `climaflow reformat`.")
@click.option(
    "--end", help="Extend the append dim at most to here (exclusive) [default: now, UTC]."
)
@click.option(
    "--variables", help="Comma-separated variables (default: those the store's runs wrote)."
)
@source_url_option
@allow_failures_option
@store_options
@source_options
@cluster_options
@progress_option
def update(
    dataset: str,
    store: str,
    end: str | None,
    variables: str | None,
    source_url: str | None,
    allow_failures: bool,
    storage_options: dict[str, Any],
    source_options: dict[str, Any],
    progress: bool,
    **cluster: Any,
) -> None:
    """Extend the Zarr store of DATASET with what its source published since its last run.

    Processes the append-dim values after the store's end, and those its recent runs left
    incomplete or failed; leaves out trailing values none of whose files is published yet.
    The template options the store was made with (-o of `climaflow reformat`) are read from
    the store. Exits 1 when a source file failed other than by not being published yet,
    unless --allow-failures.
    """
    from climaflow.datasets.registry import get_integration, stored_template_options
    from climaflow.reformat.update import update as run_update

    integration = get_integration(dataset)
    template = integration.make_template_from_options(
        stored_template_options(store, storage_options), source_url
    )
    data_vars = comma_list(variables)
    for name in data_vars or ():
        template.data_var(name)  # unknown names fail before the cluster starts
    with run_cluster(**cluster, writable_paths=[store]) as client:
        result = run_update(
            template,
            integration.region_job,
            store,
            end=end,
            data_vars=data_vars,
            client=client,
            show_progress=progress,
            source_url=source_url or integration.default_source_url,
            source_storage_options=source_options,
            store_storage_options=storage_options,
        )
    if not result.jobs:
        click.echo(f"\n{dataset} -> {store}: up to date")
        return
    click.echo(f"\n{dataset} -> {store}: {len(result.jobs)} region jobs")
    for region in result.regions:
        left_out = " (left out: not published yet)" if region in result.trimmed else ""
        click.echo(f"  {region.first}: {region.status}{left_out}")
    failed = [
        record
        for record in result.failed_files
        if record["status"] != str(SourceFileStatus.NOT_AVAILABLE)
    ]
    _report(result, failed, allow_failures, "the next update retries them")


def _report(
    result: "ReformatResult",
    failed: list[dict[str, Any]],
    allow_failures: bool,
    remedy: str,
) -> None:
    """Print files per status and every ``failed`` file; exit 1 on them unless allowed.

    Failed files not in ``failed`` (not published yet, for ``update``) are counted, and
    listed in the run record.
    """
    for name, counts in result.status_counts().items():
        click.echo(f"  {name:<38} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for record in failed:
        click.echo(f"  FAILED {record['status']}: {record['url']}: {record['error']}")
    unpublished = len(result.failed_files) - len(failed)
    if unpublished:
        click.echo(f"  {unpublished} file(s) not published yet; listed in {result.record}")
    if failed and not allow_failures:
        click.echo(
            f"{len(failed)} source file(s) failed: their values are NaN in the store "
            f"({remedy}, or pass --allow-failures to exit 0)",
            err=True,
        )
        raise SystemExit(1)


@main.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("climaflow-demo"),
    show_default=True,
    help="Where the archives and outputs go.",
)
@click.option("--small", is_flag=True, help="A smaller archive (for quick checks and tests).")
@cluster_options
@progress_option
def demo(workdir: Path, small: bool, progress: bool, **cluster: Any) -> None:
    """Run both jobs end to end on small synthetic archives served over loopback HTTP."""
    from climaflow.demo import FULL, SMALL, run_demo

    start = time.perf_counter()
    with run_cluster(**cluster, writable_paths=[workdir]) as client:
        outputs = run_demo(
            workdir,
            client,
            size=SMALL if small else FULL,
            report=click.echo,
            show_progress=progress,
        )
    click.echo(f"\nDemo finished in {time.perf_counter() - start:.0f} s; outputs under {workdir}/")
    for name, path in outputs.items():
        click.echo(f"  {name}: {path}")


@main.command()
@click.argument("path")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PNG to write.",
)
@click.option(
    "--kind",
    type=click.Choice(["map", "cycle", "difference", "leads"]),
    default="map",
    show_default=True,
    help="map: a normal's or a store's field; cycle: a normal's annual cycle; difference: "
    "two normals' (see --against); leads: a forecast's lead-time series at --point.",
)
@click.option("--variable", help="The variable (default: the first data variable).")
@click.option("--day", type=int, help="Normals: the day of the year to map [default: annual mean].")
@click.option("--month", type=int, help="Normals: map the month's mean (1-12).")
@click.option("--target-year", type=int, help="Normals: the target year [default: the last].")
@click.option(
    "--against",
    help="For --kind difference: the other normal, a file or a target year of PATH's store; "
    "the map is PATH's minus it.",
)
@click.option("--point", metavar="LAT,LON", help="A grid cell (nearest) for cycle and leads.")
@click.option("--time", "time_value", help="Stores: the append-dim value [default: the last].")
@click.option("--lead", type=int, help="Forecast stores: the lead time in hours [default: 0].")
def plot(
    path: str,
    output: Path,
    kind: str,
    variable: str | None,
    day: int | None,
    month: int | None,
    target_year: int | None,
    against: str | None,
    point: str | None,
    time_value: str | None,
    lead: int | None,
) -> None:
    """Draw a quick look at a climaflow output PATH (a normals NetCDF file, a normals Zarr
    store, or a reformatted store) into a PNG. Needs the viz extra (matplotlib)."""
    try:
        from climaflow import viz
    except ImportError as error:
        raise click.ClickException(f"{error}: pip install 'climaflow[viz]'") from None

    dataset = viz.open_output(path)
    name = variable or str(next(iter(dataset.data_vars)))
    if name not in dataset.data_vars:
        raise click.BadParameter(
            f"{name!r} is not in {path} (it has {', '.join(map(str, dataset.data_vars))})",
            param_hint="--variable",
        )
    lat, lon = _point(point)
    if kind == "map" and "dayofyear" in dataset[name].dims:
        ax = viz.normal_map(dataset[name], dayofyear=day, month=month, target_year=target_year)
    elif kind == "map":
        ax = viz.forecast_map(dataset, name, time=time_value, lead_time=lead)
    elif kind == "cycle":
        ax = viz.annual_cycle(dataset[name], lat=lat, lon=lon, target_year=target_year)
    elif kind == "difference":
        if against is None:
            raise click.UsageError("--kind difference needs --against")
        ax = viz.normal_difference(
            _against(dataset[name], against, viz.open_output),
            dataset[name].sel(target_year=[target_year]) if target_year else dataset[name],
            dayofyear=day,
            month=month,
        )
    else:
        if lat is None or lon is None:
            raise click.UsageError("--kind leads needs --point LAT,LON")
        ax = viz.lead_series(dataset, name, lat=lat, lon=lon, init_time=time_value)
    click.echo(f"written: {viz.save(ax, output)}")


def _point(text: str | None) -> tuple[float | None, float | None]:
    if text is None:
        return None, None
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter("give LAT,LON, e.g. 40,-105", param_hint="--point") from None
    return lat, lon


def _against(normal: Any, against: str, open_output: Any) -> Any:
    """The other normal of a difference: a target year of ``normal``'s dataset, or a file."""
    if against.isdigit():
        return normal.sel(target_year=[int(against)])
    return open_output(against)[normal.name]


@main.command(cls=DatasetCommand)
@click.argument("dataset")
@source_url_option
@click.option("--start", help="gfs-forecast: first init time [default: a day before --end].")
@click.option("--end", help="gfs-forecast: end of the init times (exclusive) [default: now, UTC].")
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=key_values,
    help="nex-gddp-cmip6: model=A,B restricts the models; other keys are listing options "
    "(-o anon=true for the public S3 bucket).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the table to this CSV file.",
)
def inventory(
    dataset: str,
    source_url: str | None,
    start: str | None,
    end: str | None,
    options: dict[str, str],
    csv_path: Path | None,
) -> None:
    """List what the source of DATASET holds: for nex-gddp-cmip6 each model's scenarios,
    variables, labels, calendar and years; for gfs-forecast each init time's published leads.

    Python: climaflow.datasets.registry.get_integration(DATASET).inventory(...), or
    nex_gddp_inventory / gfs_inventory, returning a pandas DataFrame.
    """
    import pandas as pd

    from climaflow.datasets.registry import get_integration

    integration = get_integration(dataset)
    if integration.inventory is None:
        raise click.ClickException(f"{dataset} has no inventory")
    table = integration.inventory(
        source_url or integration.default_source_url, start=start, end=end, options=options
    )
    with pd.option_context("display.width", 200, "display.max_columns", None):
        click.echo(table.to_string(index=False) if len(table) else "nothing found")
    if csv_path is not None:
        table.to_csv(csv_path, index=False)
        click.echo(f"written to {csv_path}")


@main.command()
@click.argument("store")
@click.option(
    "--max-age",
    help="Fail when the latest append-dim value is older than this, e.g. 12h or 2 days.",
)
@store_options
@cluster_options
@progress_option
def verify(
    store: str,
    max_age: str | None,
    storage_options: dict[str, Any],
    progress: bool,
    **cluster: Any,
) -> None:
    """Check that every shard STORE's runs wrote exists and decodes; report NaN and failed files.

    Exits with status 1 when a shard is missing or cannot be decoded, when an append-dim
    value is NaN everywhere in a variable, or (with --max-age) when the latest one is older.
    """
    import pandas as pd

    from climaflow.io.stores import store_exists
    from climaflow.reformat.verify import verify_store

    try:
        age = None if max_age is None else pd.Timedelta(max_age).to_timedelta64()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--max-age") from None
    if not store_exists(store, storage_options):
        raise click.ClickException(f"no Zarr store at {store}")
    with run_cluster(**cluster) as client:
        report = verify_store(
            store, client, max_age=age, show_progress=progress, storage_options=storage_options
        )
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


main.add_command(normals)
