"""Atomic writes of local files: a path that exists holds a complete file.

The file is written under a temporary name in the same directory (``{name}.tmp-{uuid}``, so
the rename stays within one file system), flushed to disk with ``fsync`` and renamed over
the target with :func:`os.replace`, which is atomic on POSIX and Windows. On any failure the
temporary file is removed and the target is left as it was.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; publish it on success.

    For writers that need a path (NetCDF, GRIB encoders) or a file of their own.

    Parameters
    ----------
    path
        The target. Its directory is created if needed.

    Yields
    ------
    Path
        A name beside ``path`` that does not exist yet. Write it (and close it) in the block.

    Notes
    -----
    When the block ends without an exception, the temporary file is ``fsync``-ed and renamed
    to ``path`` (replacing any existing file). When it raises, or the temporary file was not
    written, the exception propagates, ``path`` is untouched and no temporary file remains.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        yield temporary
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically; return ``path``.

    See :func:`atomic_path` for the guarantees.
    """
    payload = data.encode() if isinstance(data, str) else data
    with atomic_path(path) as temporary, temporary.open("wb") as out:
        out.write(payload)
    return Path(path)
