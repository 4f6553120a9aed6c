"""The task functions of a region job's graph: download, then one task per variable.

They run on workers and take the job object as their first argument (its hooks do the
dataset-specific work). A failed download or read is recorded in the file's coordinate
(its status and error), never raised: the job goes on and reports it.

A variable's task reads its values from every downloaded file (each message decoded
once), then builds, transforms and writes its shards one spatial tile at a time: nothing
but file coordinates travels between workers, and a task holds the decoded fields plus
one tile, never the variable's whole processing-region array filled with NaN.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from climaflow.io.errors import DownloadError
from climaflow.io.icechunk_stores import task_changes
from climaflow.io.urls import redact_url
from climaflow.reformat.results import JobResult, ReadResult, VariableSummary
from climaflow.reformat.shards import is_whole_shard
from climaflow.reformat.source_file_coord import (
    SOURCE_FILE_COORD,
    SourceFileCoord,
    SourceFileStatus,
)
from climaflow.reformat.template import DATA_VAR

if TYPE_CHECKING:
    from climaflow.reformat.region_job import RegionJob

logger = logging.getLogger(__name__)

#: Where a file's array goes in the processing region (an int for a dimension the file
#: has one label of), and which part of the file's array goes there.
Placement = tuple[tuple[int | slice, ...], tuple[slice, ...]]


def download_coord(
    job: RegionJob[Any, SOURCE_FILE_COORD], coord: SOURCE_FILE_COORD
) -> SOURCE_FILE_COORD:
    try:
        downloaded = job.download_file(coord)
    except DownloadError as error:
        if error.not_found:
            logger.info("Not available: %s", error)
            return coord.with_status(SourceFileStatus.NOT_AVAILABLE, error=str(error))
        logger.warning("Download failed: %s", error)
        return coord.with_status(SourceFileStatus.DOWNLOAD_FAILED, error=str(error))
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


def _expected_shape(job: RegionJob[Any, Any], coord: SourceFileCoord) -> tuple[int, ...]:
    loc = coord.out_loc()
    shape = []
    for dim in job.template.dims:
        if dim not in loc:
            shape.append(len(job.coordinates[dim]))
        elif np.ndim(loc[dim]) == 1:
            shape.append(len(loc[dim]))
    return tuple(shape)


def reformat_variable(
    job: RegionJob[DATA_VAR, SOURCE_FILE_COORD],
    data_var: DATA_VAR,
    *downloads: SOURCE_FILE_COORD,
) -> VariableSummary:
    """Read ``data_var`` from its downloaded files and write every shard of the job's region.

    The shards are taken a tile at a time: a tile is the processing region along the append
    dimension and along the job's ``transform_dim``, by one shard's extent along every other
    dimension, so the transforms (which run point by point along ``transform_dim``) see
    whole series. Each tile is filled with the fill value, receives its part of every file's
    array, is transformed in place, and its shards are written whole.
    """
    seconds: dict[str, float] = defaultdict(float)
    with _timed(seconds, "read"):
        reads = [read_coord(job, coord, [data_var])[data_var.name] for coord in downloads]
    coords = job.processing_coordinates()
    dims = job.template.dims
    shape = tuple(len(coords[dim]) for dim in dims)
    axis = job.template.append_axis
    offset = job.get_processing_region().start
    # Files published (read, or failed otherwise than by not being found) and where they go.
    published = [
        (read, placement)
        for read in reads
        if read.coord.status is not SourceFileStatus.NOT_AVAILABLE
        and (placement := _placement(coords, dims, read.coord.out_loc())) is not None
    ]
    placed = [(read.values, placement) for read, placement in published if read.values is not None]
    data_stop = max((offset + _end(placement[0][axis]) for _, placement in published), default=None)
    files = [read.coord for read in reads]
    failed = {SourceFileStatus.DOWNLOAD_FAILED, SourceFileStatus.READ_FAILED}
    if job.keep_shards_on_failure and any(coord.status in failed for coord in files):
        return _summary(job, data_var, files, 0, 0, seconds, data_stop)
    array = job.open_output_array(data_var.name)
    encoding = data_var.encoding
    whole_axes = {axis, dims.index(job.transform_dim or job.template.append_dim)}
    shards = nbytes = 0
    for tile, selections in _tiles(job.shard_selections(data_var), whole_axes, shape):
        with _timed(seconds, "assemble"):
            values = np.full(
                tuple(s.stop - s.start for s in tile), encoding.fill_value, encoding.dtype
            )
            for file_values, placement in placed:
                in_tile = _placement_in_tile(placement, tile)
                if in_tile is not None:
                    destination, source = in_tile
                    values[destination] = file_values[source]
        with _timed(seconds, "transform"):
            _transform(job, data_var, values, coords, tile)
        with _timed(seconds, "write"):
            for selection in selections:
                assert is_whole_shard(selection, array.shape, encoding.write_block), (
                    f"{data_var.name}: selection {selection} is not exactly one shard of an "
                    f"array of shape {array.shape} with shards {encoding.write_block}"
                )
                origin = [offset if i == axis else part.start for i, part in enumerate(tile)]
                shard = values[
                    tuple(
                        slice(s.start - o, s.stop - o)
                        for s, o in zip(selection, origin, strict=True)
                    )
                ]
                array[selection] = shard
                shards += 1
                nbytes += shard.nbytes
    summary = _summary(job, data_var, files, shards, nbytes, seconds, data_stop)
    return replace(summary, changes=task_changes(array.store))


def _end(where: int | slice) -> int:
    """One past the last position of a placement along one dimension."""
    return where + 1 if isinstance(where, int) else int(where.stop)


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] += time.perf_counter() - start


def _tiles(
    selections: Sequence[tuple[slice, ...]], whole_axes: Collection[int], shape: tuple[int, ...]
) -> Iterator[tuple[tuple[slice, ...], list[tuple[slice, ...]]]]:
    """The tiles of a region's shards (in processing-region positions) and each tile's shards.

    A tile spans ``whole_axes`` (the append axis and the transforms' axis) whole, and one
    shard's extent along the others: shards that differ only along ``whole_axes`` share it.
    """
    by_extent: dict[tuple[tuple[int, int], ...], list[tuple[slice, ...]]] = {}
    for selection in selections:
        extent = tuple((s.start, s.stop) for i, s in enumerate(selection) if i not in whole_axes)
        by_extent.setdefault(extent, []).append(selection)
    for shard_group in by_extent.values():
        tile = list(shard_group[0])
        for axis in whole_axes:
            tile[axis] = slice(0, shape[axis])
        yield tuple(tile), shard_group


def _placement(
    processing_coords: Mapping[str, np.ndarray], dims: Sequence[str], loc: Mapping[str, Any]
) -> Placement | None:
    """Where a file's array goes in the processing region, and which part of it goes.

    Returns (destination index, source index), or ``None`` when the file's labels fall
    outside the processing region entirely.
    """
    destination: list[int | slice] = []
    source: list[slice] = []
    for dim in dims:
        if dim not in loc:
            destination.append(slice(0, len(processing_coords[dim])))
            source.append(slice(0, len(processing_coords[dim])))
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


def _placement_in_tile(placement: Placement, tile: tuple[slice, ...]) -> Placement | None:
    """``placement`` cut to ``tile``, in the tile's positions; ``None`` when they do not meet."""
    destination, source = placement
    sources = iter(source)
    cut_destination: list[int | slice] = []
    cut_source: list[slice] = []
    for where, part in zip(destination, tile, strict=True):
        if isinstance(where, int):
            if not part.start <= where < part.stop:
                return None
            cut_destination.append(where - part.start)
            continue
        source_start = next(sources).start
        low, high = max(where.start, part.start), min(where.stop, part.stop)
        if low >= high:
            return None
        cut_destination.append(slice(low - part.start, high - part.start))
        cut_source.append(
            slice(source_start + low - where.start, source_start + high - where.start)
        )
    return tuple(cut_destination), tuple(cut_source)


def _transform(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    values: np.ndarray,
    coords: Mapping[str, np.ndarray],
    tile: tuple[slice, ...],
) -> None:
    dims = job.template.dims
    data_array = xr.DataArray(
        values,
        dims=dims,
        coords={dim: coords[dim][part] for dim, part in zip(dims, tile, strict=True)},
    )
    job.apply_data_transformations(data_array, data_var)
    assert data_array.values is values or np.shares_memory(data_array.values, values), (
        f"apply_data_transformations must work in place ({data_var.name})"
    )


def _summary(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    file_results: Sequence[SourceFileCoord],
    shards: int,
    nbytes: int,
    seconds: Mapping[str, float],
    data_stop: int | None,
) -> VariableSummary:
    counts = Counter(str(coord.status) for coord in file_results)
    return VariableSummary(
        name=data_var.name,
        status_counts=dict(counts),
        files=[{"variable": data_var.name, **coord.describe()} for coord in file_results],
        shards_written=shards,
        bytes_written=nbytes,
        processing_state=job.summarize_processing_state(data_var, file_results),
        data_stop=data_stop,
        seconds=dict(seconds),
    )


def cleanup_downloads(job: RegionJob[Any, Any], *results: SourceFileCoord | VariableSummary) -> int:
    """Delete the downloads of a variable group (never a local source file); count them.

    ``results`` are the group's downloads and its variables' summaries: the summaries are
    passed so that files are removed only once every variable's shards are written.
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
