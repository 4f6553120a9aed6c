"""Reformatting GFS GRIB2 files: ``.idx`` byte-range downloads, eccodes or cfgrib reads."""

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import xarray as xr

from climaflow.datasets.gfs_forecast.source_file_coord import NOAA_GFS_BASE_URL, GfsSourceFileCoord
from climaflow.datasets.gfs_forecast.template import GfsDataVar
from climaflow.reformat.download import download, read_bytes
from climaflow.reformat.grib_index import IndexEntry, coalesce_ranges, parse_index, select
from climaflow.reformat.grib_read import read_grib_messages
from climaflow.reformat.region_job import RegionJob
from climaflow.reformat.urls import redact_url


def index_forecast_field(data_var: GfsDataVar, lead_hours: int) -> str:
    """The forecast field of ``data_var``'s message in a NOAA inventory at this lead.

    Instantaneous fields: ``anl`` at lead 0, else ``N hour fcst``. Accumulations: the
    6-hour bucket ``B-N hour acc fcst`` with ``B`` the last multiple of 6 below ``N``.
    """
    if data_var.is_accumulation:
        bucket_start = (lead_hours - 1) // 6 * 6
        return f"{bucket_start}-{lead_hours} hour acc fcst"
    return "anl" if lead_hours == 0 else f"{lead_hours} hour fcst"


def select_messages(
    entries: Sequence[IndexEntry], data_vars: Sequence[GfsDataVar], lead_hours: int, url: str
) -> list[IndexEntry]:
    """Exactly one inventory entry per variable; ``ValueError`` naming any that is not."""
    chosen = []
    for var in data_vars:
        forecast = index_forecast_field(var, lead_hours)
        matches = select(entries, var.grib_element, var.grib_level, forecast)
        if len(matches) != 1:
            raise ValueError(
                f"{url}: expected 1 message {var.grib_element}:{var.grib_level}:{forecast} "
                f"for {var.name}, the inventory has {len(matches)}"
            )
        chosen.extend(matches)
    return chosen


class GfsForecastRegionJob(RegionJob[GfsDataVar, GfsSourceFileCoord]):
    """One init time (a shard deep) of ``gfs-forecast``, all leads, the chosen variables.

    Parameters
    ----------
    source_url
        Base URL of the archive (NOAA's by default); any fsspec URL or local path works.
    grib_reader
        ``"eccodes"`` (default) decodes messages directly; ``"cfgrib"`` goes through
        xarray's cfgrib engine. Both check the message's keys.
    """

    transform_dim: ClassVar[str | None] = "lead_time"

    def __init__(
        self,
        *,
        source_url: str = NOAA_GFS_BASE_URL,
        grib_reader: Literal["eccodes", "cfgrib"] = "eccodes",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.source_url = source_url
        self.grib_reader = grib_reader

    def generate_source_file_coords(
        self, processing_ds: xr.Dataset, data_vars: Sequence[GfsDataVar]
    ) -> list[GfsSourceFileCoord]:
        coords = []
        for init_time in processing_ds["init_time"].values:
            for lead_time in processing_ds["lead_time"].values:
                # Real GFS has no accumulations at lead 0: there is nothing to read there.
                names = tuple(
                    var.name
                    for var in data_vars
                    if not (var.is_accumulation and lead_time == np.timedelta64(0))
                )
                if names:
                    coords.append(
                        GfsSourceFileCoord(
                            base_url=self.source_url,
                            init_time=init_time,
                            lead_time=lead_time,
                            data_var_names=names,
                        )
                    )
        return coords

    def download_file(self, coord: GfsSourceFileCoord) -> Path:
        url = coord.get_url()
        entries = parse_index(read_bytes(coord.get_index_url()).decode())
        data_vars = [self.template.data_var(name) for name in coord.data_var_names]
        messages = select_messages(entries, data_vars, coord.lead_hours, redact_url(url))
        # Messages from different variable groups of one file get different local names.
        digest = hashlib.sha1(",".join(coord.data_var_names).encode()).hexdigest()[:10]
        destination = (
            self.download_dir / self.template.dataset_id / f"{Path(url).name}.{digest}.grib2"
        )
        destination = destination.with_name(
            f"{np.datetime_as_string(coord.init_time, 'h')}-{destination.name}"
        )
        return download(url, destination, coalesce_ranges(messages))

    def read_data(self, coord: GfsSourceFileCoord, data_var: GfsDataVar) -> np.ndarray:
        result = self.read_file(coord, [data_var])[data_var.name]
        if isinstance(result, Exception):
            raise result
        return result

    def read_file(
        self, coord: GfsSourceFileCoord, data_vars: Sequence[GfsDataVar]
    ) -> dict[str, np.ndarray | Exception]:
        """All of ``data_vars`` from one pass over the file (the fetched messages only)."""
        assert coord.downloaded_path is not None
        return dict(
            read_grib_messages(
                coord.downloaded_path,
                {var.name: var.grib_keys for var in data_vars},
                expected_grid=(self.coordinates["latitude"], self.coordinates["longitude"]),
                engine=self.grib_reader,
            )
        )
