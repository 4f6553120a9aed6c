"""RegionJob: reformat one region of whole shards as a Dask graph.

A region job covers a slice of the append dimension made of whole shards, for a set of
variables. Subclasses say where source files are and how to read them (the hooks below);
the base class builds the graph::

    download-{dataset} (one per file) -> reformat-{var} (one per variable)
    cleanup-{dataset} (after every variable)       job-{dataset} (the job's result)

Each file is downloaded once, whatever the number of variables it holds, and each
variable's values in it are decoded once, by that variable's task, which then assembles,
transforms and writes the variable's shards one tile at a time (see
:func:`climaflow.reformat.tasks.reformat_variable`): only file descriptions travel between
workers. Task keys are tuples whose first element names the stage and variable, so the
dashboard and ``Scheduler.task_groups`` show one group per stage and variable. Each
variable's task owns its shards: no two tasks of any job touch the same shard, so writes
never race and re-running a job rewrites identical bytes.
"""

import logging
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Self

import numpy as np
import xarray as xr
import zarr
from dask.delayed import Delayed
from distributed import Client
from zarr.abc.store import Store

from climaflow import config
from climaflow.io.icechunk_stores import is_fork_store, private_fork
from climaflow.io.stores import StoreLike, open_array_for_writing, open_store
from climaflow.reformat.graph import job_graph, process_jobs
from climaflow.reformat.results import JobResult
from climaflow.reformat.shards import (
    check_shard_aligned,
    shard_selections,
    split_into_regions,
)
from climaflow.reformat.source_file_coord import (
    SOURCE_FILE_COORD,
)
from climaflow.reformat.template import DATA_VAR, Template
from climaflow.reformat.transforms import (
    deaccumulate_to_rates_inplace,
    linear_interpolate_missing_inplace,
    round_to_mantissa_bits,
)

logger = logging.getLogger(__name__)


class RegionJob(Generic[DATA_VAR, SOURCE_FILE_COORD]):
    """Reformat one region (whole shards along the append dimension) of a dataset.

    Subclass hooks: :meth:`generate_source_file_coords`, :meth:`download_file` and
    :meth:`read_data` must be implemented; :meth:`get_processing_region`,
    :meth:`group_data_vars`, :meth:`apply_data_transformations` and
    :meth:`summarize_processing_state` have defaults.

    The options travel with the job object to the workers, so credentials given here reach
    every task; they are not part of the job's ``repr``.

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
    source_storage_options
        Options for reading source files (obstore's ``client_options``, ``retry_config`` and
        the store's own keys such as credentials; see :mod:`climaflow.io.objects`). Kept as
        :attr:`source_storage_options`: subclasses pass it to every
        :func:`climaflow.io.download`, :func:`climaflow.io.read_bytes`... call they make.
    store_storage_options
        Options for opening ``store`` when it is a URL (see :func:`climaflow.io.open_store`),
        kept as :attr:`store_storage_options` and used by every shard write.
    coordinates
        The template's dimension coordinates up to ``append_dim_end``, when the caller has
        them already (:meth:`get_jobs` computes them once for all its jobs); see
        :attr:`coordinates`.
    keep_shards_on_failure
        A variable one of whose files fails to download or read (other than by not being
        published) leaves its shards as they are instead of rewriting them with NaN where
        that file's data goes: for regions a store already shows, processed again by
        ``update`` while the source may be down.
    array_metadata
        The data variables' staged Zarr metadata documents, by name
        (:meth:`~climaflow.reformat.template.StagedMetadata.array_metadata`): shards are
        written with them, before the store's own metadata reaches this region. ``None``:
        the store's metadata, which must cover the region.
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
        source_storage_options: Mapping[str, Any] | None = None,
        store_storage_options: Mapping[str, Any] | None = None,
        coordinates: Mapping[str, np.ndarray] | None = None,
        array_metadata: Mapping[str, Mapping[str, Any]] | None = None,
        keep_shards_on_failure: bool = False,
    ) -> None:
        self.template = template
        self.keep_shards_on_failure = keep_shards_on_failure
        self.array_metadata = dict(array_metadata) if array_metadata is not None else None
        self.store = store
        self.append_dim_end = append_dim_end
        self.data_vars: tuple[DATA_VAR, ...] = tuple(data_vars or template.data_vars)
        self._download_dir = download_dir
        self.source_storage_options: dict[str, Any] = dict(source_storage_options or {})
        self.store_storage_options: dict[str, Any] = dict(store_storage_options or {})
        self._coordinates = dict(coordinates) if coordinates is not None else None
        self.append_dim_length = len(self.coordinates[template.append_dim])
        check_shard_aligned(
            region, template.append_dim_shard_size, self.append_dim_length, template.append_dim
        )
        self.region = region

    @property
    def coordinates(self) -> dict[str, np.ndarray]:
        """The dataset's dimension coordinates up to :attr:`append_dim_end`.

        Computed from the template where first needed (on the client, then once on each
        worker that runs the job's tasks), never pickled: for decades of daily data they are
        megabytes, and the job travels to every worker.
        """
        if self._coordinates is None:
            self._coordinates = dict(self.template.dimension_coordinates(self.append_dim_end))
        return self._coordinates

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_coordinates": None}

    @property
    def download_dir(self) -> Path:
        """Where downloads land: the ``download_dir`` given, else (decided on the worker
        that downloads) ``climaflow.download.directory`` or the system's temporary dir."""
        configured = self._download_dir or config.get("download.directory")
        return Path(configured or Path(tempfile.gettempdir()) / "climaflow-downloads")

    def open_output_store(self) -> Store:
        """The output Zarr store, opened with :attr:`store_storage_options`.

        For a run writing to an Icechunk repository, a private copy of the run's fork per
        call: the caller returns its writes (:func:`climaflow.io.icechunk_stores.task_changes`)
        for the run to merge.
        """
        store = open_store(self.store, storage_options=self.store_storage_options)
        return private_fork(store) if is_fork_store(store) else store

    def open_output_array(self, name: str) -> zarr.Array[Any]:
        """The output array ``name`` for writing, with :attr:`array_metadata` when staged."""
        metadata = None if self.array_metadata is None else self.array_metadata[name]
        return open_array_for_writing(self.open_output_store(), name, metadata)

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
        arguments go to the constructor (``download_dir``, ``source_storage_options``,
        ``store_storage_options``, a subclass's ``source_url``...).
        """
        coordinates = template.dimension_coordinates(append_dim_end)
        length = len(coordinates[template.append_dim])
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
                coordinates=coordinates,
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
        """Transform ``data_array`` in place: deaccumulation, interpolation, then rounding.

        ``data_array`` is one tile: the whole processing region along the append dimension
        and along :attr:`transform_dim`, by one shard's extent along the other dimensions. A
        transform must work point by point along :attr:`transform_dim` (default: the append
        dimension), as these do.
        """
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
        ds = self.template.to_dataset(self.append_dim_end, coordinates=self.coordinates)
        return ds.isel({self.template.append_dim: self.get_processing_region()})

    def shard_selections(self, data_var: DATA_VAR) -> list[tuple[slice, ...]]:
        """Output selections of every shard of ``data_var`` in this job's region."""
        shape = tuple(len(self.coordinates[dim]) for dim in self.template.dims)
        return list(
            shard_selections(
                shape, data_var.encoding.write_block, self.template.append_axis, self.region
            )
        )

    def to_graph(self, job_label: str) -> Delayed:
        """This job's Dask graph, the delayed :class:`~climaflow.reformat.results.JobResult`.

        ``job_label`` makes the keys unique (e.g. dataset, region and a run token); see
        :func:`climaflow.reformat.graph.job_graph`.
        """
        return job_graph(self, job_label)

    def process(self, client: Client | None = None) -> JobResult:
        """Run this job on ``client`` (default: a LocalCluster sized to this machine)."""
        return process_jobs([self], client)[0]
