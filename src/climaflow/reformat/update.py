"""Extending a reformatted store with what its sources published since its last run.

:func:`update` reads where the store ends and what its run records say, and processes:

- every append-dim value after the store's end, up to ``end`` (default: now);
- the values of the last :attr:`~climaflow.reformat.template.Template.update_lookback`
  before the store's end whose latest run left them incomplete (files not yet published),
  unavailable or failed.

Files of complete values are never requested again. Trailing values none of whose files are
available yet are left out of the store (not published as NaN); a value with some files not
yet available is kept, recorded ``incomplete`` and processed again by the next update.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
from distributed import Client

from climaflow.io.stores import StoreLike
from climaflow.reformat.region_job import RegionJob
from climaflow.reformat.results import RegionStatus
from climaflow.reformat.run_record import read_run_records
from climaflow.reformat.runner import ReformatResult, run_regions, stored_length
from climaflow.reformat.template import Template

logger = logging.getLogger(__name__)

#: Region statuses the next update processes again.
_REDO = frozenset({RegionStatus.INCOMPLETE, RegionStatus.UNAVAILABLE, RegionStatus.FAILED})


def update(
    template: Template[Any],
    region_job_class: type[RegionJob[Any, Any]],
    store: StoreLike,
    *,
    end: Any | None = None,
    data_vars: Iterable[str] | None = None,
    client: Client | None = None,
    show_progress: bool = False,
    source_storage_options: Mapping[str, Any] | None = None,
    store_storage_options: Mapping[str, Any] | None = None,
    **job_kwargs: Any,
) -> ReformatResult:
    """Extend ``store`` (made by :func:`~climaflow.reformat.runner.reformat`) up to ``end``.

    Parameters
    ----------
    template, region_job_class
        The dataset integration the store was made with.
    store
        An existing store.
    end
        Where the append dimension may end at most (exclusive); default: now (UTC).
    data_vars
        Variable names; default: every variable the store's runs wrote (all, without
        records).
    client, show_progress, source_storage_options, store_storage_options, job_kwargs
        As for :func:`~climaflow.reformat.runner.reformat`.

    Returns
    -------
    ReformatResult
        With every processed region's status; ``trimmed`` lists the trailing regions left out
        because none of their files is available yet. An up-to-date store gives a result with
        no jobs.

    Raises
    ------
    FileNotFoundError
        When there is no store at ``store``.
    StoreStructureError
        When the store does not match the template.
    """
    length = stored_length(template, store, store_storage_options)
    if length == 0:
        raise FileNotFoundError(
            f"no {template.dataset_id} store at {store}: create it with `climaflow reformat`"
        )
    now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "ns")
    end = template.append_dim_label(now if end is None else end)
    values = template.dimension_coordinates(end)[template.append_dim]
    if len(values) < length:
        raise ValueError(
            f"end {end} is before the end of the store at {store} ({length} values of "
            f"{template.append_dim}): update only extends a store"
        )
    records = read_run_records(store, storage_options=store_storage_options)
    if data_vars is None:
        recorded = {name for record in records for name in record.get("variables", [])}
        data_vars = [var.name for var in template.data_vars if var.name in recorded] or None
    ranges = _to_redo(template, records, length)
    if len(values) > length:
        ranges.append((length, len(values)))
    if not ranges:
        return ReformatResult(template.dataset_id, [])
    result = run_regions(
        template,
        region_job_class,
        store,
        end,
        ranges,
        record={"kind": "update", "end": str(end)},
        trim_unavailable=True,
        keep_shown_on_failure=True,
        data_vars=data_vars,
        client=client,
        show_progress=show_progress,
        source_storage_options=source_storage_options,
        store_storage_options=store_storage_options,
        **job_kwargs,
    )
    _warn_late(template, result, now)
    return result


def _warn_late(template: Template[Any], result: ReformatResult, now: np.datetime64) -> None:
    """Warn about trimmed values older than the template's ``source_latency``: their files
    should be there by now."""
    if template.source_latency is None:
        return
    late = [
        region.first
        for region in result.trimmed
        if np.datetime64(region.first, "ns") + template.source_latency < now
    ]
    if late:
        logger.warning(
            "%s: no source file of %s is available %s after its time; left out of the store",
            template.dataset_id,
            ", ".join(late),
            template.source_latency,
        )


def _to_redo(
    template: Template[Any], records: Iterable[Mapping[str, Any]], length: int
) -> list[tuple[int, int]]:
    """Runs of positions within the lookback whose latest recorded status is not complete.

    Statuses are followed per position, so a later run over the same values with other
    region bounds (another ``shards_per_job``, a shard that grew) replaces them.
    """
    reach = max(0, length - max(template.update_lookback, template.append_dim_shard_size))
    redo = np.zeros(length, dtype=bool)
    for record in records:
        for region in record.get("regions", []):
            if isinstance(region, Mapping):  # records before statuses hold bare positions
                span = slice(max(int(region["start"]), reach), min(int(region["stop"]), length))
                redo[span] = str(region["status"]) in _REDO
    positions = np.flatnonzero(redo)
    runs = np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1)
    return [(int(run[0]), int(run[-1]) + 1) for run in runs if run.size]
