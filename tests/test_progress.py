"""Progress: lines without carriage returns in a log file, a bar with an ETA in a terminal,
and ``--progress/--no-progress`` on the commands."""

import io
import time

import dask
import dask.config
from dask import delayed

from climaflow.progress import show_task_progress
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive
from tests.test_cli import invoke, reformat_args


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def slow(value: int, *_: int) -> int:
    time.sleep(0.05)
    return value


def submit(client, n: int = 12):
    """``n`` ``stage-a`` tasks, then a ``stage-b`` task per pair of them."""
    first = [delayed(slow)(i, dask_key_name=("stage-a", i)) for i in range(n)]
    second = [
        delayed(slow)(i, first[i], first[i + 1], dask_key_name=("stage-b", i))
        for i in range(0, n, 2)
    ]
    return client.compute(second)


def test_a_log_file_gets_lines_with_the_eta_and_no_carriage_return(client):
    stream = io.StringIO()
    with dask.config.set({"climaflow.progress.interval-seconds": 0}):
        show_task_progress(submit(client), stream=stream)

    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and "\x1b" not in text
    assert len(lines) >= 2
    assert lines[0].endswith("stage-b 0/6") and "/18 tasks [" in lines[0]
    assert lines[-1].startswith("100% 18/18 tasks [")
    assert "ETA 00:00]" in lines[-1] and "stage-" not in lines[-1]


def test_a_log_file_gets_a_line_per_interval_only(client):
    stream = io.StringIO()
    with dask.config.set({"climaflow.progress.interval-seconds": 3600}):
        show_task_progress(submit(client), stream=stream)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines  # the first and the last
    assert lines[-1].startswith("100% 18/18 tasks")


def test_a_terminal_gets_one_bar_redrawn_in_place(client):
    stream = Terminal()
    show_task_progress(submit(client), stream=stream)

    text = stream.getvalue()
    assert "\r" in text
    assert text.count("\n") == 1  # the bar, redrawn, then left in place
    assert "18/18" in text and "task" in text and "100%" in text


def test_commands_show_progress_unless_told_not_to(client, tmp_path):
    archive = tmp_path / "nex"
    write_synthetic_nex_gddp_archive(
        archive, scenario="ssp245", variables=("tas",), years=(2015, 2016), resolution_degrees=30
    )
    address = client.scheduler.address
    code, output = invoke(*reformat_args(archive, tmp_path / "a.zarr", address))
    assert code == 0, output
    assert (
        "nex-gddp-cmip6: planning 2 region jobs, time 2015-01-01 12:00:00 to 2016-12-31 "
        "12:00:00, 1 variable\n" in output
    )
    assert "100% 10/10 tasks [" in output and "\r" not in output

    code, output = invoke(*reformat_args(archive, tmp_path / "b.zarr", address, "--no-progress"))
    assert code == 0, output
    assert "planning" not in output and "tasks [" not in output


def fails(value: int) -> int:
    raise RuntimeError(f"task {value} failed")


def test_progress_goes_on_after_a_failed_task(client):
    stream = io.StringIO()
    failing = client.submit(fails, 0, key="broken-0")
    slow_ones = submit(client, n=24)
    with dask.config.set({"climaflow.progress.interval-seconds": 0}):
        show_task_progress([failing, *slow_ones], stream=stream)

    lines = stream.getvalue().splitlines()
    assert "task 'broken-0' failed; going on" in lines
    assert lines[-1].startswith("100% ")  # what was left, to its end
    assert all(future.done() for future in slow_ones)


def test_nothing_to_show_for_no_futures():
    stream = io.StringIO()
    assert show_task_progress([], stream=stream) is None
    assert stream.getvalue() == ""
