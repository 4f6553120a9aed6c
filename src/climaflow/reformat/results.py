"""What a region job's tasks hand each other and return: reads, arrays, writes, summaries."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

import numpy as np
from dask.sizeof import sizeof

from climaflow.reformat.source_file_coord import (
    SOURCE_FILE_COORD,
    SourceFileCoord,
    SourceFileStatus,
)


@dataclass(frozen=True)
class ReadResult(Generic[SOURCE_FILE_COORD]):
    """One file's data for one variable (``values`` is ``None`` when it failed)."""

    coord: SOURCE_FILE_COORD
    values: np.ndarray | None


@dataclass
class AssembledVariable:
    """A variable's processing-region array: NaN where no file delivered data."""

    name: str
    values: np.ndarray
    file_results: list[SourceFileCoord]
    transformed: bool = False


@dataclass(frozen=True)
class ShardWrite:
    """One written shard: its selection in the output array and its uncompressed size."""

    variable: str
    selection: tuple[slice, ...]
    nbytes: int


@dataclass(frozen=True)
class VariableSummary:
    """What happened to one variable in one job: every file's record and the counts."""

    name: str
    status_counts: Mapping[str, int]
    files: Sequence[Mapping[str, Any]]
    shards_written: int
    bytes_written: int
    processing_state: Any = None

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


def _sizeof_read_result(read: ReadResult[Any]) -> int:
    return 256 + (read.values.nbytes if read.values is not None else 0)


def _sizeof_assembled(assembled: AssembledVariable) -> int:
    return 256 + assembled.values.nbytes


# The scheduler keeps write tasks next to the data only if it knows the data's size.
sizeof.register(ReadResult, _sizeof_read_result)
sizeof.register(AssembledVariable, _sizeof_assembled)
