"""The ``climaflow`` command line: a thin layer over the Python API."""

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from climaflow import __version__
from climaflow.cli_common import ClimaflowGroup, cluster_options, comma_list, run_cluster
from climaflow.normals.cli import normals
from climaflow.reformat.source_file_coord import SourceFileStatus

if TYPE_CHECKING:
    from climaflow.reformat.runner import ReformatResult

logger = logging.getLogger("climaflow")

allow_failures_option = click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when source files failed (their values stay NaN and are listed).",
)


@click.group(cls=ClimaflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="climaflow")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="warning",
    show_default=True,
)
def main(log_level: str) -> None:
    """climaflow: reformat GRIB2/NetCDF archives into sharded Zarr v3 stores and compute
    rolling 30-year daily climate normals, on a Dask cluster.

    Runs on a LocalCluster sized to this machine by default, or on a running
    `dask scheduler` given with --scheduler or DASK_SCHEDULER_ADDRESS.
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


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


@main.command()
@click.argument("dataset")
@click.option(
    "--store",
    required=True,
    help="Zarr v3 store to write or extend: a path, a URL (s3://, gs://...) or a local "
    "Icechunk repository (icechunk://PATH; one commit per run).",
)
@click.option("--start", required=True, help="First append-dim value, e.g. 2024-01-01T00.")
@click.option("--end", required=True, help="End of the store's append dim (exclusive).")
@click.option(
    "--stop",
    help="Stop processing here (exclusive; default --end), e.g. to re-fill a stretch; the "
    "store is then extended only as far as processing went.",
)
@click.option("--variables", help="Comma-separated variables (default: all).")
@click.option("--source-url", help="Root URL of the source archive (default: the real one).")
@click.option(
    "-o",
    "--template-option",
    "template_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Dataset option, e.g. -o model=NorESM2-LM -o scenario=ssp245.",
)
@allow_failures_option
@cluster_options
def reformat(
    dataset: str,
    store: str,
    start: str,
    end: str,
    stop: str | None,
    variables: str | None,
    source_url: str | None,
    template_options: tuple[str, ...],
    allow_failures: bool,
    **cluster: Any,
) -> None:
    """Write or extend the Zarr store of DATASET from START to END.

    Exits 1 when any source file is not found or failed to download or read (listed with
    its URL, status and reason; its values stay NaN), unless --allow-failures.
    """
    from climaflow.datasets.registry import get_integration
    from climaflow.reformat.runner import reformat as run_reformat

    integration = get_integration(dataset)
    try:
        options = dict(option.split("=", 1) for option in template_options)
    except ValueError:
        raise click.BadParameter("template options are KEY=VALUE", param_hint="-o") from None
    try:
        template = integration.make_template_from_options(options, source_url)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    with run_cluster(**cluster, writable_paths=[store]) as client:
        result = run_reformat(
            template,
            integration.region_job,
            store,
            start=start,
            end=end,
            stop=stop,
            data_vars=comma_list(variables),
            client=client,
            show_progress=True,
            source_url=source_url or integration.default_source_url,
        )
    click.echo(f"\n{dataset} -> {store}: {len(result.jobs)} region jobs")
    _report(result, result.failed_files, allow_failures, "re-run the range to fill them")


@main.command()
@click.argument("dataset")
@click.option("--store", required=True, help="The store to extend, made by `climaflow reformat`.")
@click.option(
    "--end", help="Extend the append dim at most to here (exclusive) [default: now, UTC]."
)
@click.option(
    "--variables", help="Comma-separated variables (default: those the store's runs wrote)."
)
@click.option("--source-url", help="Root URL of the source archive (default: the real one).")
@allow_failures_option
@cluster_options
def update(
    dataset: str,
    store: str,
    end: str | None,
    variables: str | None,
    source_url: str | None,
    allow_failures: bool,
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
    template = integration.make_template_from_options(stored_template_options(store), source_url)
    with run_cluster(**cluster, writable_paths=[store]) as client:
        result = run_update(
            template,
            integration.region_job,
            store,
            end=end,
            data_vars=comma_list(variables),
            client=client,
            show_progress=True,
            source_url=source_url or integration.default_source_url,
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
def demo(workdir: Path, small: bool, **cluster: Any) -> None:
    """Run both jobs end to end on small synthetic archives served over loopback HTTP."""
    from climaflow.demo import FULL, SMALL, run_demo

    start = time.perf_counter()
    with run_cluster(**cluster, writable_paths=[workdir]) as client:
        outputs = run_demo(workdir, client, size=SMALL if small else FULL, report=click.echo)
    click.echo(f"\nDemo finished in {time.perf_counter() - start:.0f} s; outputs under {workdir}/")
    for name, path in outputs.items():
        click.echo(f"  {name}: {path}")


@main.command()
@click.argument("store")
@click.option(
    "--max-age",
    help="Fail when the latest append-dim value is older than this, e.g. 12h or 2 days.",
)
@cluster_options
def verify(store: str, max_age: str | None, **cluster: Any) -> None:
    """Check that every shard STORE's runs wrote exists and decodes; report NaN and failed files.

    Exits with status 1 when a shard is missing or cannot be decoded, when an append-dim
    value is NaN everywhere in a variable, or (with --max-age) when the latest one is older.
    """
    import pandas as pd

    from climaflow.reformat.verify import verify_store

    try:
        age = None if max_age is None else pd.Timedelta(max_age).to_timedelta64()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--max-age") from None
    with run_cluster(**cluster) as client:
        report = verify_store(store, client, max_age=age)
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


main.add_command(normals)
