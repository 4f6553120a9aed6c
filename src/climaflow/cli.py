"""The ``climaflow`` command line: a thin layer over the Python API."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click
from distributed import Client, performance_report

from climaflow import __version__
from climaflow.cluster import cluster_client

logger = logging.getLogger("climaflow")


def comma_list(value: str | None) -> list[str] | None:
    """``"a,b"`` to ``["a", "b"]``; ``None`` stays ``None``."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def cluster_options(command: click.Command) -> click.Command:
    """The options every command that runs on a cluster takes."""
    options = [
        click.option(
            "--scheduler",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Address of a running `dask scheduler` (tcp://host:8786); "
            "default: a LocalCluster on this machine.",
        ),
        click.option("--workers", type=int, help="LocalCluster workers (default: one per core)."),
        click.option("--threads-per-worker", type=int, help="LocalCluster threads per worker."),
        click.option(
            "--report",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Save a Dask performance report (HTML) here.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def run_cluster(
    scheduler: str | None,
    workers: int | None,
    threads_per_worker: int | None,
    report: Path | None,
) -> Iterator[Client]:
    """A client for one command, printing the dashboard link, optionally saving a report."""
    with cluster_client(
        scheduler, n_workers=workers, threads_per_worker=threads_per_worker
    ) as client:
        click.echo(f"Dask dashboard: {client.dashboard_link}")
        with performance_report(filename=str(report)) if report else nullcontext():
            yield client
        if report:
            click.echo(f"Performance report: {report}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--store", required=True, help="Zarr v3 store to write or extend (path or URL).")
@click.option("--start", required=True, help="First append-dim value, e.g. 2024-01-01T00.")
@click.option("--end", required=True, help="End of the append dim (exclusive).")
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
@cluster_options
def reformat(
    dataset: str,
    store: str,
    start: str,
    end: str,
    variables: str | None,
    source_url: str | None,
    template_options: tuple[str, ...],
    scheduler: str | None,
    workers: int | None,
    threads_per_worker: int | None,
    report: Path | None,
) -> None:
    """Write or extend the Zarr store of DATASET from START to END."""
    from climaflow.datasets.registry import get_integration
    from climaflow.reformat.runner import reformat as run_reformat

    integration = get_integration(dataset)
    options = dict(option.split("=", 1) for option in template_options)
    unknown = set(options) - set(integration.template_options())
    if unknown:
        raise click.BadParameter(
            f"{dataset} has no option {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(integration.template_options()) or 'none'}"
        )
    template = integration.make_template(**options)
    with run_cluster(scheduler, workers, threads_per_worker, report) as client:
        result = run_reformat(
            template,
            integration.region_job,
            store,
            start=start,
            end=end,
            data_vars=comma_list(variables),
            client=client,
            show_progress=True,
            source_url=source_url or integration.default_source_url,
        )
    click.echo(f"\n{dataset} -> {store}: {len(result.jobs)} region jobs")
    for name, counts in result.status_counts().items():
        click.echo(f"  {name:<38} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for record in result.failed_files:
        click.echo(f"  FAILED {record['status']}: {record['url']}: {record['error']}")
