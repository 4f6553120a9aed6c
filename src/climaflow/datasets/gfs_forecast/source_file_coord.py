"""One GFS GRIB2 file: an init time and a lead time, and the variables fetched from it."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from climaflow.reformat.source_file_coord import SourceFileCoord

#: NOAA's GFS bucket on AWS Open Data (real use); tests and the demo serve a synthetic copy.
NOAA_GFS_BASE_URL = "https://noaa-gfs-bdp-pds.s3.amazonaws.com"


def gfs_file_path(
    init_time: np.datetime64, lead_time: np.timedelta64, *, product: str = "pgrb2.0p25"
) -> str:
    """``gfs.YYYYMMDD/HH/atmos/gfs.tHHz.{product}.fFFF``, NOAA's layout below the root."""
    init = pd.Timestamp(init_time)
    lead_hours = int(lead_time / np.timedelta64(1, "h"))
    return f"gfs.{init:%Y%m%d}/{init:%H}/atmos/gfs.t{init:%H}z.{product}.f{lead_hours:03d}"


@dataclass(frozen=True, kw_only=True)
class GfsSourceFileCoord(SourceFileCoord):
    """One GFS file and the variables wanted from it (fetched by ``.idx`` byte ranges).

    Attributes
    ----------
    selection_errors
        ``(variable name, reason)`` for the variables whose message the file's inventory does
        not single out (none, or several different lines match): set by the download, which
        fetches the other variables' messages, and reported by the read for these variables.
    """

    base_url: str
    init_time: np.datetime64
    lead_time: np.timedelta64
    data_var_names: tuple[str, ...]
    selection_errors: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def lead_hours(self) -> int:
        return int(self.lead_time / np.timedelta64(1, "h"))

    def get_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{gfs_file_path(self.init_time, self.lead_time)}"

    def get_index_url(self) -> str:
        return f"{self.get_url()}.idx"

    def out_loc(self) -> Mapping[str, Any]:
        return {"init_time": self.init_time, "lead_time": self.lead_time}

    def contains(self, data_var_name: str) -> bool:
        return data_var_name in self.data_var_names
