"""Reformatting NEX-GDDP-CMIP6 yearly NetCDF files (read with netCDF4)."""

import logging
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from climaflow.datasets.nex_gddp_cmip6.filenames import DEFAULT_BASE_URL, NexGddpFile
from climaflow.datasets.nex_gddp_cmip6.source_file_coord import NexGddpSourceFileCoord
from climaflow.datasets.nex_gddp_cmip6.template import NexGddpDataVar, NexGddpTemplate
from climaflow.fills import UNDECLARED_FILL_THRESHOLD, mask_undeclared_fills
from climaflow.io import DownloadError, download
from climaflow.io.urls import redact_url
from climaflow.locks import NETCDF_LOCK
from climaflow.reformat.region_job import RegionJob

logger = logging.getLogger(__name__)


class NexGddpRegionJob(RegionJob[NexGddpDataVar, NexGddpSourceFileCoord]):
    """A region of whole shards (one noleap year each at the real chunking), every variable.

    Parameters
    ----------
    source_url
        Archive root (the public bucket by default); any URL obstore reads (see
        :mod:`climaflow.io.objects`) or a local path, read with the job's
        ``source_storage_options``.
    """

    template: NexGddpTemplate

    def __init__(self, *, source_url: str = DEFAULT_BASE_URL, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.source_url = source_url

    def generate_source_file_coords(
        self, processing_ds: xr.Dataset, data_vars: Sequence[NexGddpDataVar]
    ) -> list[NexGddpSourceFileCoord]:
        times = processing_ds["time"].values
        years = np.array([t.year for t in times])
        template = self.template
        return [
            NexGddpSourceFileCoord(
                base_url=self.source_url,
                file=NexGddpFile(
                    model=template.model,
                    scenario=template.scenario,
                    variable=var.name,
                    year=int(year),
                    variant_label=template.variant_label,
                    grid_label=template.grid_label,
                ),
                times=times[years == year],
            )
            for var in data_vars
            for year in np.unique(years)
        ]

    def download_file(self, coord: NexGddpSourceFileCoord) -> Path:
        """Fetch the newest version of the year: ``_v2.0``, then ``_v1.1``, then the original."""
        for url in coord.candidate_urls():
            try:
                return download(
                    url,
                    self.download_dir / self.template.dataset_id / Path(url).name,
                    storage_options=self.source_storage_options,
                )
            except DownloadError as error:
                if not error.not_found:
                    raise
        raise DownloadError(
            f"{redact_url(coord.get_url())}: not found in any version ({', '.join(Path(u).name for u in coord.candidate_urls())})",
            not_found=True,
        )

    def read_data(self, coord: NexGddpSourceFileCoord, data_var: NexGddpDataVar) -> np.ndarray:
        assert coord.downloaded_path is not None
        with NETCDF_LOCK, netCDF4.Dataset(coord.downloaded_path) as nc:
            if data_var.name not in nc.variables:
                raise ValueError(f"no variable {data_var.name!r} (has {sorted(nc.variables)})")
            variable = nc.variables[data_var.name]
            units = getattr(variable, "units", None)
            if units != data_var.source_units:
                raise ValueError(
                    f"{data_var.name} is in {units!r}, expected {data_var.source_units!r}"
                )
            if "time" not in nc.variables:
                raise ValueError("no time coordinate")
            time = nc.variables["time"]
            calendar = getattr(time, "calendar", "standard")
            if calendar not in _same_calendar(self.template.calendar):
                raise ValueError(f"calendar {calendar!r}, expected {self.template.calendar!r}")
            dates = netCDF4.num2date(time[:], time.units, calendar, only_use_cftime_datetimes=True)
            # The stubs type num2date's result as a datetime or an array; it is one or more.
            file_times = np.atleast_1d(dates)  # type: ignore[arg-type]
            expected_days = [t.strftime("%Y-%m-%d") for t in coord.times]
            if [t.strftime("%Y-%m-%d") for t in file_times] != expected_days:
                raise ValueError(
                    f"holds {len(file_times)} days from {file_times[0]} to {file_times[-1]}, "
                    f"expected {len(expected_days)} days of {coord.file.year}"
                )
            for name in ("lat", "lon"):
                centres, expected = nc.variables[name][:], self.coordinates[name]
                if centres.shape != expected.shape or not np.allclose(centres, expected):
                    raise ValueError(
                        f"its {name} grid ({centres.size} values from {centres[0]}) differs "
                        f"from the template's ({expected.size} values from {expected[0]})"
                    )
            values = np.ma.filled(variable[:].astype("float32"), np.nan)
        masked = mask_undeclared_fills(values)
        if masked:
            logger.warning(
                "%s: %d values of %s are non-finite or |x| >= %g without being declared as "
                "fill values; stored as NaN",
                redact_url(coord.get_url()),
                masked,
                data_var.name,
                UNDECLARED_FILL_THRESHOLD,
            )
        return values


def _same_calendar(calendar: str) -> set[str]:
    aliases = [{"noleap", "365_day"}, {"standard", "gregorian", "proleptic_gregorian"}]
    return next((group for group in aliases if calendar in group), {calendar})
