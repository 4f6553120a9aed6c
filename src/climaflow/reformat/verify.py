"""Checking a store: every shard its runs wrote exists and decodes; where data is NaN.

One Dask task per shard (``verify-{var}``) reads the shard whole: a shard torn by a killed
writer fails its checksum here rather than in a user's analysis. Only the append-dim range
the store's recorded runs wrote is checked (a store begun at a late ``--start`` has
thousands of never-written values before it); without run records, all of it. The report
gives, per variable, the missing and undecodable shards, the NaN fraction at every
append-dim position and the values that are NaN everywhere (named by their label, e.g. the
ISO init time), the source files that failed in the recorded runs, and, when asked, whether
the latest value is recent enough.
"""

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import xarray as xr
import zarr
from distributed import Client
from zarr.core.sync import sync

from climaflow.io.stores import StoreLike, open_store
from climaflow.progress import show_task_progress
from climaflow.reformat.results import append_label
from climaflow.reformat.run_record import read_run_records


@dataclass(frozen=True)
class ShardCheck:
    """One shard: ``ok``, ``missing`` or ``corrupt``, and its NaN counts per append position."""

    variable: str
    index: tuple[int, ...]
    status: str
    error: str | None = None
    append_start: int = 0
    nan_counts: tuple[int, ...] = ()
    value_counts: tuple[int, ...] = ()


@dataclass
class VariableReport:
    """A variable's shards and NaN fraction by position along the append dimension."""

    name: str
    shards: int = 0
    missing: list[tuple[int, ...]] = field(default_factory=list)
    corrupt: list[tuple[tuple[int, ...], str]] = field(default_factory=list)
    nan_fraction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Labels of the append-dim values, within the checked range, that are NaN everywhere.
    empty: list[str] = field(default_factory=list)
    #: For values of :attr:`empty`, the recorded files of this variable that failed there.
    empty_because: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)

    @property
    def never_written(self) -> bool:
        """No shard of this variable exists."""
        return self.shards > 0 and len(self.missing) == self.shards


@dataclass
class StoreReport:
    """The result of :func:`verify_store`."""

    store: str
    append_dim: str
    variables: dict[str, VariableReport]
    failed_files: list[Mapping[str, Any]]
    #: The checked append-dim range (labels of its first and last value), ``None``: all.
    checked: tuple[str, str] | None = None
    #: The latest append-dim value, and why it is too old when ``max_age`` was given.
    latest: str = ""
    stale: str | None = None

    @property
    def ok(self) -> bool:
        """No shard is undecodable, no variable that was written has missing shards or
        values NaN everywhere, and the latest value is recent enough (when asked).

        A variable with no shard at all was never written (e.g. a run chose other
        variables): it is reported, not counted as a problem.
        """
        return self.stale is None and not any(
            v.corrupt or (not v.never_written and (v.missing or v.empty))
            for v in self.variables.values()
        )

    def summary(self) -> str:
        """A text table, then the failed source files."""
        lines = [f"{self.store}: {'OK' if self.ok else 'PROBLEMS'}"]
        if self.checked is not None:
            lines.append(f"  checked {self.append_dim} {self.checked[0]} to {self.checked[1]}")
        for report in self.variables.values():
            if report.never_written:
                lines.append(f"  {report.name:<38} never written ({report.shards} shards)")
                continue
            lines.append(
                f"  {report.name:<38} shards {report.shards - len(report.missing) - len(report.corrupt)}"
                f"/{report.shards} ok, {len(report.missing)} missing, {len(report.corrupt)} corrupt; "
                f"NaN {float(report.nan_fraction.mean()):.2%}"
            )
            if report.empty:
                shown = ", ".join(report.empty[:5]) + (", ..." if len(report.empty) > 5 else "")
                lines.append(
                    f"    NaN everywhere at {len(report.empty)} {self.append_dim} values: {shown}"
                )
                for label, files in report.empty_because.items():
                    lines.extend(f"      {label}: {f['status']}: {f['url']}" for f in files)
            lines.extend(f"    corrupt shard {index}: {error}" for index, error in report.corrupt)
            lines.extend(f"    missing shard {index}" for index in report.missing)
        if self.stale is not None:
            lines.append(f"  {self.stale}")
        if self.failed_files:
            lines.append(f"  {len(self.failed_files)} source files failed in the recorded runs:")
            lines.extend(
                f"    {f['status']}: {f['url']}: {f.get('error')}" for f in self.failed_files
            )
        return "\n".join(lines)


def verify_store(
    store: StoreLike,
    client: Client | None = None,
    *,
    max_age: np.timedelta64 | None = None,
    now: np.datetime64 | None = None,
    show_progress: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> StoreReport:
    """Check every shard of every data variable that the store's runs wrote.

    Parameters
    ----------
    store
        The store (its run records, beside it, give the range its runs wrote).
    client
        Check the shards on this cluster (default: in this process).
    max_age
        When given, the latest append-dim value (a time) must be at most this old.
    now
        The time ``max_age`` counts from (default: now, UTC).
    show_progress
        Show the checks' progress (:func:`climaflow.progress.show_task_progress`).
    storage_options
        Options for opening ``store`` and its run records when it is a URL (see
        :func:`climaflow.io.open_store`); the checks on the workers use them too.
    """
    options = dict(storage_options or {})
    with xr.open_zarr(open_store(store, storage_options=options), chunks=None) as ds:
        names = list(ds.data_vars)
        append_dim = str(ds.attrs.get("append_dim") or next(iter(ds[names[0]].dims)))
        dims = {name: tuple(str(d) for d in ds[name].dims) for name in names}
        append_values = ds[append_dim].values
    labels = [append_label(value) for value in append_values]
    written = written_positions(store, len(labels), storage_options=options)
    group = zarr.open_group(open_store(store, storage_options=options), mode="r")
    tasks: dict[Hashable, Any] = {}
    for name in names:
        array = group[name]
        assert isinstance(array, zarr.Array)
        block = array.shards or array.chunks
        axis = dims[name].index(append_dim)
        grid = [range(math.ceil(n / b)) for n, b in zip(array.shape, block, strict=True)]
        for index in itertools.product(*grid):
            span = slice(index[axis] * block[axis], (index[axis] + 1) * block[axis])
            if written[span].any():
                tasks[(f"verify-{name}", *index)] = (
                    partial(_check_shard, storage_options=options),
                    store,
                    name,
                    index,
                    axis,
                )
    keys = list(tasks)
    if client is not None:
        futures = client.get(tasks, keys, sync=False)
        if show_progress:
            show_task_progress(futures)
        checks: Sequence[ShardCheck] = client.gather(futures)
    else:
        checks = [tasks[key][0](*tasks[key][1:]) for key in keys]

    reports = {name: _variable_report(name, checks, written, labels) for name in names}
    failed_files = unresolved_failures(store, storage_options=options)
    for report in reports.values():
        report.empty_because = _failures_at(report, failed_files, append_dim)
    checked = None
    if not written.all() and written.any():
        positions = np.flatnonzero(written)
        checked = (labels[positions[0]], labels[positions[-1]])
    return StoreReport(
        str(store),
        append_dim,
        reports,
        failed_files,
        checked=checked,
        latest=labels[-1] if labels else "",
        stale=_staleness(append_dim, append_values, max_age, now),
    )


def _variable_report(
    name: str, checks: Sequence[ShardCheck], written: np.ndarray, labels: Sequence[str]
) -> VariableReport:
    length = len(labels)
    nans, values = np.zeros(length), np.zeros(length)
    report = VariableReport(name)
    for check in (c for c in checks if c.variable == name):
        report.shards += 1
        if check.status == "missing":
            report.missing.append(check.index)
        elif check.status == "corrupt":
            report.corrupt.append((check.index, check.error or ""))
        span = slice(check.append_start, check.append_start + len(check.nan_counts))
        nans[span] += check.nan_counts
        values[span] += check.value_counts
    report.nan_fraction = np.divide(nans, values, out=np.ones(length), where=values > 0)
    everywhere = written & (values > 0) & (nans == values)
    report.empty = [labels[int(position)] for position in np.flatnonzero(everywhere)]
    return report


def _failures_at(
    report: VariableReport, failed_files: Sequence[Mapping[str, Any]], append_dim: str
) -> dict[str, list[Mapping[str, Any]]]:
    """The failed files of the report's variable whose data go to one of its empty values
    (files whose place along the append dimension is one value: a GFS init, a day)."""
    empty = set(report.empty)
    found: dict[str, list[Mapping[str, Any]]] = {}
    for file in failed_files:
        place = file.get("out_loc", {}).get(append_dim)
        if file.get("variable") != report.name or place is None:
            continue
        try:
            label = append_label(np.datetime64(place))
        except ValueError:
            label = str(place)
        if label in empty:
            found.setdefault(label, []).append(file)
    return found


def written_positions(
    store: StoreLike, length: int, *, storage_options: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Which append-dim positions the store's recorded runs wrote (all, without records)."""
    written = np.zeros(length, dtype=bool)
    records = read_run_records(store, storage_options=storage_options)
    for record in records:
        for region in record.get("regions", []):
            start, stop = (
                (region["start"], region["stop"]) if isinstance(region, Mapping) else region
            )
            written[int(start) : int(stop)] = True
    return written if records else np.ones(length, dtype=bool)


def _staleness(
    append_dim: str,
    values: np.ndarray,
    max_age: np.timedelta64 | None,
    now: np.datetime64 | None,
) -> str | None:
    """Why the latest value is too old, or ``None``."""
    if max_age is None:
        return None
    latest = _as_datetime64(values[-1]) if values.size else None
    if latest is None:
        return f"no time along {append_dim} to compare with --max-age"
    now = now if now is not None else np.datetime64(datetime.now(UTC).replace(tzinfo=None), "ns")
    age = now - latest
    if age <= max_age:
        return None
    hours = age / np.timedelta64(1, "h")
    return (
        f"latest {append_dim} {append_label(values[-1])} is {hours:.1f} hours old, "
        f"more than {max_age / np.timedelta64(1, 'h'):g} hours"
    )


def _as_datetime64(value: Any) -> np.datetime64 | None:
    """A time as ``datetime64`` (cftime dates of real days too); ``None`` if it is none."""
    if isinstance(value, np.datetime64):
        return value
    try:
        text = str(value.isoformat())
    except AttributeError:  # not a time
        return None
    try:
        return np.datetime64(text)
    except ValueError:  # a day real calendars lack (30 February of a 360_day calendar)
        return None


def _check_shard(
    store: StoreLike,
    name: str,
    index: tuple[int, ...],
    axis: int,
    *,
    storage_options: Mapping[str, Any],
) -> ShardCheck:
    array = zarr.open_array(open_store(store, storage_options=storage_options), path=name, mode="r")
    block = array.shards or array.chunks
    key = f"{name}/{array.metadata.encode_chunk_key(index)}"
    if not sync(array.store.exists(key)):
        return ShardCheck(name, index, "missing")
    selection = tuple(
        slice(i * b, min((i + 1) * b, n)) for i, b, n in zip(index, block, array.shape, strict=True)
    )
    try:
        values = array[selection]
    except Exception as error:
        return ShardCheck(name, index, "corrupt", error=f"{type(error).__name__}: {error}")
    assert isinstance(values, np.ndarray)  # a selection of slices reads an array, not a scalar
    other_axes = tuple(a for a in range(values.ndim) if a != axis)
    per_position = values.size // max(values.shape[axis], 1)
    return ShardCheck(
        name,
        index,
        "ok",
        append_start=selection[axis].start,
        nan_counts=tuple(int(n) for n in np.isnan(values).sum(axis=other_axes)),
        value_counts=(per_position,) * values.shape[axis],
    )


def unresolved_failures(
    store: StoreLike, *, storage_options: Mapping[str, Any] | None = None
) -> list[Mapping[str, Any]]:
    """Files that failed in a recorded run and did not succeed in a later one."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for record in read_run_records(store, storage_options=storage_options):
        for file in record.get("files", []):
            latest[(file.get("variable", ""), file["url"])] = file
    return [f for f in latest.values() if f["status"] != "succeeded"]
