"""Checking a store: every shard its metadata declares exists and decodes; where data is NaN.

One Dask task per shard (``verify-{var}``) reads the shard whole: a shard torn by a killed
writer fails its checksum here rather than in a user's analysis. The report gives, per
variable, the missing and undecodable shards, the NaN fraction at every append-dim
position, and the source files that failed in the runs recorded next to the store.
"""

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
import zarr
from distributed import Client
from zarr.core.sync import sync

from climaflow.io.stores import StoreLike, open_store
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

    @property
    def ok(self) -> bool:
        """No shard is undecodable, and no variable that was written has missing shards.

        A variable with no shard at all was never written (e.g. a run chose other
        variables): it is reported, not counted as a problem.
        """
        return not any(
            v.corrupt or (v.missing and not v.never_written) for v in self.variables.values()
        )

    def summary(self) -> str:
        """A text table, then the failed source files."""
        lines = [f"{self.store}: {'OK' if self.ok else 'PROBLEMS'}"]
        for report in self.variables.values():
            if report.never_written:
                lines.append(f"  {report.name:<38} never written ({report.shards} shards)")
                continue
            holes = np.flatnonzero(report.nan_fraction > 0)
            lines.append(
                f"  {report.name:<38} shards {report.shards - len(report.missing) - len(report.corrupt)}"
                f"/{report.shards} ok, {len(report.missing)} missing, {len(report.corrupt)} corrupt; "
                f"NaN {float(report.nan_fraction.mean()):.2%}, at {len(holes)} {self.append_dim} positions"
                + (f" (first: {holes[:5].tolist()})" if holes.size else "")
            )
            lines.extend(f"    corrupt shard {index}: {error}" for index, error in report.corrupt)
            lines.extend(f"    missing shard {index}" for index in report.missing)
        if self.failed_files:
            lines.append(f"  {len(self.failed_files)} source files failed in the recorded runs:")
            lines.extend(
                f"    {f['status']}: {f['url']}: {f.get('error')}" for f in self.failed_files
            )
        return "\n".join(lines)


def verify_store(store: StoreLike, client: Client | None = None) -> StoreReport:
    """Check every shard of every data variable of ``store`` (on ``client`` if given)."""
    with xr.open_zarr(open_store(store), chunks=None) as ds:
        names = list(ds.data_vars)
        append_dim = str(ds.attrs.get("append_dim") or next(iter(ds[names[0]].dims)))
        dims = {name: tuple(str(d) for d in ds[name].dims) for name in names}
    group = zarr.open_group(open_store(store), mode="r")
    tasks: dict[Hashable, Any] = {}
    for name in names:
        array = group[name]
        assert isinstance(array, zarr.Array)
        block = array.shards or array.chunks
        axis = dims[name].index(append_dim)
        grid = [range(math.ceil(n / b)) for n, b in zip(array.shape, block, strict=True)]
        for index in itertools.product(*grid):
            tasks[(f"verify-{name}", *index)] = (_check_shard, store, name, index, axis)
    keys = list(tasks)
    if client is not None:
        checks: Sequence[ShardCheck] = client.gather(client.get(tasks, keys, sync=False))
    else:
        checks = [_check_shard(*tasks[key][1:]) for key in keys]

    reports = {}
    for name in names:
        array = group[name]
        assert isinstance(array, zarr.Array)
        axis = dims[name].index(append_dim)
        length = array.shape[axis]
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
        reports[name] = report
    return StoreReport(str(store), append_dim, reports, unresolved_failures(store))


def _check_shard(store: StoreLike, name: str, index: tuple[int, ...], axis: int) -> ShardCheck:
    array = zarr.open_array(open_store(store), path=name, mode="r")
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


def unresolved_failures(store: StoreLike) -> list[Mapping[str, Any]]:
    """Files that failed in a recorded run and did not succeed in a later one."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for record in read_run_records(store):
        for file in record.get("files", []):
            latest[(file.get("variable", ""), file["url"])] = file
    return [f for f in latest.values() if f["status"] != "succeeded"]
