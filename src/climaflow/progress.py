"""Progress of a Dask computation, in Jupyter, in a terminal and in a log file.

One component for both pipelines:

- in Jupyter, Dask's widgets: one bar per task group (``download-gfs-forecast``,
  ``reformat-temperature_2m``, ``yearsum-tas``...), returning at once;
- in a terminal, a tqdm bar with the ETA and each unfinished task group's count, redrawn in
  place;
- elsewhere (a log file, a batch job's output), a line every
  ``climaflow.progress.interval-seconds`` (10 s by default) and one at the end: never a
  carriage return.

:func:`announce` prints what is about to happen (planning, submitting) the same way, so
nothing is silent for long.
"""

import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from distributed import Future, progress
from distributed.diagnostics.progressbar import MultiProgressBar
from distributed.utils import LoopRunner, is_kernel, key_split_group
from tqdm import tqdm

from climaflow import config

_LINE_FORMAT = "{percentage:3.0f}% {n_fmt}/{total_fmt} tasks [{elapsed} elapsed, ETA {remaining}]"


def count(n: int, noun: str) -> str:
    """``"1 region job"``, ``"2 region jobs"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def announce(message: str, *, stream: TextIO | None = None) -> None:
    """Print one line of what a pipeline is doing (planning, submitting) to ``stream``
    (default: standard error)."""
    target = stream or sys.stderr
    target.write(f"{message}\n")
    target.flush()


def show_task_progress(futures: Sequence[Future[Any]], *, stream: TextIO | None = None) -> Any:
    """Show the progress of ``futures`` and their dependencies.

    In Jupyter this displays one bar per task group and returns at once; the caller goes on
    waiting for the results. Elsewhere it blocks until they finish, writing to ``stream``
    (default: standard error): a bar when it is a terminal, lines otherwise.
    """
    if not futures:
        return None
    if is_kernel():
        from IPython.display import display

        widget = progress(futures, notebook=True, multi=True, group_by=key_split_group)
        display(widget)
        return widget
    bar = TaskProgress(futures, stream=stream or sys.stderr)
    # Dask's progress stops at a failed task; a run that tolerates failures (normals'
    # batches) goes on, and so does its progress, over what is left.
    while getattr(bar, "status", None) == "error" and (
        pending := [f for f in futures if not f.done()]
    ):
        bar = TaskProgress(pending, stream=stream or sys.stderr)
    return bar


class TaskProgress(MultiProgressBar):
    """Tasks done over all tasks of ``futures``' graph, overall and per task group.

    Blocks until the futures finish (or one fails). See the module for what it writes.
    """

    def __init__(self, futures: Sequence[Future[Any]], *, stream: TextIO) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            futures,
            scheduler=futures[0].client.scheduler.address,  # the futures' own client's
            group_by=key_split_group,
            interval="200ms",
            complete=True,
        )
        self.stream = stream
        self.interactive = stream.isatty()
        self.line_interval = float(config.get("progress.interval-seconds"))
        self._last_line = -math.inf
        self._bar = tqdm(
            total=0,
            file=stream,
            unit="task",
            dynamic_ncols=True,
            disable=not self.interactive,
            leave=True,
        )
        LoopRunner().run_sync(self.listen)

    def _draw_bar(
        self, remaining: Mapping[str, int], all: Mapping[str, int], **kwargs: Any
    ) -> None:
        total, done = sum(all.values()), sum(all.values()) - sum(remaining.values())
        if self.interactive:
            self._bar.total = total
            self._bar.n = done
            self._bar.set_postfix_str(_groups(remaining, all), refresh=False)
            self._bar.refresh()
        elif time.monotonic() - self._last_line >= self.line_interval:
            self._write_line(done, total, remaining, all)

    def _draw_stop(self, **kwargs: Any) -> None:
        remaining: Mapping[str, int] = kwargs["remaining"]
        all: Mapping[str, int] = kwargs["all"]
        total, done = sum(all.values()), sum(all.values()) - sum(remaining.values())
        if self.interactive:
            self._bar.total, self._bar.n = total, done
            self._bar.set_postfix_str("")
            self._bar.close()
        else:
            self._write_line(done, total, remaining, all)
        if kwargs["status"] == "error":
            announce(f"task {kwargs.get('key')!r} failed; going on", stream=self.stream)

    def _write_line(
        self, done: int, total: int, remaining: Mapping[str, int], all: Mapping[str, int]
    ) -> None:
        meter = tqdm.format_meter(done, total, self.elapsed, bar_format=_LINE_FORMAT)
        groups = _groups(remaining, all)
        announce(f"{meter} {groups}".rstrip(), stream=self.stream)
        self._last_line = time.monotonic()


def _groups(remaining: Mapping[str, int], all: Mapping[str, int]) -> str:
    """``"download-gfs-forecast 120/418, reformat-temperature_2m 0/2"``: each unfinished task
    group of more than one task, by name."""
    parts = [
        f"{name} {all[name] - remaining.get(name, 0)}/{all[name]}"
        for name in sorted(all)
        if all[name] > 1 and remaining.get(name, 0) > 0
    ]
    return ", ".join(parts)
