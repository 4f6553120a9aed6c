"""What a region job's tasks return (a file's read, a variable's summary, the job's result),
and what a region's files gave (:class:`RegionOutcome`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic

import numpy as np

from climaflow.reformat.source_file_coord import (
    SOURCE_FILE_COORD,
    SourceFileStatus,
)


@dataclass(frozen=True)
class ReadResult(Generic[SOURCE_FILE_COORD]):
    """One file's data for one variable (``values`` is ``None`` when it failed)."""

    coord: SOURCE_FILE_COORD
    values: np.ndarray | None


@dataclass(frozen=True)
class VariableSummary:
    """What happened to one variable in one job: every file's record and the counts."""

    name: str
    status_counts: Mapping[str, int]
    files: Sequence[Mapping[str, Any]]
    shards_written: int
    bytes_written: int
    processing_state: Any = None
    #: One past the last append-dim position any of its files was published for (``None``:
    #: none was); see :func:`region_outcome`.
    data_stop: int | None = None
    #: Seconds spent in the variable's task by stage: read (download fallbacks and
    #: decoding included), assemble, transform and write (encoding included).
    seconds: Mapping[str, float] = field(default_factory=dict)
    #: The task's writes to an Icechunk repository (its fork session), for the run to
    #: merge before its commit; ``None`` for other stores.
    changes: Any = None

    @property
    def failed_files(self) -> list[Mapping[str, Any]]:
        """Records of the files that failed to download or read."""
        return [f for f in self.files if f["status"] != str(SourceFileStatus.SUCCEEDED)]


@dataclass(frozen=True)
class JobResult:
    """The outcome of a region job: per-variable summaries with every file's record."""

    dataset_id: str
    region: tuple[int, int]
    variables: Mapping[str, VariableSummary]

    @property
    def failed_files(self) -> list[Mapping[str, Any]]:
        """Records of the files that failed to download or read, for any variable."""
        return [f for v in self.variables.values() for f in v.failed_files]


class RegionStatus(StrEnum):
    """What a region's source files gave, all variables together."""

    #: Every file was read.
    COMPLETE = "complete"
    #: Some files are not available (yet); every other one was read.
    INCOMPLETE = "incomplete"
    #: No file is available (yet).
    UNAVAILABLE = "unavailable"
    #: A file failed otherwise (download or read): its values are NaN until a rerun.
    FAILED = "failed"


@dataclass(frozen=True)
class RegionOutcome:
    """A region job's positions along the append dimension, its first value and status."""

    start: int
    stop: int
    first: str
    status: RegionStatus
    #: One past the last position any file was published for; ``None`` when none was.
    data_stop: int | None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly record for run records."""
        return {
            "start": self.start,
            "stop": self.stop,
            "first": self.first,
            "status": str(self.status),
            "data_stop": self.data_stop,
        }


def region_outcome(result: JobResult, append_values: np.ndarray) -> RegionOutcome:
    """The :class:`RegionOutcome` of a job from its files' statuses."""
    statuses = {record["status"] for v in result.variables.values() for record in v.files}
    not_available = str(SourceFileStatus.NOT_AVAILABLE)
    if statuses & {str(SourceFileStatus.DOWNLOAD_FAILED), str(SourceFileStatus.READ_FAILED)}:
        status = RegionStatus.FAILED
    elif statuses == {not_available}:
        status = RegionStatus.UNAVAILABLE
    elif not_available in statuses:
        status = RegionStatus.INCOMPLETE
    else:
        status = RegionStatus.COMPLETE
    start, stop = result.region
    stops = [v.data_stop for v in result.variables.values() if v.data_stop is not None]
    data_stop = min(stop, max(stops)) if stops else None
    return RegionOutcome(start, stop, append_label(append_values[start]), status, data_stop)


def append_label(value: Any) -> str:
    """An append-dim value as run records and messages write it (ISO 8601 for times)."""
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s"))
    return str(value)
