"""Progress display: a text bar in a terminal, widgets in Jupyter, grouped by stage and variable."""

from collections.abc import Sequence
from typing import Any

from distributed import Future, progress
from distributed.utils import is_kernel, key_split_group


def show_task_progress(futures: Sequence[Future[Any]]) -> Any:
    """Show the progress of ``futures`` and their dependencies.

    In a terminal this blocks with a text bar until they finish. In Jupyter it displays one
    bar per task group (``download-gfs-forecast``, ``write-temperature_2m``...) and returns
    at once; the caller goes on waiting for the results.
    """
    if is_kernel():
        from IPython.display import display

        widget = progress(futures, notebook=True, multi=True, group_by=key_split_group)
        display(widget)
        return widget
    return progress(futures, notebook=False)
