"""Options and cluster handling shared by the ``climaflow`` commands."""

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import click
import dask.utils
from distributed import Client, performance_report
from obstore.exceptions import BaseError as ObjectStoreError

from climaflow.cluster import cluster_client

F = TypeVar("F", bound=Callable[..., Any])


def comma_list(value: str | None) -> list[str] | None:
    """``"a,b"`` to ``["a", "b"]``; ``None`` stays ``None``."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def key_values(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """A repeatable ``KEY=VALUE`` option's values as a dict (a click callback)."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        pairs[key] = text
    return pairs


def _storage_options(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a dict of text values, except JSON objects for nested options
    (``client_options={"timeout": "5 min"}``); a key or secret of digits stays text."""
    options: dict[str, Any] = key_values(ctx, param, values)
    for key, text in options.items():
        if text.lstrip().startswith("{"):
            try:
                options[key] = json.loads(text)
            except json.JSONDecodeError as error:
                raise click.BadParameter(f"{key}: {error}", ctx=ctx, param=param) from None
    return options


def storage_options_option(flag: str, name: str, what: str) -> Callable[[F], F]:
    """``flag KEY=VALUE`` (repeatable): options for ``what`` behind a URL, as ``name``."""
    return click.option(
        flag,
        name,
        multiple=True,
        metavar="KEY=VALUE",
        callback=_storage_options,
        help=f"An option for {what} behind a URL (obstore's keys, e.g. skip_signature=true, "
        "region=us-west-2, aws_endpoint=http://...; JSON for nested ones: "
        """client_options='{"timeout": "5 min"}'); repeat it for several.""",
    )


progress_option = click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show progress: a bar with the ETA in a terminal, a line every 10 s in a log file "
    "(climaflow.progress.interval-seconds).",
)


#: The keyword arguments :func:`cluster_options` adds and :func:`run_cluster` takes.
CLUSTER_OPTION_NAMES = (
    "scheduler",
    "cluster_kind",
    "workers",
    "threads_per_worker",
    "memory_limit",
    "dashboard_address",
    "report",
)


def cluster_options(command: F) -> F:
    """The options of every command that runs on a cluster, passed as ``cluster`` (a dict)."""
    options = [
        click.option(
            "--scheduler",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Address of a running `dask scheduler` (tcp://host:8786); "
            "default: a LocalCluster on this machine.",
        ),
        click.option(
            "--cluster",
            "cluster_kind",
            type=click.Choice(["local", "slurm", "pbs"]),
            default="local",
            show_default=True,
            help="Without --scheduler: a LocalCluster, or worker jobs through dask-jobqueue "
            "(configured in dask's jobqueue config).",
        ),
        click.option(
            "--workers", type=int, help="Workers (jobs for slurm/pbs); default: one per core."
        ),
        click.option("--threads-per-worker", type=int, help="LocalCluster threads per worker."),
        click.option("--memory-limit", help="LocalCluster memory per worker, e.g. 4GiB."),
        click.option(
            "--dashboard-address",
            default=":8787",
            show_default=True,
            help="Where a LocalCluster serves its dashboard (:0 picks a free port).",
        ),
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
    *,
    scheduler: str | None,
    cluster_kind: str,
    workers: int | None,
    threads_per_worker: int | None,
    memory_limit: str | None,
    dashboard_address: str,
    report: Path | None,
    writable_paths: Sequence[str | Path] = (),
) -> Iterator[Client]:
    """A client for one command: prints the cluster and dashboard, optionally saves a report."""
    with cluster_client(
        scheduler,
        cluster=cluster_kind,  # type: ignore[arg-type]
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        memory_limit_bytes=dask.utils.parse_bytes(memory_limit) if memory_limit else None,
        dashboard_address=dashboard_address,
        writable_paths=writable_paths,
    ) as client:
        click.echo(describe_cluster(client))
        click.echo(f"Dask dashboard: {client.dashboard_link}")
        with performance_report(filename=str(report)) if report else nullcontext():
            yield client
        if report:
            click.echo(f"Performance report: {report}")


def describe_cluster(client: Client) -> str:
    """``"2 workers x 2 threads, 10.6 GiB each"`` (or the spread when workers differ)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    threads = sorted({w["nthreads"] for w in workers})
    memory = sorted({w.get("memory_limit") or 0 for w in workers})
    return (
        f"Cluster: {len(workers)} workers x {'/'.join(map(str, threads))} threads, "
        f"{'/'.join(dask.utils.format_bytes(m) for m in memory)} memory limit each"
    )


LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_LEVEL_KEY = "climaflow.log_level"


def set_log_level(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    """Configure logging for ``--log-level`` (given before or after the command name)."""
    if value is None:
        return
    ctx.meta[_LOG_LEVEL_KEY] = value.lower()
    logging.basicConfig(
        level=value.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,
    )


def log_level_option(default: str | None) -> click.Option:
    """``--log-level``: on the group (``default`` warning) and on every command (no default:
    the group's applies)."""
    return click.Option(
        ["--log-level"],
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default=default,
        show_default=default is not None,
        expose_value=False,
        is_eager=True,
        callback=set_log_level,
        help="Logging level (before or after the command's name); debug also shows the "
        "traceback of an error.",
    )


class ClimaflowGroup(click.Group):
    """A command group that turns errors in the user's input into one clear line, and whose
    commands all take ``--log-level``.

    Errors that say what is wrong with an input (unknown names, bad ranges, unreachable
    schedulers, stores of another structure, unwritable paths) print ``Error: ...`` and exit
    with status 1; ``--log-level debug`` shows the traceback instead.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.append(log_level_option(default=None))
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (KeyError, ValueError, OSError, RuntimeError, ObjectStoreError) as error:
            if ctx.meta.get(_LOG_LEVEL_KEY) == "debug":
                raise
            message = str(error.args[0] if isinstance(error, KeyError) and error.args else error)
            # The first line only: obstore adds its debug dump.
            message = (message.strip().splitlines() or [type(error).__name__])[0]
            raise click.ClickException(
                f"{message} (add --log-level debug to the command for the traceback)"
            ) from None
