"""climaflow's I/O layer: the one place that reads or writes bytes outside the process.

- :mod:`~climaflow.io.objects`: objects behind URLs or paths through obstore (whole, byte
  ranges, size, listing, whole-object writes);
- :mod:`~climaflow.io.download`: source files onto the local disk, a few at a time per worker;
- :mod:`~climaflow.io.stores`: Zarr v3 stores;
- :mod:`~climaflow.io.atomic`: atomic writes of local files;
- :mod:`~climaflow.io.settings`: obstore's retries and timeouts from ``climaflow.io.*``;
- :mod:`~climaflow.io.errors`: :class:`DownloadError`, naming the URL and the reason.
"""

from climaflow.io.atomic import atomic_path, write_atomic
from climaflow.io.download import download
from climaflow.io.errors import DownloadError
from climaflow.io.objects import (
    ByteRange,
    is_local,
    list_objects,
    local_path,
    object_exists,
    object_size,
    read_bytes,
    read_ranges,
    save_object,
    write_object,
)
from climaflow.io.stores import StoreLike, open_store

__all__ = [
    "ByteRange",
    "DownloadError",
    "StoreLike",
    "atomic_path",
    "download",
    "is_local",
    "list_objects",
    "local_path",
    "object_exists",
    "object_size",
    "open_store",
    "read_bytes",
    "read_ranges",
    "save_object",
    "write_atomic",
    "write_object",
]
