"""Source files: what to fetch, where its data lands, and what happened to it."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Self, TypeVar

from climaflow.io.urls import redact_url


class SourceFileStatus(StrEnum):
    """The state of one source file in a region job.

    ``NOT_AVAILABLE``: the source answered "not found" (HTTP 404, no such key or path): the
    file is not published, or not yet (the newest GFS init while NOAA uploads its leads).
    ``DOWNLOAD_FAILED``: any other failure to fetch it (5xx after retries, timeouts...).
    """

    PROCESSING = "processing"
    NOT_AVAILABLE = "not_available"
    DOWNLOAD_FAILED = "download_failed"
    READ_FAILED = "read_failed"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True, kw_only=True)
class SourceFileCoord:
    """One source file of a region job.

    Dataset integrations subclass it with their own fields (``init_time``, ``lead_time``,
    ``year``, ``variable`` ...) and implement :meth:`get_url` and :meth:`out_loc`.
    Instances are immutable: every stage returns an updated copy made with
    :meth:`with_status`, so a re-executed Dask task never sees another task's changes.

    Attributes
    ----------
    status
        :class:`SourceFileStatus`; ``PROCESSING`` until a stage fails or the read succeeds.
    downloaded_path
        Local path of the downloaded file (or the source itself when it is already local).
    error
        Why the file failed, for the job summary; ``None`` while all is well.
    """

    status: SourceFileStatus = SourceFileStatus.PROCESSING
    downloaded_path: Path | None = None
    error: str | None = field(default=None, compare=False)

    def get_url(self) -> str:
        """The URL or local path of the source file."""
        raise NotImplementedError

    def get_index_url(self) -> str | None:
        """The URL of the file's GRIB ``.idx`` inventory, if byte-range downloads apply."""
        return None

    def out_loc(self) -> Mapping[str, Any]:
        """Where this file's data lands: a label (or slice of labels) per output dimension.

        Dimensions not named are covered whole by the array :meth:`RegionJob.read_data`
        returns for this file.
        """
        raise NotImplementedError

    def contains(self, data_var_name: str) -> bool:
        """Whether this file holds ``data_var_name``; files holding one variable override it."""
        return True

    def with_status(
        self,
        status: SourceFileStatus,
        *,
        downloaded_path: Path | None = None,
        error: str | None = None,
    ) -> Self:
        """A copy with a new status (and downloaded path or error, when given)."""
        return replace(
            self,
            status=status,
            downloaded_path=downloaded_path
            if downloaded_path is not None
            else self.downloaded_path,
            error=error,
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly record of this file for run reports (URL without query string)."""
        return {
            "url": redact_url(self.get_url()),
            "status": str(self.status),
            "error": self.error,
            "out_loc": {k: str(v) for k, v in self.out_loc().items()},
        }


#: A dataset's :class:`SourceFileCoord` subclass, in generic region-job types.
SOURCE_FILE_COORD = TypeVar("SOURCE_FILE_COORD", bound=SourceFileCoord)
