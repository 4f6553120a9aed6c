"""Writing the synthetic GFS archive: GRIB2 messages encoded with eccodes, and their ``.idx``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import eccodes
import numpy as np

from climaflow.datasets.gfs_forecast.template import gfs_grid
from climaflow.io import write_atomic
from climaflow.testing.gfs_archive.fields import expected_values
from climaflow.testing.gfs_archive.messages import (
    SyntheticMessage,
    gfs_relative_path,
    init_datetime,
    lead_hours_of,
    messages_for_lead,
)


def _grid_template(
    resolution_degrees: float, packing_type: str, bits_per_value: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """A GRIB2 handle with everything but the per-message keys and values set."""
    latitudes, longitudes = gfs_grid(resolution_degrees)
    handle = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        keys: list[tuple[str, Any]] = [
            ("centre", 7),  # kwbc, NCEP
            ("subCentre", 0),
            ("tablesVersion", 2),
            ("localTablesVersion", 1),
            ("significanceOfReferenceTime", 1),  # start of forecast
            ("productionStatusOfProcessedData", 0),  # operational
            ("typeOfProcessedData", 1),  # forecast
            ("shapeOfTheEarth", 6),  # sphere of radius 6 371 229 m, as GFS
            ("Ni", len(longitudes)),
            ("Nj", len(latitudes)),
            ("iScansNegatively", 0),
            ("jScansPositively", 0),
            ("jPointsAreConsecutive", 0),
            ("latitudeOfFirstGridPointInDegrees", float(latitudes[0])),
            ("longitudeOfFirstGridPointInDegrees", float(longitudes[0])),
            ("latitudeOfLastGridPointInDegrees", float(latitudes[-1])),
            ("longitudeOfLastGridPointInDegrees", float(longitudes[-1])),
            ("iDirectionIncrementInDegrees", float(resolution_degrees)),
            ("jDirectionIncrementInDegrees", float(resolution_degrees)),
            ("packingType", packing_type),
            ("bitsPerValue", bits_per_value),
        ]
        for key, value in keys:
            eccodes.codes_set(handle, key, value)
    except BaseException:
        eccodes.codes_release(handle)
        raise
    return handle, latitudes, longitudes


def _encode_message(
    template: int,
    message: SyntheticMessage,
    init: datetime,
    values: np.ndarray,
) -> bytes:
    var = message.variable
    handle = eccodes.codes_clone(template)
    try:
        statistic = var.step_type != "instant"
        eccodes.codes_set(handle, "productDefinitionTemplateNumber", 8 if statistic else 0)
        eccodes.codes_set(handle, "discipline", var.discipline)
        eccodes.codes_set(handle, "parameterCategory", var.parameter_category)
        eccodes.codes_set(handle, "parameterNumber", var.parameter_number)
        eccodes.codes_set(handle, "typeOfGeneratingProcess", 2)  # forecast
        eccodes.codes_set(handle, "generatingProcessIdentifier", 96)  # GFS
        eccodes.codes_set(handle, "typeOfFirstFixedSurface", var.type_of_first_fixed_surface)
        eccodes.codes_set(handle, "scaleFactorOfFirstFixedSurface", 0)
        eccodes.codes_set(
            handle, "scaledValueOfFirstFixedSurface", var.scaled_value_of_first_fixed_surface
        )
        eccodes.codes_set(handle, "typeOfSecondFixedSurface", 255)
        eccodes.codes_set(handle, "dataDate", int(f"{init:%Y%m%d}"))
        eccodes.codes_set(handle, "dataTime", init.hour * 100)
        eccodes.codes_set(handle, "indicatorOfUnitOfTimeRange", 1)  # hours
        if statistic:
            # Code table 4.10: 0 average, 1 accumulation.
            processing = 1 if var.step_type == "accum" else 0
            eccodes.codes_set(handle, "typeOfStatisticalProcessing", processing)
            eccodes.codes_set(handle, "typeOfTimeIncrement", 2)
            # Setting stepRange (after dataDate/dataTime) sets forecastTime, lengthOfTimeRange
            # AND the end-of-overall-time-interval keys; setting forecastTime and
            # lengthOfTimeRange directly leaves the end time stale.
            eccodes.codes_set(handle, "stepRange", message.step_range)
        else:
            eccodes.codes_set(handle, "forecastTime", message.end_step)
        eccodes.codes_set_values(handle, np.ascontiguousarray(values, dtype=np.float64).ravel())
        encoded: bytes = eccodes.codes_get_message(handle)
        return encoded
    finally:
        eccodes.codes_release(handle)


def _encode_file(
    template: int,
    messages: Sequence[SyntheticMessage],
    init: datetime,
    latitudes: np.ndarray,
    longitudes: np.ndarray,
    noise_seed: int | None,
) -> tuple[bytes, str]:
    """The GRIB2 bytes of one file holding ``messages``, and its wgrib2 ``.idx`` inventory."""
    chunks: list[bytes] = []
    lines: list[str] = []
    offset = 0
    for number, message in enumerate(messages, start=1):
        values = expected_values(message, init, latitudes, longitudes, noise_seed=noise_seed)
        data = _encode_message(template, message, init, values)
        chunks.append(data)
        lines.append(f"{number}:{offset}:d={init:%Y%m%d%H}:{message.idx_line}")
        offset += len(data)
    return b"".join(chunks), "\n".join(lines) + "\n"


def _write_with_inventory(path: Path, grib: bytes, inventory: str) -> None:
    """Write ``grib`` at ``path`` and ``inventory`` at ``{path}.idx``, replacing both."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, grib)
    write_atomic(path.with_name(path.name + ".idx"), inventory.encode())


def write_synthetic_gfs_archive(
    root: str | Path,
    init_times: Iterable[datetime | np.datetime64],
    lead_times_hours: Iterable[int],
    resolution_degrees: float = 2.5,
    variables: Iterable[str] | None = None,
    *,
    packing_type: str = "grid_simple",
    bits_per_value: int = 16,
    noise_seed: int | None = None,
    include_distractors: bool = True,
    product: str = "pgrb2.0p25",
) -> list[Path]:
    """Write a synthetic GFS archive of real GRIB2 files with NOAA ``.idx`` inventories.

    For each init time and lead time, writes ``root/gfs_relative_path(init, lead)`` holding the
    messages of :func:`messages_for_lead` (GFS order, unrelated messages interleaved) and
    ``{file}.idx`` with one wgrib2 line per message, e.g.
    ``"4:21374:d=2024010100:TMP:2 m above ground:6 hour fcst:"``, whose offsets are the exact
    message offsets (the last message ends at the end of the file). Existing files are replaced.

    Parameters
    ----------
    root
        Archive root directory (created if needed).
    init_times
        Initialisation times, whole hours (``datetime`` naive UTC or aware, or ``datetime64``).
    lead_times_hours
        Forecast hours, e.g. ``range(7)``.
    resolution_degrees
        Grid spacing for :func:`gfs_grid` (real GFS: 0.25; tests: 2.5 or 5).
    variables
        Keys of :data:`VARIABLES` (or cfgrib shortNames); ``None`` for
        :data:`DEFAULT_VARIABLES`.
    packing_type
        eccodes ``packingType``: ``"grid_simple"`` (default), or e.g.
        ``"grid_complex_spatial_differencing"`` like real GFS, or ``"grid_ccsds"``.
    bits_per_value
        Packing precision, e.g. 16 or 24.
    noise_seed
        Passed to :func:`expected_field` / :func:`expected_precipitation_rate`.
    include_distractors
        Write the unrelated :data:`DISTRACTOR_VARIABLES` messages too (default, as in GFS).
    product
        File name product part; the real 0.25° archive's ``"pgrb2.0p25"`` by default, whatever
        the resolution.

    Returns
    -------
    list of pathlib.Path
        The GRIB2 files written, by init time then lead time (each with its ``.idx`` beside it).
    """
    root_path = Path(root)
    inits = [init_datetime(t) for t in init_times]
    leads = [lead_hours_of(lead) for lead in lead_times_hours]
    if not 1 <= bits_per_value <= 32:
        raise ValueError(f"bits_per_value must be in 1..32, got {bits_per_value}")
    plans = {
        lead: messages_for_lead(lead, variables, include_distractors=include_distractors)
        for lead in leads
    }
    template, latitudes, longitudes = _grid_template(
        resolution_degrees, packing_type, bits_per_value
    )
    written: list[Path] = []
    try:
        for init in inits:
            for lead in leads:
                grib, inventory = _encode_file(
                    template, plans[lead], init, latitudes, longitudes, noise_seed
                )
                path = root_path / gfs_relative_path(init, lead, product=product)
                _write_with_inventory(path, grib, inventory)
                written.append(path)
    finally:
        eccodes.codes_release(template)
    return written
