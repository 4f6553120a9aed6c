"""What NOAA's GFS archive holds for a range of init times: each init's published leads
(``climaflow inventory gfs-forecast``)."""

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from climaflow.datasets.gfs_forecast.source_file_coord import NOAA_GFS_BASE_URL, gfs_file_path
from climaflow.datasets.gfs_forecast.template import GFS_INIT_TIME_FREQUENCY, GFS_LEAD_TIMES_HOURS
from climaflow.io import object_exists

FREQUENCY = pd.Timedelta(GFS_INIT_TIME_FREQUENCY)
COLUMNS = ["init_time", "leads", "of", "complete", "last_lead_hours", "missing_leads_hours"]


def gfs_inventory(
    start: Any,
    end: Any,
    *,
    source_url: str = NOAA_GFS_BASE_URL,
    lead_times_hours: Sequence[int] = GFS_LEAD_TIMES_HOURS,
    storage_options: Mapping[str, Any] | None = None,
    max_requests: int = 16,
) -> pd.DataFrame:
    """One row per init time from ``start`` to ``end`` (exclusive), every 6 hours.

    Columns: ``init_time``, ``leads`` (published: their ``.idx`` inventory exists), ``of``
    (the leads asked for), ``complete``, ``last_lead_hours`` (the longest published; NaN
    when none is) and ``missing_leads_hours`` (text, e.g. ``"123-384"``).

    One HEAD request per (init, lead) ``.idx`` file, ``max_requests`` at a time, through
    :mod:`climaflow.io` (retries, timeouts).
    """
    inits = pd.date_range(
        pd.Timestamp(start).ceil(FREQUENCY), pd.Timestamp(end), freq=FREQUENCY, inclusive="left"
    ).to_numpy(dtype="datetime64[ns]")
    leads = list(lead_times_hours)
    urls = [
        f"{source_url.rstrip('/')}/{gfs_file_path(init, np.timedelta64(lead, 'h'))}.idx"
        for init in inits
        for lead in leads
    ]
    with ThreadPoolExecutor(max_requests) as pool:
        found = list(
            pool.map(lambda url: object_exists(url, storage_options=storage_options), urls)
        )
    rows = []
    for i, init in enumerate(inits):
        published = found[i * len(leads) : (i + 1) * len(leads)]
        present = [lead for lead, ok in zip(leads, published, strict=True) if ok]
        missing = [lead for lead, ok in zip(leads, published, strict=True) if not ok]
        rows.append(
            {
                "init_time": init,
                "leads": len(present),
                "of": len(leads),
                "complete": not missing,
                "last_lead_hours": max(present) if present else np.nan,
                "missing_leads_hours": _runs(missing, leads),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _runs(missing: list[int], leads: list[int]) -> str:
    """Missing leads as runs of consecutive leads of ``leads``: ``"0, 123-384"``."""
    position = {lead: i for i, lead in enumerate(leads)}
    parts: list[list[int]] = []
    for lead in missing:
        if parts and position[lead] == position[parts[-1][-1]] + 1:
            parts[-1].append(lead)
        else:
            parts.append([lead])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in parts)


def inventory(
    source_url: str, *, start: str | None, end: str | None, options: Mapping[str, str]
) -> pd.DataFrame:
    """The registry's entry point: :func:`gfs_inventory` from ``start`` (default: a day
    before ``end``) to ``end`` (default: now, UTC); no options."""
    if options:
        raise ValueError(f"gfs-forecast's inventory takes no options (got {', '.join(options)})")
    stop = pd.Timestamp(end) if end is not None else pd.Timestamp.now("UTC").tz_localize(None)
    first = pd.Timestamp(start) if start is not None else stop - pd.Timedelta("1D")
    return gfs_inventory(first, stop, source_url=source_url)
