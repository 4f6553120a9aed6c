"""The task functions of a region job's graph: download, read, assemble, transform, write.

They run on workers and take the job object as their first argument (its hooks do the
dataset-specific work). A failed download or read is recorded in the file's coordinate
(its status and error), never raised: the job goes on and reports it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from climaflow.io.stores import open_array_for_writing
from climaflow.io.urls import redact_url
from climaflow.reformat.results import (
    AssembledVariable,
    JobResult,
    ReadResult,
    ShardWrite,
    VariableSummary,
)
from climaflow.reformat.shards import (
    is_whole_shard,
)
from climaflow.reformat.source_file_coord import (
    SOURCE_FILE_COORD,
    SourceFileCoord,
    SourceFileStatus,
)
from climaflow.reformat.template import DATA_VAR

if TYPE_CHECKING:
    from climaflow.reformat.region_job import RegionJob

logger = logging.getLogger(__name__)


def download_coord(
    job: RegionJob[Any, SOURCE_FILE_COORD], coord: SOURCE_FILE_COORD
) -> SOURCE_FILE_COORD:
    try:
        downloaded = job.download_file(coord)
    except Exception as error:
        logger.warning("Download failed: %s", error)
        return coord.with_status(SourceFileStatus.DOWNLOAD_FAILED, error=str(error))
    if isinstance(downloaded, Path):
        return coord.with_status(SourceFileStatus.PROCESSING, downloaded_path=downloaded)
    return downloaded.with_status(SourceFileStatus.PROCESSING)


def read_coord(
    job: RegionJob[DATA_VAR, SOURCE_FILE_COORD],
    coord: SOURCE_FILE_COORD,
    data_vars: Sequence[DATA_VAR],
) -> dict[str, ReadResult[SOURCE_FILE_COORD]]:
    """Read ``data_vars`` from one downloaded file, each with its own status."""
    if coord.status is SourceFileStatus.PROCESSING and (
        coord.downloaded_path is not None and not coord.downloaded_path.exists()
    ):
        # The download happened on a worker whose disk this one cannot see: fetch again.
        coord = download_coord(job, coord)
    if coord.status is not SourceFileStatus.PROCESSING:
        return {var.name: ReadResult(coord, None) for var in data_vars}
    try:
        arrays = job.read_file(coord, data_vars)
    except Exception as error:
        arrays = dict.fromkeys((var.name for var in data_vars), error)
    expected = _expected_shape(job, coord)
    results = {}
    for var in data_vars:
        values = arrays[var.name]
        if not isinstance(values, Exception) and np.shape(values) != expected:
            values = ValueError(f"expected an array of shape {expected}, read {np.shape(values)}")
        if isinstance(values, Exception):
            where = coord.downloaded_path or redact_url(coord.get_url())
            message = f"{where}: {var.name}: {values}"
            logger.warning("Read failed: %s", message)
            failed = coord.with_status(SourceFileStatus.READ_FAILED, error=message)
            results[var.name] = ReadResult(failed, None)
        else:
            results[var.name] = ReadResult(
                coord.with_status(SourceFileStatus.SUCCEEDED), np.asarray(values)
            )
    return results


def select_variable(
    reads: Mapping[str, ReadResult[SOURCE_FILE_COORD]], name: str
) -> dict[str, ReadResult[SOURCE_FILE_COORD]]:
    return {name: reads[name]}


def _expected_shape(job: RegionJob[Any, Any], coord: SourceFileCoord) -> tuple[int, ...]:
    loc = coord.out_loc()
    shape = []
    for dim in job.template.dims:
        if dim not in loc:
            shape.append(len(job.coordinates[dim]))
        elif np.ndim(loc[dim]) == 1:
            shape.append(len(loc[dim]))
    return tuple(shape)


def _placement(
    processing_coords: Mapping[str, np.ndarray], dims: Sequence[str], loc: Mapping[str, Any]
) -> tuple[tuple[int | slice, ...], tuple[slice, ...]] | None:
    """Where a file's array goes in the processing region, and which part of it goes.

    Returns (destination index, source index), or ``None`` when the file's labels fall
    outside the processing region entirely.
    """
    destination: list[int | slice] = []
    source: list[slice] = []
    for dim in dims:
        if dim not in loc:
            destination.append(slice(None))
            source.append(slice(None))
            continue
        index = pd.Index(processing_coords[dim])
        labels = loc[dim]
        if np.ndim(labels) == 0:
            destination.append(index.get_loc(labels))
            continue
        positions = index.get_indexer(np.asarray(labels))
        inside = np.flatnonzero(positions >= 0)
        if inside.size == 0:
            return None
        first, last = inside[0], inside[-1]
        run = positions[first : last + 1]
        assert np.array_equal(run, np.arange(run[0], run[0] + run.size)), (
            f"labels of {dim} in {loc} must map to a contiguous increasing run of positions"
        )
        destination.append(slice(int(run[0]), int(run[-1]) + 1))
        source.append(slice(int(first), int(last) + 1))
    return tuple(destination), tuple(source)


def assemble_variable(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    *file_reads: Mapping[str, ReadResult[Any]],
) -> AssembledVariable:
    coords = job.processing_coordinates()
    shape = tuple(len(coords[dim]) for dim in job.template.dims)
    encoding = data_var.encoding
    values = np.full(shape, encoding.fill_value, dtype=encoding.dtype)
    reads = [file_read[data_var.name] for file_read in file_reads]
    for read in reads:
        if read.values is None:
            continue
        placement = _placement(coords, job.template.dims, read.coord.out_loc())
        if placement is not None:
            destination, source = placement
            values[destination] = read.values[source]
    return AssembledVariable(data_var.name, values, [read.coord for read in reads])


def transform_variable(
    job: RegionJob[DATA_VAR, Any], data_var: DATA_VAR, assembled: AssembledVariable
) -> AssembledVariable:
    if assembled.transformed:  # re-executed on the object it already transformed in place
        return assembled
    data_array = xr.DataArray(
        assembled.values, dims=job.template.dims, coords=job.processing_coordinates()
    )
    job.apply_data_transformations(data_array, data_var)
    assert data_array.values is assembled.values or np.shares_memory(
        data_array.values, assembled.values
    ), f"apply_data_transformations must work in place ({data_var.name})"
    assembled.transformed = True
    return assembled


def write_shard(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    assembled: AssembledVariable,
    selection: tuple[slice, ...],
) -> ShardWrite:
    array = open_array_for_writing(job.open_output_store(), data_var.name)
    assert is_whole_shard(selection, array.shape, data_var.encoding.write_block), (
        f"{data_var.name}: selection {selection} is not exactly one shard of an array of "
        f"shape {array.shape} with shards {data_var.encoding.write_block}"
    )
    axis = job.template.append_axis
    offset = job.get_processing_region().start
    local = list(selection)
    local[axis] = slice(selection[axis].start - offset, selection[axis].stop - offset)
    values = assembled.values[tuple(local)]
    array[selection] = values
    return ShardWrite(data_var.name, selection, values.nbytes)


def summarize_variable(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    assembled: AssembledVariable,
    *writes: ShardWrite,
) -> VariableSummary:
    counts = Counter(str(coord.status) for coord in assembled.file_results)
    return VariableSummary(
        name=data_var.name,
        status_counts=dict(counts),
        files=[{"variable": data_var.name, **coord.describe()} for coord in assembled.file_results],
        shards_written=len(writes),
        bytes_written=sum(write.nbytes for write in writes),
        processing_state=job.summarize_processing_state(data_var, assembled.file_results),
    )


def cleanup_downloads(job: RegionJob[Any, Any], *results: SourceFileCoord | ShardWrite) -> int:
    """Delete the downloads of a variable group (never a local source file); count them.

    ``results`` are the group's downloads and its shard writes: the writes are passed so
    that files are removed only once every shard is written.
    """
    download_dir = job.download_dir.resolve()
    removed = 0
    for coord in results:
        if not isinstance(coord, SourceFileCoord):
            continue
        path = coord.downloaded_path
        if path is not None and path.resolve().is_relative_to(download_dir) and path.exists():
            path.unlink()
            removed += 1
    return removed


def job_result(job: RegionJob[Any, Any], *results: VariableSummary | int) -> JobResult:
    """The job's result from its variables' summaries (the cleanups' counts are waited for)."""
    return JobResult(
        dataset_id=job.template.dataset_id,
        region=(job.region.start, job.region.stop),
        variables={r.name: r for r in results if isinstance(r, VariableSummary)},
    )
