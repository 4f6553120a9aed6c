"""Opening Zarr v3 stores from paths, URLs or store objects, in one place.

Local paths (and ``file://``) open as :class:`zarr.storage.LocalStore`; URLs (``s3://``,
``gs://``, ``az://``, ``https://``, ``memory://``) as :class:`zarr.storage.ObjectStore` over an
obstore store rooted at the URL, with climaflow's retries and timeouts and the user's
``storage_options`` (see :mod:`climaflow.io.objects`); ``icechunk://`` and ``icechunk+s3://``
URLs as the tip of an Icechunk repository's ``main`` branch (see
:mod:`climaflow.io.icechunk_stores`).

A run writes through :func:`open_run_output`: straight into a Zarr store, or into a session
of an Icechunk repository that the run commits once.
"""

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import zarr
from zarr.abc.store import Store
from zarr.core.array import AsyncArray
from zarr.core.array_spec import ArrayConfigParams
from zarr.core.buffer import default_buffer_prototype
from zarr.core.metadata import ArrayV3Metadata
from zarr.core.sync import sync
from zarr.storage import LocalStore, ObjectStore, StorePath

from climaflow.io.icechunk_stores import (
    IcechunkRun,
    is_fork_store,
    is_icechunk_store,
    is_icechunk_url,
    read_store,
    repository_exists,
    stage_array_metadata,
)
from climaflow.io.objects import is_local, local_path, open_prefix

StoreLike = str | os.PathLike[str] | Store


def open_store(
    store: StoreLike,
    *,
    storage_options: Mapping[str, Any] | None = None,
    read_only: bool = False,
) -> Store:
    """A zarr ``Store`` for a local path, a URL, or ``store`` itself when it is one.

    Parameters
    ----------
    store
        A path, a URL, or a zarr ``Store`` (returned as is; the options are then unused).
    storage_options
        obstore options for a URL (see :mod:`climaflow.io.objects`).
    read_only
        Open the store read-only.
    """
    if isinstance(store, Store):
        return store
    text = os.fspath(store)
    if is_icechunk_url(text):
        return read_store(text, storage_options)
    if is_local(text):
        return LocalStore(local_path(text), read_only=read_only)
    return ObjectStore(open_prefix(text, storage_options), read_only=read_only)


@contextmanager
def consolidated_metadata() -> Iterator[None]:
    """Write consolidated metadata (one read opens a store, xarray's default) without zarr's
    warning that it is not part of the Zarr v3 specification yet."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", module="zarr")
        yield


def store_exists(store: StoreLike, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether a Zarr group's root metadata exists in ``store``."""
    if is_icechunk_url(store) and not repository_exists(os.fspath(store), storage_options):
        return False
    return sync(open_store(store, storage_options=storage_options).exists("zarr.json"))


class RunOutput(Protocol):
    """Where one ``reformat`` or ``update`` run writes, and how its writes are published.

    Attributes
    ----------
    store
        The store the client reads and writes the metadata through.
    task_store
        What region jobs carry to their tasks and write their shards through.
    transactional
        Whether the run's writes become visible together, at its commit (Icechunk), rather
        than object by object.
    """

    @property
    def transactional(self) -> bool: ...

    @property
    def store(self) -> Store: ...

    @property
    def task_store(self) -> StoreLike: ...

    def merge(self, changes: Iterable[Any]) -> None:
        """Take in the tasks' changes (their results' ``changes``)."""

    def commit(self, message: str, metadata: Mapping[str, Any]) -> str | None:
        """Publish the run's writes at once where the store can; return a version id."""


@dataclass(frozen=True)
class ZarrRunOutput:
    """A plain Zarr store: tasks write their shards into it directly, and the metadata the
    run writes last publishes them (nothing to merge or commit)."""

    store: Store
    task_store: StoreLike
    transactional: bool = False

    def merge(self, changes: Iterable[Any]) -> None:
        pass

    def commit(self, message: str, metadata: Mapping[str, Any]) -> str | None:
        return None


def open_run_output(
    store: StoreLike, storage_options: Mapping[str, Any] | None = None
) -> RunOutput:
    """The :class:`RunOutput` of a run writing to ``store``: an :class:`IcechunkRun` for an
    Icechunk URL (created if absent), else a :class:`ZarrRunOutput`."""
    if is_icechunk_url(store):
        return IcechunkRun(os.fspath(store), storage_options)
    if isinstance(store, Store) and is_icechunk_store(store):
        raise ValueError(
            "give the Icechunk repository's URL (icechunk://PATH or icechunk+s3://BUCKET/PREFIX), "
            "not a session's store: a run opens its own session and commits it"
        )
    return ZarrRunOutput(open_store(store, storage_options=storage_options), store)


def copy_keys(source: Store, destination: Store, keys: Iterable[str] | None = None) -> None:
    """Copy ``keys`` (default: all) from ``source`` to ``destination``, one whole object each.

    Raises
    ------
    KeyError
        When a key is not in ``source``.
    """

    async def copy() -> None:
        names = keys if keys is not None else [key async for key in source.list()]
        for key in names:
            value = await source.get(key, prototype=default_buffer_prototype())
            if value is None:
                raise KeyError(f"{key!r} not found in {source}")
            await destination.set(key, value)

    sync(copy())


def open_array_for_writing(
    store: StoreLike, name: str, metadata: Mapping[str, Any] | None = None
) -> zarr.Array[Any]:
    """Open array ``name`` for writing whole shards; chunks of fill values are written too.

    ``metadata`` is the array's Zarr metadata document to write with instead of the one in
    the store: staged metadata (:meth:`climaflow.reformat.template.Template.stage_metadata`)
    whose shape reaches past the store's, so that shards are written before the store's
    metadata makes them visible. An Icechunk task's fork takes the document into its own
    session first (Icechunk checks chunk indices against it); the run's commit publishes it.

    Writing empty chunks (``write_empty_chunks=True``, set on the opened array: zarr 3.1's
    ``open_array`` drops a ``config`` argument) makes every shard a job writes exist, all-NaN
    ones included: a missing shard is one never written, and a rerun replaces every chunk it
    covers with the same bytes.
    """
    config: ArrayConfigParams = {"write_empty_chunks": True}
    opened = open_store(store)
    if metadata is not None and is_fork_store(opened):
        stage_array_metadata(opened, name, metadata)
        metadata = None
    if metadata is None:
        array = zarr.open_array(store=opened, path=name, mode="r+")
        return array.with_config(config)
    path = StorePath(opened, name)
    return zarr.Array(AsyncArray(ArrayV3Metadata.from_dict(dict(metadata)), path, config=config))
