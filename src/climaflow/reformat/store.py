"""Opening Zarr v3 stores from paths, URLs or store objects."""

import os
from collections.abc import Iterable

import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, LocalStore

StoreLike = str | os.PathLike[str] | Store


def open_store(store: StoreLike) -> Store:
    """A zarr ``Store`` for a local path, an fsspec URL (``s3://``, ``gs://``...) or a store."""
    if isinstance(store, Store):
        return store
    text = os.fspath(store)
    if "://" in text and not text.startswith("file://"):
        return FsspecStore.from_url(text)
    return LocalStore(text.removeprefix("file://"))


def store_exists(store: StoreLike) -> bool:
    """Whether a Zarr group's root metadata exists in ``store``."""
    return sync(open_store(store).exists("zarr.json"))


def copy_keys(source: Store, destination: Store, keys: Iterable[str] | None = None) -> None:
    """Copy ``keys`` (default: all) from ``source`` to ``destination``, one whole object each."""

    async def copy() -> None:
        names = keys if keys is not None else [key async for key in source.list()]
        for key in names:
            value = await source.get(key, prototype=default_buffer_prototype())
            if value is None:
                raise KeyError(f"{key!r} not found in {source}")
            await destination.set(key, value)

    sync(copy())


def open_array_for_writing(store: StoreLike, name: str) -> zarr.Array:
    """Open array ``name`` for writing whole shards; empty chunks are written, not skipped.

    ``write_empty_chunks=True`` makes a rerun replace every chunk it covers, even one that
    is all fill value, so a rerun's bytes equal the first run's.
    """
    return zarr.open_array(
        store=open_store(store), path=name, mode="r+", config={"write_empty_chunks": True}
    )
