"""One NEX-GDDP-CMIP6 yearly file: model, scenario, variable and year."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from climaflow.datasets.nex_gddp_cmip6.filenames import VERSIONS_NEWEST_FIRST, NexGddpFile
from climaflow.reformat.source_file_coord import SourceFileCoord


@dataclass(frozen=True, kw_only=True)
class NexGddpSourceFileCoord(SourceFileCoord):
    """One variable's file for one year; ``times`` are the days it holds (cftime, noon)."""

    base_url: str
    file: NexGddpFile
    times: np.ndarray

    def get_url(self) -> str:
        return self.file.url(self.base_url)

    def candidate_urls(self) -> list[str]:
        """The year's URLs from the newest version to the original release."""
        return [self.file.with_version(v).url(self.base_url) for v in VERSIONS_NEWEST_FIRST]

    def out_loc(self) -> Mapping[str, Any]:
        return {"time": self.times}

    def contains(self, data_var_name: str) -> bool:
        return data_var_name == self.file.variable
