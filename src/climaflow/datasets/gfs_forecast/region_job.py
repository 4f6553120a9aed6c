"""Reformatting GFS GRIB2 files: ``.idx`` byte-range downloads, eccodes or cfgrib reads."""

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import xarray as xr

from climaflow.datasets.gfs_forecast.data_var import GfsDataVar
from climaflow.datasets.gfs_forecast.source_file_coord import NOAA_GFS_BASE_URL, GfsSourceFileCoord
from climaflow.io import download, read_bytes
from climaflow.io.urls import redact_url
from climaflow.reformat.grib_index import (
    IndexEntry,
    coalesce_ranges,
    drop_duplicate_lines,
    parse_index,
    select,
)
from climaflow.reformat.grib_read import read_grib_messages
from climaflow.reformat.region_job import RegionJob


def select_message(
    entries: Sequence[IndexEntry], data_var: GfsDataVar, lead_hours: int, index_url: str
) -> IndexEntry | ValueError:
    """The inventory line of ``data_var``'s message at this lead, or why there is none.

    Lines match on variable and level, and on the forecast field compared as numbers
    (:meth:`GfsDataVar.matches_forecast`): at lead 7 the precipitation bucket
    ``6-7 hour acc fcst``, never the ``0-7 hour acc fcst`` total. Identical lines count as one
    (the first), like GFS's two ``0-6 hour acc fcst`` lines at lead 6.

    Returns
    -------
    IndexEntry or ValueError
        The line, or an error naming the inventory, the wanted field and, when several
        different lines match, those lines.
    """
    candidates = drop_duplicate_lines(
        entry
        for entry in select(entries, data_var.grib_element, data_var.grib_level)
        if (forecast := entry.forecast_time) is not None
        and data_var.matches_forecast(forecast, lead_hours)
    )
    if len(candidates) == 1:
        return candidates[0]
    wanted = (
        f"{data_var.grib_element}:{data_var.grib_level}:{data_var.describe_forecast(lead_hours)}"
    )
    if not candidates:
        return ValueError(f"{index_url}: no inventory line matches {wanted}")
    lines = "; ".join(entry.describe() for entry in candidates)
    return ValueError(
        f"{index_url}: {len(candidates)} different inventory lines match {wanted}: {lines}"
    )


def select_messages(
    entries: Sequence[IndexEntry],
    data_vars: Sequence[GfsDataVar],
    lead_hours: int,
    index_url: str,
) -> dict[str, IndexEntry | ValueError]:
    """:func:`select_message` for each variable, by name: each succeeds or fails alone."""
    return {var.name: select_message(entries, var, lead_hours, index_url) for var in data_vars}


class GfsForecastRegionJob(RegionJob[GfsDataVar, GfsSourceFileCoord]):
    """One init time (a shard deep) of ``gfs-forecast``, all leads, the chosen variables.

    Parameters
    ----------
    source_url
        Base URL of the archive (NOAA's by default); any URL obstore reads (see
        :mod:`climaflow.io.objects`) or a local path. Inventories and messages are read with
        the job's ``source_storage_options``.
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
                lead_hours = int(lead_time // np.timedelta64(1, "h"))
                # Real GFS has no statistics (accumulations...) at lead 0: nothing to read there.
                names = tuple(var.name for var in data_vars if var.present_at(lead_hours))
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

    def download_file(self, coord: GfsSourceFileCoord) -> GfsSourceFileCoord:
        """Fetch the byte ranges of the variables' messages; note the variables whose message
        the inventory does not single out (they fail at the read, the others go on).

        Raises
        ------
        ValueError
            When no variable's message is singled out: there is nothing to fetch.
        """
        url = coord.get_url()
        index_url = coord.get_index_url()
        entries = parse_index(
            read_bytes(index_url, storage_options=self.source_storage_options).decode()
        )
        data_vars = [self.template.data_var(name) for name in coord.data_var_names]
        selected = select_messages(entries, data_vars, coord.lead_hours, redact_url(index_url))
        messages = [line for line in selected.values() if isinstance(line, IndexEntry)]
        errors = tuple(
            (name, str(line)) for name, line in selected.items() if isinstance(line, ValueError)
        )
        if not messages:
            raise ValueError("; ".join(f"{name}: {error}" for name, error in errors))
        # Messages from different variable groups of one file get different local names.
        digest = hashlib.sha1(",".join(coord.data_var_names).encode()).hexdigest()[:10]
        destination = (
            self.download_dir / self.template.dataset_id / f"{Path(url).name}.{digest}.grib2"
        )
        destination = destination.with_name(
            f"{np.datetime_as_string(coord.init_time, 'h')}-{destination.name}"
        )
        path = download(
            url,
            destination,
            coalesce_ranges(messages),
            storage_options=self.source_storage_options,
        )
        return replace(coord, downloaded_path=path, selection_errors=errors)

    def read_data(self, coord: GfsSourceFileCoord, data_var: GfsDataVar) -> np.ndarray:
        result = self.read_file(coord, [data_var])[data_var.name]
        if isinstance(result, Exception):
            raise result
        return result

    def read_file(
        self, coord: GfsSourceFileCoord, data_vars: Sequence[GfsDataVar]
    ) -> dict[str, np.ndarray | Exception]:
        """All of ``data_vars`` from one pass over the file (the fetched messages only); the
        download's selection error for a variable whose message was not fetched."""
        assert coord.downloaded_path is not None
        not_selected: dict[str, Exception] = {
            name: ValueError(error) for name, error in coord.selection_errors
        }
        readable = [var for var in data_vars if var.name not in not_selected]
        read = read_grib_messages(
            coord.downloaded_path,
            {var.name: var.grib_keys(coord.lead_hours) for var in readable},
            expected_grid=(self.coordinates["latitude"], self.coordinates["longitude"]),
            engine=self.grib_reader,
        )
        return {
            var.name: not_selected[var.name] if var.name in not_selected else read[var.name]
            for var in data_vars
        }
