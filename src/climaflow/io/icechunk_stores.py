"""Icechunk repositories as output stores (the ``icechunk`` extra).

``icechunk://PATH`` names a repository on a filesystem (shared by the client and the workers
of a cluster), ``icechunk+s3://BUCKET/PREFIX`` one in S3 or an S3-compatible store, opened
with the same ``storage_options`` as an ``s3://`` Zarr store (obstore's keys:
``aws_endpoint``, ``region``, ``access_key_id``, ``secret_access_key``, ``token``,
``skip_signature``, ``client_options={"allow_http": True}``; credentials come from the
environment when none are given). Readers open the tip of the ``main`` branch.

A run writes through one writable session on ``main`` (:class:`IcechunkRun`): each task
writes into a private fork of it and returns the fork with its result; the run merges the
forks, writes the metadata and makes one commit. A reader sees the commit before the run or
the run's commit, nothing in between, and a run killed before its commit leaves the
repository as it was (its chunks are unreferenced objects, which Icechunk's garbage
collection removes). Two runs committing to the same repository at once: the second's
commit is refused (:class:`CommitConflictError`); on a local filesystem, Icechunk does not
guarantee even that, so run one writer at a time there.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

if TYPE_CHECKING:
    import icechunk

SCHEME = "icechunk://"
S3_SCHEME = "icechunk+s3://"
#: obstore's S3 option keys, as :func:`icechunk.s3_storage` names them.
_S3_OPTIONS = {
    "aws_endpoint": "endpoint_url",
    "aws_endpoint_url": "endpoint_url",
    "endpoint": "endpoint_url",
    "endpoint_url": "endpoint_url",
    "region": "region",
    "aws_region": "region",
    "access_key_id": "access_key_id",
    "aws_access_key_id": "access_key_id",
    "secret_access_key": "secret_access_key",
    "aws_secret_access_key": "secret_access_key",
    "token": "session_token",
    "session_token": "session_token",
    "aws_session_token": "session_token",
    "skip_signature": "anonymous",
}
BRANCH = "main"


class CommitConflictError(RuntimeError):
    """Another writer committed to the repository while a run was writing."""


def is_icechunk_url(store: object) -> TypeGuard[str | os.PathLike[str]]:
    """Whether ``store`` is a string or path naming an Icechunk repository."""
    if not isinstance(store, str | os.PathLike):
        return False
    return os.fspath(store).startswith((SCHEME, S3_SCHEME))


def repository_location(url: str) -> str:
    """Where the repository at ``url`` is: a directory, or ``s3://BUCKET/PREFIX``."""
    if url.startswith(S3_SCHEME):
        return "s3://" + url.removeprefix(S3_SCHEME)
    return url.removeprefix(SCHEME)


def repository_exists(url: str, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether the repository at ``url`` exists."""
    module = _icechunk()
    return bool(module.Repository.exists(_storage(url, storage_options)))


def open_repository(
    url: str, storage_options: Mapping[str, Any] | None = None, *, create: bool = False
) -> icechunk.Repository:
    """The repository at ``url``; with ``create``, a new one where there is none.

    Raises
    ------
    FileNotFoundError
        When there is no repository at ``url`` and ``create`` is false.
    """
    module = _icechunk()
    storage = _storage(url, storage_options)
    if not create and not module.Repository.exists(storage):
        raise FileNotFoundError(f"no Icechunk repository at {url}")
    opener = module.Repository.open_or_create if create else module.Repository.open
    repository: icechunk.Repository = opener(storage)
    return repository


def read_store(url: str, storage_options: Mapping[str, Any] | None = None) -> Store:
    """A read-only store of the tip of ``main`` at ``url``."""
    return open_repository(url, storage_options).readonly_session(branch=BRANCH).store


def private_fork(store: Store) -> Store:
    """A copy of a fork's store whose writes no other task shares.

    A job travels to a worker once and its tasks there share the job object: each task
    writes through its own copy of the run's fork (a fork's copy is a deep copy), never
    through the job's, so that every task returns exactly its own writes.
    """
    copy: Store = pickle.loads(pickle.dumps(store))
    return copy


def is_icechunk_store(store: Store) -> bool:
    """Whether ``store`` is an Icechunk session's store: its writes become visible together,
    at the session's commit."""
    return type(store).__module__.startswith("icechunk.")


def is_fork_store(store: Store) -> bool:
    """Whether ``store`` is an Icechunk fork's store (written by a task, merged by the run)."""
    return is_icechunk_store(store) and bool(getattr(store, "_for_fork", False))


def task_changes(store: Store) -> Any | None:
    """The fork session holding a task's writes through ``store``; ``None`` for other stores."""
    return store.session if is_fork_store(store) else None  # type: ignore[attr-defined]


def stage_array_metadata(store: Store, name: str, metadata: Mapping[str, Any]) -> None:
    """Write array ``name``'s staged metadata into a fork before its chunks.

    Icechunk checks every chunk's index against the array's metadata in the session; the
    fork is private to the task and the run's commit publishes the metadata.
    """
    document = json.dumps(dict(metadata)).encode()
    sync(store.set(f"{name}/zarr.json", default_buffer_prototype().buffer.from_bytes(document)))


class IcechunkRun:
    """One run's writes to an Icechunk repository, published by one commit on ``main``.

    Parameters
    ----------
    url, storage_options
        The repository (created if absent).

    Attributes
    ----------
    store
        The session's store, for the client's reads and its metadata writes.
    """

    transactional = True

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self.repository = open_repository(url, storage_options, create=True)
        self.session = self.repository.writable_session(BRANCH)
        self.store: Store = self.session.store
        self._fork: Any | None = None

    @property
    def task_store(self) -> Store:
        """The store region jobs carry to their tasks: a fork of the session, made before
        the client writes anything into it (a session with changes cannot fork)."""
        if self._fork is None:
            self._fork = self.session.fork()
        fork_store: Store = self._fork.store
        return fork_store

    def merge(self, changes: Iterable[Any]) -> None:
        """Merge the tasks' fork sessions into the run's session."""
        forks = list(changes)
        if self._fork is not None:
            self.session.merge(*forks)

    def commit(self, message: str, metadata: Mapping[str, Any]) -> str | None:
        """Commit the session on ``main``; return the snapshot id (``None``: nothing changed).

        The run goes on in a new session on the commit: :attr:`store` is then its store.

        Raises
        ------
        CommitConflictError
            When another writer committed to ``main`` since the run began: nothing of this
            run is visible.
        """
        if not self.session.has_uncommitted_changes:
            return None
        module = _icechunk()
        try:
            snapshot: str = self.session.commit(message, metadata=dict(metadata))
        except module.ConflictError as error:
            raise CommitConflictError(
                f"another writer committed to {self.url} while this run was writing; nothing "
                f"of this run is published: run it again ({error})"
            ) from error
        self.session = self.repository.writable_session(BRANCH)
        self.store = self.session.store
        self._fork = None
        return snapshot


def _storage(url: str, storage_options: Mapping[str, Any] | None) -> icechunk.Storage:
    """The repository's storage. ``storage_options`` do not apply to a local repository (as
    for a local Zarr store, they are unused); for S3 they are obstore's keys (see above).

    Raises
    ------
    ValueError
        For a URL of another scheme, or S3 options Icechunk does not take.
    """
    module = _icechunk()
    if url.startswith(SCHEME):
        local: icechunk.Storage = module.local_filesystem_storage(
            os.path.abspath(repository_location(url))
        )
        return local
    if not url.startswith(S3_SCHEME):
        raise ValueError(f"{url} is not an Icechunk URL ({SCHEME}PATH or {S3_SCHEME}BUCKET/PREFIX)")
    bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
    s3: icechunk.Storage = module.s3_storage(
        bucket=bucket, prefix=prefix.strip("/"), **_s3_arguments(url, storage_options or {})
    )
    return s3


def _s3_arguments(url: str, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`icechunk.s3_storage`'s keyword arguments for obstore's S3 ``storage_options``."""
    options = dict(storage_options)
    client_options = dict(options.pop("client_options", {}))
    virtual_hosted = str(options.pop("virtual_hosted_style_request", "false")).lower() == "true"
    options.pop("retry_config", None)  # Icechunk retries with its own settings
    unknown = sorted(set(options) - set(_S3_OPTIONS))
    if unknown:
        raise ValueError(f"{url}: storage options {', '.join(unknown)} do not apply to Icechunk")
    arguments: dict[str, Any] = {_S3_OPTIONS[key]: value for key, value in options.items()}
    if "anonymous" in arguments:
        arguments["anonymous"] = str(arguments["anonymous"]).lower() == "true"
    if not arguments.get("anonymous") and "access_key_id" not in arguments:
        arguments["from_env"] = True
    arguments["allow_http"] = str(client_options.get("allow_http", "false")).lower() == "true"
    arguments["force_path_style"] = not virtual_hosted
    return arguments


def _icechunk() -> Any:
    try:
        import icechunk
    except ImportError as error:
        raise ImportError(
            "Icechunk stores need the icechunk package: pip install 'climaflow[icechunk]'"
        ) from error
    if "ICECHUNK_LOG" not in os.environ:
        # Icechunk warns on stdout, at every opening of a local repository, that concurrent
        # commits are unsafe there; a run commits from one process (see the docs).
        icechunk.set_logs_filter("warn,icechunk::storage::object_store=error")
    return icechunk
