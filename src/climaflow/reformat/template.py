"""Declarative descriptions of output datasets and writing their Zarr v3 metadata.

A :class:`Template` says what a dataset looks like (dimensions, coordinates, data
variables, attributes and per-variable encoding) as a function of where its append
dimension ends. Writing the template writes Zarr v3 metadata and coordinate values only;
data arrive later, shard by shard, from region jobs. Extending the append dimension is
writing the template again with a later end: written shards are not touched.
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import dask.array as da
import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec, BloscShuffle
from zarr.core.metadata import ArrayV3Metadata
from zarr.core.sync import sync
from zarr.storage import MemoryStore

from climaflow.io.icechunk_stores import is_icechunk_store
from climaflow.io.stores import (
    StoreLike,
    consolidated_metadata,
    copy_keys,
    open_store,
    store_exists,
)

#: Chunk length along the append dimension of the coordinates that span it (``init_time``,
#: ``valid_time``, ``time``). Fixed, so that extending a store rewrites the last chunk with
#: its first values unchanged: a reader holding the previous metadata still decodes it.
APPEND_COORDINATE_CHUNK = 4096


class StoreStructureError(ValueError):
    """An existing store's structure differs from the template's."""


@dataclass(frozen=True, kw_only=True)
class Encoding:
    """How one array is stored.

    Attributes
    ----------
    dtype
        Stored data type, e.g. ``"float32"``.
    chunks
        Chunk shape: the unit of compression and of reading.
    shards
        Shard shape, a whole multiple of ``chunks`` in every dimension: the unit of storage
        (one object per shard) and of writing. ``None`` stores chunks unsharded.
    fill_value
        Value of never-written elements; NaN for floats.
    compression_level
        Blosc zstd level (byte shuffle), 3 by default: a good speed/ratio balance for
        gridded float32 fields, especially after binary rounding.
    """

    dtype: str
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None = None
    fill_value: float | int = math.nan
    compression_level: int = 3

    def __post_init__(self) -> None:
        if self.shards is not None:
            if len(self.shards) != len(self.chunks):
                raise ValueError(f"shards {self.shards} and chunks {self.chunks} differ in rank")
            if any(s % c for s, c in zip(self.shards, self.chunks, strict=True)):
                raise ValueError(f"shards {self.shards} are not multiples of chunks {self.chunks}")

    @property
    def write_block(self) -> tuple[int, ...]:
        """The shape of one independently written object: the shard, else the chunk."""
        return self.shards if self.shards is not None else self.chunks

    def to_xarray(self) -> dict[str, Any]:
        """This encoding as ``xarray.Dataset.to_zarr`` takes it."""
        encoding: dict[str, Any] = {
            "dtype": self.dtype,
            "chunks": self.chunks,
            "fill_value": self.fill_value,
            "compressors": [
                BloscCodec(
                    cname="zstd", clevel=self.compression_level, shuffle=BloscShuffle.shuffle
                )
            ],
        }
        if self.shards is not None:
            encoding["shards"] = self.shards
        return encoding


@dataclass(frozen=True, kw_only=True)
class ProcessingAttrs:
    """How a variable is transformed between reading and writing.

    Attributes
    ----------
    keep_mantissa_bits
        Binary rounding: float mantissa bits kept (``None``: no rounding). Fewer bits
        compress better; the relative error is at most ``2 ** -(keep_mantissa_bits + 1)``.
    deaccumulate_to_rate
        The source holds totals accumulated since the last reset; store rates per second.
    reset_frequency
        How often the accumulation restarts (e.g. 6 hours for GFS precipitation).
    interpolate_missing
        Fill steps with no data by linear interpolation along the append-dim-like axis.
    """

    keep_mantissa_bits: int | None = None
    deaccumulate_to_rate: bool = False
    reset_frequency: np.timedelta64 | None = None
    interpolate_missing: bool = False


@dataclass(frozen=True, kw_only=True)
class DataVar:
    """One output variable: name, stored encoding, CF attributes and processing."""

    name: str
    encoding: Encoding
    attrs: Mapping[str, Any] = field(default_factory=dict)
    processing: ProcessingAttrs = field(default_factory=ProcessingAttrs)


DATA_VAR = TypeVar("DATA_VAR", bound=DataVar)


@dataclass(frozen=True, kw_only=True)
class Template(ABC, Generic[DATA_VAR]):
    """The declarative description of an output dataset.

    Subclasses are frozen dataclasses that add their own fields (grid size, start of the
    append dimension...) and implement :meth:`dimension_coordinates`.

    Attributes
    ----------
    dataset_id
        Short name, e.g. ``"gfs-forecast"``; used in task names and run records.
    dims
        Dimension names in storage order, shared by every data variable.
    append_dim
        The dimension that grows (``init_time``, ``time``).
    data_vars
        The variables, in output order.
    attrs
        Global attributes.
    coordinate_attrs, coordinate_encoding
        Attributes and xarray encoding of coordinates, by name.
    update_lookback
        How far back :func:`~climaflow.reformat.update.update` goes, in append-dim values
        before the store's end, to process again values its runs left incomplete,
        unavailable or failed (at least one shard).
    source_latency
        How long after its append-dim value (a time) the source publishes all of a value's
        files; ``update`` warns about values it leaves out for want of files older than
        this. ``None``: the source is an archive, not a feed.
    """

    dataset_id: str
    dims: tuple[str, ...]
    append_dim: str
    data_vars: tuple[DATA_VAR, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    coordinate_attrs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    coordinate_encoding: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    update_lookback: int = 1
    source_latency: np.timedelta64 | None = None

    def __post_init__(self) -> None:
        assert self.append_dim in self.dims, f"append_dim {self.append_dim!r} not in {self.dims}"
        axis = self.append_axis
        for var in self.data_vars:
            assert len(var.encoding.chunks) == len(self.dims), (
                f"{var.name}: chunks {var.encoding.chunks} do not match dims {self.dims}"
            )
        sizes = {var.encoding.write_block[axis] for var in self.data_vars}
        assert len(sizes) == 1, (
            f"every variable needs the same shard size along {self.append_dim}, got {sizes}"
        )

    @abstractmethod
    def dimension_coordinates(self, append_dim_end: Any) -> dict[str, np.ndarray]:
        """Coordinate values of every dimension, the append dimension ending before
        ``append_dim_end`` (exclusive)."""

    def derived_coordinates(
        self, dimension_coordinates: Mapping[str, np.ndarray]
    ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Non-dimension coordinates (e.g. ``valid_time``) as ``{name: (dims, values)}``."""
        return {}

    @property
    def append_axis(self) -> int:
        return self.dims.index(self.append_dim)

    @property
    def append_dim_shard_size(self) -> int:
        """Shard length along the append dimension (the same for every variable)."""
        return self.data_vars[0].encoding.write_block[self.append_axis]

    def append_dim_label(self, value: Any) -> Any:
        """``value`` (an ISO string, a datetime...) as a label of the append dimension."""
        return np.datetime64(value, "ns")

    def append_dim_position(self, label: Any, append_dim_end: Any) -> int:
        """The position of the first append-dim value at or after ``label``."""
        values = self.dimension_coordinates(append_dim_end)[self.append_dim]
        return int(np.searchsorted(values, self.append_dim_label(label)))

    def data_var(self, name: str) -> DATA_VAR:
        """The data variable called ``name``; ``KeyError`` listing the known names."""
        for var in self.data_vars:
            if var.name == name:
                return var
        known = ", ".join(var.name for var in self.data_vars)
        raise KeyError(f"unknown variable {name!r} for {self.dataset_id}; known: {known}")

    def to_dataset(
        self, append_dim_end: Any, *, coordinates: Mapping[str, np.ndarray] | None = None
    ) -> xr.Dataset:
        """The whole dataset as lazy arrays of fill values, with coordinates and encoding.

        ``coordinates`` are :meth:`dimension_coordinates` for ``append_dim_end`` when the
        caller has them already.
        """
        coords = dict(coordinates or self.dimension_coordinates(append_dim_end))
        shape = tuple(len(coords[dim]) for dim in self.dims)
        ds = xr.Dataset(coords=coords, attrs={**self.attrs, "append_dim": self.append_dim})
        for name, (dims, values) in self.derived_coordinates(coords).items():
            ds.coords[name] = (dims, values)
        for name, attrs in self.coordinate_attrs.items():
            ds.coords[name].attrs.update(attrs)
        for coordinate in ds.coords.values():
            if self.append_dim in coordinate.dims:
                coordinate.encoding["chunks"] = tuple(
                    APPEND_COORDINATE_CHUNK if dim == self.append_dim else size
                    for dim, size in zip(coordinate.dims, coordinate.shape, strict=True)
                )
        for name, encoding in self.coordinate_encoding.items():
            ds.coords[name].encoding.update(encoding)
        for var in self.data_vars:
            enc = var.encoding
            # Never computed: only shape and dtype are used (the store's chunks and shards
            # come from the encoding). One dask chunk keeps writing the metadata, which
            # builds a graph over the dask chunks, as cheap for decades as for a day.
            data = da.full(shape, enc.fill_value, dtype=enc.dtype, chunks=shape)
            ds[var.name] = xr.Variable(self.dims, data, attrs=dict(var.attrs))
            ds[var.name].encoding = enc.to_xarray()
        return ds

    def write_metadata(
        self,
        store: StoreLike,
        append_dim_end: Any,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> xr.Dataset:
        """Write Zarr v3 metadata and coordinates for the dataset ending at ``append_dim_end``.

        :meth:`stage_metadata`, then :meth:`publish_metadata`: creates the store, or extends
        (never shrinks) an existing one along the append dimension. Data shards already
        written are left untouched. ``storage_options`` open a store given as a URL
        (credentials, endpoint, retries: see :func:`climaflow.io.open_store`); they are
        unused for a local path or a ``Store``.

        Returns
        -------
        The template dataset (lazy) that now describes the store.

        Raises
        ------
        StoreStructureError
            When the existing store differs from the template in anything but the append
            dimension's length (dims, dtype, chunks, shards, codecs, fill value, other
            dimensions' sizes), or would shrink.
        """
        staged = self.stage_metadata(store, append_dim_end, storage_options=storage_options)
        self.publish_metadata(staged, store, storage_options=storage_options)
        return staged.dataset

    def stage_metadata(
        self,
        store: StoreLike,
        append_dim_end: Any,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> "StagedMetadata":
        """The metadata and coordinates for ``append_dim_end``, in memory, checked against
        ``store`` but not written to it.

        Region jobs write their shards with the staged arrays' metadata, into keys that
        readers of the store's current metadata do not see; :meth:`publish_metadata` then
        makes them visible.

        Raises
        ------
        StoreStructureError
            As :meth:`write_metadata`, before anything is written.
        """
        ds = self.to_dataset(append_dim_end)
        staged = MemoryStore()
        with consolidated_metadata():
            ds.to_zarr(staged, mode="w", compute=False, zarr_format=3, consolidated=True)
        target = open_store(store, storage_options=storage_options)
        if store_exists(target):
            check_compatible(
                zarr.open_group(target, mode="r"), zarr.open_group(staged, mode="r"), self
            )
        return StagedMetadata(staged, ds)

    def publish_metadata(
        self,
        staged: "StagedMetadata",
        store: StoreLike,
        *,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Write staged metadata into ``store``: coordinate chunks first, then each array's
        metadata, and the root's consolidated metadata last.

        Every object is written whole. A reader of the consolidated metadata (xarray's
        default) sees the old dataset until the last write and the new one after it:
        coordinate chunks along the append dimension have a fixed length
        (:data:`APPEND_COORDINATE_CHUNK`), so old metadata reads an extended chunk's first
        values unchanged, and chunks past the old end are invisible to it. An Icechunk
        session's writes are all visible at its commit: there the order is the one Icechunk
        takes (the group, the arrays, their chunks).
        """
        target = open_store(store, storage_options=storage_options)
        keys = sync(_list_keys(staged.store))
        arrays = [key for key in keys if key.endswith("/zarr.json")]
        chunks = [key for key in keys if not key.endswith("zarr.json")]
        if is_icechunk_store(target):
            # Visible at the session's commit, all together; Icechunk takes chunks of
            # arrays that exist only.
            copy_keys(staged.store, target, ["zarr.json", *arrays, *chunks])
        else:
            copy_keys(staged.store, target, [*chunks, *arrays, "zarr.json"])


async def _list_keys(store: MemoryStore) -> list[str]:
    return sorted([key async for key in store.list()])


@dataclass(frozen=True)
class StagedMetadata:
    """A template's metadata for one end of the append dimension, held in memory.

    Attributes
    ----------
    store
        The metadata and coordinate chunks (no data).
    dataset
        The template dataset (lazy) they describe.
    """

    store: MemoryStore
    dataset: xr.Dataset

    def array_metadata(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The Zarr metadata documents (``zarr.json``) of arrays ``names``, by name."""
        group = zarr.open_group(self.store, mode="r")
        documents = {}
        for name in names:
            array = group[name]
            assert isinstance(array, zarr.Array), f"{name} is not an array of the template"
            documents[name] = array.metadata.to_dict()
        return documents


def check_compatible(existing: zarr.Group, staged: zarr.Group, template: Template[Any]) -> None:
    """Raise :class:`StoreStructureError` listing how ``existing`` differs from ``staged``."""
    problems: list[str] = []
    for name, new in staged.arrays():
        if name not in existing:
            continue  # a variable or coordinate added to the template
        old = existing[name]
        assert isinstance(old, zarr.Array)
        problems.extend(_differences(name, old, new, template))
    if problems:
        store_name = str(existing.store)
        raise StoreStructureError(
            f"the store at {store_name} does not match the {template.dataset_id} template: "
            + "; ".join(problems)
            + ". Write to a new store, or re-create this one."
        )


def _differences(
    name: str, old: zarr.Array[Any], new: zarr.Array[Any], template: Template[Any]
) -> list[str]:
    # Both arrays were written from a template, in Zarr format 3.
    assert isinstance(old.metadata, ArrayV3Metadata) and isinstance(new.metadata, ArrayV3Metadata)
    old_dims: Sequence[Hashable] = old.metadata.dimension_names or ()
    new_dims: Sequence[Hashable] = new.metadata.dimension_names or ()
    if tuple(old_dims) != tuple(new_dims):
        return [f"{name}: dims {tuple(old_dims)} in the store, {tuple(new_dims)} in the template"]
    found = []
    if old.dtype != new.dtype:
        found.append(f"{name}: dtype {old.dtype} in the store, {new.dtype} in the template")
    for dim, old_size, new_size in zip(new_dims, old.shape, new.shape, strict=True):
        if dim == template.append_dim and new_size < old_size:
            found.append(f"{name}: {dim} would shrink from {old_size} to {new_size}")
        elif dim != template.append_dim and new_size != old_size:
            found.append(
                f"{name}: {dim} has {old_size} values in the store, {new_size} in the template"
            )
    is_data_var = name in {var.name for var in template.data_vars}
    if is_data_var:
        for what in ("chunks", "shards"):
            if getattr(old, what) != getattr(new, what):
                found.append(
                    f"{name}: {what} {getattr(old, what)} in the store, "
                    f"{getattr(new, what)} in the template"
                )
        old_codecs = old.metadata.to_dict()["codecs"]
        new_codecs = new.metadata.to_dict()["codecs"]
        if old_codecs != new_codecs:
            found.append(f"{name}: codecs differ between the store and the template")
        if not _same_fill(old.metadata.fill_value, new.metadata.fill_value):
            found.append(
                f"{name}: fill value {old.metadata.fill_value} in the store, "
                f"{new.metadata.fill_value} in the template"
            )
    return found


def _same_fill(a: Any, b: Any) -> bool:
    return bool(a == b or (np.isnan(a) and np.isnan(b)))
