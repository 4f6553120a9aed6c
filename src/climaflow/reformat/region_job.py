"""RegionJob: reformat one region of whole shards as a Dask graph.

A region job covers a slice of the append dimension made of whole shards, for a set of
variables. Subclasses say where source files are and how to read them (the hooks below);
the base class builds the graph::

    download-{dataset} -> read-{dataset} [-> select-{var}] -> assemble-{var}
        -> transform-{var} -> write-{var} (one per shard) -> summarize-{var}
    cleanup-{dataset} (after every write)          job-{dataset} (the job's result)

Each file is downloaded and read once, whatever the number of variables it holds; a
``select-{var}`` task (only for files holding several variables) runs where the file was
read, so only that variable's array travels to its ``assemble`` task. Task keys are
tuples whose first element names the stage and variable, so the dashboard and
``Scheduler.task_groups`` show one group per stage and variable. Each write task owns
whole shards: no two tasks of any job touch the same shard, so writes never race and
re-running a job rewrites identical bytes.
"""

import logging
import tempfile
import uuid
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import pandas as pd
import xarray as xr
from dask.sizeof import sizeof
from distributed import Client

from climaflow import config
from climaflow.io.stores import StoreLike, open_array_for_writing
from climaflow.progress import show_task_progress
from climaflow.reformat.shards import (
    check_shard_aligned,
    is_whole_shard,
    shard_selections,
    split_into_regions,
)
from climaflow.reformat.source_file_coord import SourceFileCoord, SourceFileStatus
from climaflow.reformat.template import DATA_VAR, Template
from climaflow.reformat.transforms import (
    deaccumulate_to_rates_inplace,
    linear_interpolate_missing_inplace,
    round_to_mantissa_bits,
)
from climaflow.reformat.urls import redact_url

logger = logging.getLogger(__name__)

SOURCE_FILE_COORD = TypeVar("SOURCE_FILE_COORD", bound=SourceFileCoord)


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
        return [f for f in self.files if f["status"] != str(SourceFileStatus.Succeeded)]


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


@sizeof.register(ReadResult)
def _sizeof_read_result(read: ReadResult[Any]) -> int:
    return 256 + (read.values.nbytes if read.values is not None else 0)


@sizeof.register(AssembledVariable)
def _sizeof_assembled(assembled: AssembledVariable) -> int:
    # The scheduler keeps write tasks next to the data only if it knows the data's size.
    return 256 + assembled.values.nbytes


class RegionJob(Generic[DATA_VAR, SOURCE_FILE_COORD]):
    """Reformat one region (whole shards along the append dimension) of a dataset.

    Parameters
    ----------
    template
        The output dataset's template.
    store
        The Zarr v3 store (path, URL or zarr ``Store``) whose metadata the template wrote.
    append_dim_end
        The end of the append dimension the store's metadata was written for.
    region
        Positions along the append dimension, whole shards only
        (see :func:`climaflow.reformat.shards.check_shard_aligned`).
    data_vars
        Variables to process (default: all of the template's).
    download_dir
        Where downloads land; default ``climaflow.download.directory`` or a temporary dir,
        as configured on each worker.

    Subclass hooks: :meth:`generate_source_file_coords`, :meth:`download_file` and
    :meth:`read_data` must be implemented; :meth:`get_processing_region`,
    :meth:`group_data_vars`, :meth:`apply_data_transformations` and
    :meth:`summarize_processing_state` have defaults.
    """

    #: Variables processed together (sharing downloads); ``None``: all in one group.
    max_vars_per_group: ClassVar[int | None] = None
    #: The dimension deaccumulation and interpolation run along (default: the append dim).
    transform_dim: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        template: Template[DATA_VAR],
        store: StoreLike,
        append_dim_end: Any,
        region: slice,
        data_vars: Sequence[DATA_VAR] | None = None,
        download_dir: Path | None = None,
    ) -> None:
        self.template = template
        self.store = store
        self.append_dim_end = append_dim_end
        self.data_vars: tuple[DATA_VAR, ...] = tuple(data_vars or template.data_vars)
        self._download_dir = download_dir
        self.coordinates = template.dimension_coordinates(append_dim_end)
        self.append_dim_length = len(self.coordinates[template.append_dim])
        check_shard_aligned(
            region, template.append_dim_shard_size, self.append_dim_length, template.append_dim
        )
        self.region = region

    @property
    def download_dir(self) -> Path:
        """Where downloads land: the ``download_dir`` given, else (decided on the worker
        that downloads) ``climaflow.download.directory`` or the system's temporary dir."""
        configured = self._download_dir or config.get("download.directory")
        return Path(configured or Path(tempfile.gettempdir()) / "climaflow-downloads")

    def __repr__(self) -> str:
        names = ",".join(var.name for var in self.data_vars)
        return f"{type(self).__name__}({self.template.dataset_id}[{self.region.start}:{self.region.stop}], {names})"

    @classmethod
    def get_jobs(
        cls,
        template: Template[DATA_VAR],
        store: StoreLike,
        append_dim_end: Any,
        *,
        start: int = 0,
        stop: int | None = None,
        data_vars: Iterable[str] | None = None,
        shards_per_job: int = 1,
        **kwargs: Any,
    ) -> list[Self]:
        """Split positions ``start:stop`` of the append dimension into jobs of whole shards.

        ``start`` and ``stop`` are widened to shard boundaries. ``data_vars`` names the
        variables (default: all); unknown names raise ``KeyError``. Extra keyword
        arguments go to the constructor.
        """
        length = len(template.dimension_coordinates(append_dim_end)[template.append_dim])
        stop = length if stop is None else stop
        names = list(data_vars) if data_vars is not None else None
        selected = tuple(template.data_var(name) for name in names) if names is not None else None
        regions = split_into_regions(
            start, stop, template.append_dim_shard_size, length, shards_per_job
        )
        return [
            cls(
                template=template,
                store=store,
                append_dim_end=append_dim_end,
                region=region,
                data_vars=selected,
                **kwargs,
            )
            for region in regions
        ]

    # ----------------------------------------------------------------- subclass hooks

    def get_processing_region(self) -> slice:
        """The append-dim positions to read: the region, plus padding where a transform
        needs neighbours (e.g. deaccumulation). Only ``self.region`` is written."""
        return self.region

    def group_data_vars(self, processing_ds: xr.Dataset) -> Sequence[Sequence[DATA_VAR]]:
        """Groups of variables processed together; each group shares its downloads."""
        size = self.max_vars_per_group or len(self.data_vars)
        return [self.data_vars[i : i + size] for i in range(0, len(self.data_vars), size)]

    def generate_source_file_coords(
        self, processing_ds: xr.Dataset, data_vars: Sequence[DATA_VAR]
    ) -> Sequence[SOURCE_FILE_COORD]:
        """The source files holding ``data_vars`` over ``processing_ds``'s coordinates."""
        raise NotImplementedError

    def download_file(self, coord: SOURCE_FILE_COORD) -> Path | SOURCE_FILE_COORD:
        """Fetch ``coord``'s file (or the needed parts of it); return its local path, or a
        copy of ``coord`` with ``downloaded_path`` set and what else the download learned."""
        raise NotImplementedError

    def read_data(self, coord: SOURCE_FILE_COORD, data_var: DATA_VAR) -> np.ndarray:
        """``data_var``'s values from ``coord``'s downloaded file.

        The shape is that of the output dims not fixed by a scalar in ``coord.out_loc()``,
        in template order; a dim given a label array in ``out_loc`` has that many values.
        """
        raise NotImplementedError

    def read_file(
        self, coord: SOURCE_FILE_COORD, data_vars: Sequence[DATA_VAR]
    ) -> dict[str, np.ndarray | Exception]:
        """Every one of ``data_vars`` from ``coord``'s file: an array, or the error reading it.

        The default calls :meth:`read_data` once per variable. Integrations whose files
        hold several variables override it to go through the file once.
        """
        results: dict[str, np.ndarray | Exception] = {}
        for data_var in data_vars:
            try:
                results[data_var.name] = self.read_data(coord, data_var)
            except Exception as error:
                results[data_var.name] = error
        return results

    def apply_data_transformations(self, data_array: xr.DataArray, data_var: DATA_VAR) -> None:
        """Transform ``data_array`` in place: deaccumulation, interpolation, then rounding."""
        processing = data_var.processing
        dim = self.transform_dim or self.template.append_dim
        axis = data_array.get_axis_num(dim)
        if processing.deaccumulate_to_rate:
            deaccumulate_to_rates_inplace(
                data_array.values,
                data_array[dim].values,
                axis=axis,
                reset_frequency=processing.reset_frequency,
            )
        if processing.interpolate_missing:
            linear_interpolate_missing_inplace(data_array.values, data_array[dim].values, axis=axis)
        if processing.keep_mantissa_bits is not None:
            round_to_mantissa_bits(data_array.values, processing.keep_mantissa_bits)

    def summarize_processing_state(
        self, data_var: DATA_VAR, file_results: Sequence[SOURCE_FILE_COORD]
    ) -> Any:
        """Extra per-variable metadata for the job result (default: none)."""
        return None

    # ----------------------------------------------------------------- graph

    def processing_coordinates(self) -> dict[str, np.ndarray]:
        """Dimension coordinates restricted to the processing region."""
        region = self.get_processing_region()
        coords = dict(self.coordinates)
        coords[self.template.append_dim] = coords[self.template.append_dim][region]
        return coords

    def processing_dataset(self) -> xr.Dataset:
        """The template dataset (lazy) restricted to the processing region."""
        ds = self.template.to_dataset(self.append_dim_end)
        return ds.isel({self.template.append_dim: self.get_processing_region()})

    def shard_selections(self, data_var: DATA_VAR) -> list[tuple[slice, ...]]:
        """Output selections of every shard of ``data_var`` in this job's region."""
        shape = tuple(len(self.coordinates[dim]) for dim in self.template.dims)
        return list(
            shard_selections(
                shape, data_var.encoding.write_block, self.template.append_axis, self.region
            )
        )

    def to_graph(self, job_label: str) -> tuple[dict[Hashable, Any], Hashable]:
        """This job's Dask graph and the key of its :class:`JobResult`.

        ``job_label`` makes the keys unique (e.g. dataset, region and a run token).
        """
        dataset_id = self.template.dataset_id
        processing_ds = self.processing_dataset()
        processing = self.get_processing_region()
        assert processing.start <= self.region.start and self.region.stop <= processing.stop, (
            f"processing region {processing} must contain the region {self.region}"
        )
        graph: dict[Hashable, Any] = {}
        summary_keys = []
        cleanup_keys = []
        for group_index, group in enumerate(self.group_data_vars(processing_ds)):
            coords = self.generate_source_file_coords(processing_ds, group)
            download_keys = []
            reads_by_var: dict[str, list[Hashable]] = {var.name: [] for var in group}
            for i, coord in enumerate(coords):
                download_key = (f"download-{dataset_id}", job_label, group_index, i)
                graph[download_key] = (_download, self, coord)
                download_keys.append(download_key)
                held = [var for var in group if coord.contains(var.name)]
                read_key = (f"read-{dataset_id}", job_label, group_index, i)
                graph[read_key] = (_read, self, download_key, held)
                for var in held:
                    if len(held) == 1:
                        reads_by_var[var.name].append(read_key)
                    else:  # only this variable's array travels to its assemble task
                        select_key = (f"select-{var.name}", job_label, i)
                        graph[select_key] = (_select, read_key, var.name)
                        reads_by_var[var.name].append(select_key)
            write_keys = []
            for data_var in group:
                name = data_var.name
                assemble_key = (f"assemble-{name}", job_label)
                graph[assemble_key] = (_assemble, self, data_var, reads_by_var[name])
                transform_key = (f"transform-{name}", job_label)
                graph[transform_key] = (_transform, self, data_var, assemble_key)
                var_writes = []
                for s, selection in enumerate(self.shard_selections(data_var)):
                    key = (f"write-{name}", job_label, s)
                    graph[key] = (_write_shard, self, data_var, transform_key, selection)
                    var_writes.append(key)
                write_keys.extend(var_writes)
                summary_key = (f"summarize-{name}", job_label)
                graph[summary_key] = (_summarize, self, data_var, transform_key, var_writes)
                summary_keys.append(summary_key)
            cleanup_key = (f"cleanup-{dataset_id}", job_label, group_index)
            graph[cleanup_key] = (_cleanup, self, download_keys, write_keys)
            cleanup_keys.append(cleanup_key)
        result_key = (f"job-{dataset_id}", job_label)
        graph[result_key] = (_job_result, self, summary_keys, cleanup_keys)
        return graph, result_key

    def process(self, client: Client | None = None) -> JobResult:
        """Run this job on ``client`` (default: a LocalCluster sized to this machine)."""
        return process_jobs([self], client)[0]


def process_jobs(
    jobs: Sequence[RegionJob[Any, Any]],
    client: Client | None = None,
    *,
    show_progress: bool = False,
) -> list[JobResult]:
    """Run region jobs as one Dask graph on ``client`` and return their results in order.

    Asserts that no two jobs write the same shard. With ``client=None`` a LocalCluster
    sized to this machine is started for the call. ``show_progress`` shows Dask's progress
    bar (a widget in Jupyter, text in a terminal).
    """
    if client is None:
        from climaflow.cluster import cluster_client

        with cluster_client() as local_client:
            return process_jobs(jobs, local_client, show_progress=show_progress)
    futures = submit_jobs(jobs, client)
    if show_progress:
        show_task_progress(futures)
    return client.gather(futures)


def submit_jobs(jobs: Sequence[RegionJob[Any, Any]], client: Client) -> list[Any]:
    """Submit region jobs to ``client``; return one future per job (for progress bars)."""
    check_exclusive_shards(jobs)
    run_token = uuid.uuid4().hex[:8]
    graph: dict[Hashable, Any] = {}
    result_keys = []
    for job in jobs:
        label = f"{job.template.dataset_id}[{job.region.start}:{job.region.stop}]#{run_token}"
        job_graph, result_key = job.to_graph(label)
        graph.update(job_graph)
        result_keys.append(result_key)
    # Retries given to client.get survive graph optimization (annotations may not).
    return client.get(graph, result_keys, sync=False, retries=int(config.get("tasks.retries")))


def check_exclusive_shards(jobs: Sequence[RegionJob[Any, Any]]) -> None:
    """Assert that no shard of any variable is written by two jobs."""
    owners: dict[tuple[str, tuple[tuple[int, int], ...]], RegionJob[Any, Any]] = {}
    for job in jobs:
        for data_var in job.data_vars:
            for selection in job.shard_selections(data_var):
                shard = (data_var.name, tuple((s.start, s.stop) for s in selection))
                assert shard not in owners, (
                    f"{data_var.name} shard {selection} is written by both {owners[shard]} "
                    f"and {job}: jobs must not share shards"
                )
                owners[shard] = job


# --------------------------------------------------------------------- task functions


def _download(
    job: RegionJob[Any, SOURCE_FILE_COORD], coord: SOURCE_FILE_COORD
) -> SOURCE_FILE_COORD:
    try:
        downloaded = job.download_file(coord)
    except Exception as error:
        logger.warning("Download failed: %s", error)
        return coord.with_status(SourceFileStatus.DownloadFailed, error=str(error))
    if isinstance(downloaded, Path):
        return coord.with_status(SourceFileStatus.Processing, downloaded_path=downloaded)
    return downloaded.with_status(SourceFileStatus.Processing)


def _read(
    job: RegionJob[DATA_VAR, SOURCE_FILE_COORD],
    coord: SOURCE_FILE_COORD,
    data_vars: Sequence[DATA_VAR],
) -> dict[str, ReadResult[SOURCE_FILE_COORD]]:
    """Read ``data_vars`` from one downloaded file, each with its own status."""
    if coord.status is SourceFileStatus.Processing and (
        coord.downloaded_path is not None and not coord.downloaded_path.exists()
    ):
        # The download happened on a worker whose disk this one cannot see: fetch again.
        coord = _download(job, coord)
    if coord.status is not SourceFileStatus.Processing:
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
            failed = coord.with_status(SourceFileStatus.ReadFailed, error=message)
            results[var.name] = ReadResult(failed, None)
        else:
            results[var.name] = ReadResult(
                coord.with_status(SourceFileStatus.Succeeded), np.asarray(values)
            )
    return results


def _select(
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


def _assemble(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    file_reads: Sequence[Mapping[str, ReadResult[Any]]],
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


def _transform(
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


def _write_shard(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    assembled: AssembledVariable,
    selection: tuple[slice, ...],
) -> ShardWrite:
    array = open_array_for_writing(job.store, data_var.name)
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


def _summarize(
    job: RegionJob[DATA_VAR, Any],
    data_var: DATA_VAR,
    assembled: AssembledVariable,
    writes: Sequence[ShardWrite],
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


def _cleanup(
    job: RegionJob[Any, Any], coords: Sequence[SourceFileCoord], writes: Sequence[ShardWrite]
) -> int:
    """Delete the downloads of a variable group (never a local source file); count them."""
    download_dir = job.download_dir.resolve()
    removed = 0
    for coord in coords:
        path = coord.downloaded_path
        if path is not None and path.resolve().is_relative_to(download_dir) and path.exists():
            path.unlink()
            removed += 1
    return removed


def _job_result(
    job: RegionJob[Any, Any], summaries: Sequence[VariableSummary], cleanups: Sequence[int]
) -> JobResult:
    return JobResult(
        dataset_id=job.template.dataset_id,
        region=(job.region.start, job.region.stop),
        variables={summary.name: summary for summary in summaries},
    )
