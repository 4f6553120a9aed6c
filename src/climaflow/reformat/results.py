"""What a region job's tasks return: a file's read, a variable's summary, the job's result."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    #: Seconds spent in the variable's task by stage: read (download fallbacks and
    #: decoding included), assemble, transform and write (encoding included).
    seconds: Mapping[str, float] = field(default_factory=dict)

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
