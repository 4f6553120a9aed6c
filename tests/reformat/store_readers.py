"""What the kill and publication tests share: a reader polling a store, the CLI commands
that reformat the small NEX-GDDP archive they serve, and killing a run at a given point."""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import xarray as xr

CLIMAFLOW = str(Path(sys.executable).with_name("climaflow"))


class PollingReader(threading.Thread):
    """Polls a dataset as a reader would, noting what it must never see: a dataset that fails
    to open once it exists, or an append-dim value whose values are all NaN.

    ``open_dataset`` opens it (``None`` while there is nothing to open); ``name`` is the
    variable read, ``space`` its dimensions other than the append dimension (the first).
    """

    def __init__(
        self,
        open_dataset: Callable[[], xr.Dataset],
        name: str,
        space: tuple[str, ...],
    ) -> None:
        super().__init__(daemon=True)
        self.open_dataset, self.name, self.space = open_dataset, name, space
        self.problems: list[str] = []
        self.lengths: set[int] = set()
        self.stopped = threading.Event()

    def wait_for_length(self, length: int, seconds: float = 10) -> None:
        """Wait until the reader has seen ``length`` values (at most ``seconds``)."""
        deadline = time.monotonic() + seconds
        while length not in self.lengths and time.monotonic() < deadline:
            time.sleep(0.01)

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                with self.open_dataset() as ds:
                    values = ds[self.name].load()
            except Exception as error:
                self.problems.append(f"{type(error).__name__}: {error}")
                continue
            dim = values.dims[0]
            self.lengths.add(values.sizes[dim])
            empty = values.isnull().all(dim=self.space).values
            if empty.any():
                self.problems.append(f"all-NaN {dim}: {values[dim].values[empty][:3]}")
            time.sleep(0.01)


def nex_reformat_command(store: str, start: str, end: str, cluster: Sequence[str]) -> list[str]:
    """``climaflow reformat nex-gddp-cmip6`` of ``tas``, ssp245 at 30 degrees."""
    return [
        CLIMAFLOW, "reformat", "nex-gddp-cmip6", "--store", store,
        "--start", start, "--end", end,
        "-o", "scenario=ssp245", "-o", "resolution_degrees=30", "--variables", "tas",
        *cluster,
    ]  # fmt: skip


def nex_update_command(store: str, end: str, cluster: Sequence[str]) -> list[str]:
    """``climaflow update nex-gddp-cmip6`` up to ``end``."""
    return [CLIMAFLOW, "update", "nex-gddp-cmip6", "--store", store, "--end", end, *cluster]


def kill_when(command: Sequence[str], reached: Callable[[], bool], seconds: float = 120) -> bool:
    """Run ``command`` and SIGKILL it once ``reached()`` (or once it ended, or after
    ``seconds``); return whether it was still running when killed. Returns a second after the
    kill: tasks already running on the cluster may still write."""
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + seconds
    while not reached() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    running = run.poll() is None
    run.send_signal(signal.SIGKILL)
    run.wait()
    time.sleep(1)
    return running
