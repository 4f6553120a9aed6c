"""What a NEX-GDDP-CMIP6 archive holds: per model, scenario and variable, its labels, calendar
and years (``climaflow inventory nex-gddp-cmip6``)."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import fsspec
import pandas as pd

from climaflow.datasets.nex_gddp_cmip6.filenames import (
    DEFAULT_BASE_URL,
    NexGddpFile,
    newest_versions,
    parse_filename,
    version_key,
)
from climaflow.datasets.nex_gddp_cmip6.models import NEX_GDDP_MODELS, list_folders

#: The public archive as fsspec lists it (anonymously; needs s3fs, the ``s3`` extra).
LISTABLE_BASE_URL = "s3://nex-gddp-cmip6/NEX-GDDP-CMIP6"
COLUMNS = [
    "model",
    "scenario",
    "variable",
    "variant_label",
    "grid_label",
    "calendar",
    "first_year",
    "last_year",
    "years",
    "missing_years",
    "newest_version",
]


def nex_gddp_inventory(
    root: str = DEFAULT_BASE_URL,
    *,
    models: Iterable[str] | None = None,
    **storage_options: Any,
) -> pd.DataFrame:
    """One row per (model, scenario, variable, variant, grid) of the archive at ``root``.

    Columns: ``model``, ``scenario``, ``variable``, ``variant_label``, ``grid_label``,
    ``calendar`` (the model's, from climaflow's table of NEX-GDDP-CMIP6 models, which is what
    the real files declare; empty when the model is not in it), ``first_year``, ``last_year``, ``years`` (files present, the
    newest version of each), ``missing_years`` (gaps between the first and last, as text,
    e.g. ``"1990, 2001-2003"``) and ``newest_version`` (of any year; empty: the original
    release).

    Reads directory listings only (``{root}/{model}/{scenario}/{variant}/{variable}/``).

    Parameters
    ----------
    root
        The archive's root: a local path, ``s3://...``, or an HTTP server with directory
        pages. (The public bucket's HTTPS endpoint gives no listing: use
        ``s3://nex-gddp-cmip6/NEX-GDDP-CMIP6`` with ``anon=True``.)
    models
        Models to list (default: every folder of the root).
    storage_options
        fsspec options for listing (e.g. ``anon=True`` for the public S3 bucket).

    Raises
    ------
    FileNotFoundError
        When ``root`` cannot be listed, or lists none of ``models``.
    """
    root = root.rstrip("/")
    listed = list_folders(root, **storage_options)
    if listed is None:
        raise FileNotFoundError(
            f"cannot list {root}: give a local path, an s3:// URL (the public archive: "
            "s3://nex-gddp-cmip6/NEX-GDDP-CMIP6 with anon=True) or a server with directory pages"
        )
    wanted = list(models) if models is not None else listed
    unknown = sorted(set(wanted) - set(listed))
    if unknown:
        raise FileNotFoundError(
            f"{root} has no model {', '.join(unknown)} (it has: {', '.join(listed) or 'none'})"
        )
    fs, root_path = fsspec.core.url_to_fs(root, **storage_options)
    rows = []
    for model in wanted:
        files = [_parsed(path) for path in fs.find(f"{root_path}/{model}", maxdepth=4)]
        rows.extend(_rows(model, [file for file in files if file is not None]))
    return pd.DataFrame(rows, columns=COLUMNS)


def _parsed(path: str) -> NexGddpFile | None:
    try:
        return parse_filename(path)
    except ValueError:
        return None


def _rows(model: str, files: list[NexGddpFile]) -> list[dict[str, Any]]:
    by_series: dict[tuple[str, str, str, str], list[NexGddpFile]] = defaultdict(list)
    for file in files:
        key = (file.scenario, file.variable, file.variant_label, file.grid_label)
        by_series[key].append(file)
    known = NEX_GDDP_MODELS.get(model)
    rows = []
    for (scenario, variable, variant, grid), series in sorted(by_series.items()):
        newest = newest_versions(series)
        years = sorted(file.year for file in newest)
        rows.append(
            {
                "model": model,
                "scenario": scenario,
                "variable": variable,
                "variant_label": variant,
                "grid_label": grid,
                "calendar": (known.calendar or "") if known else "",
                "first_year": years[0],
                "last_year": years[-1],
                "years": len(years),
                "missing_years": _ranges(sorted(set(range(years[0], years[-1] + 1)) - set(years))),
                "newest_version": max((f.version for f in newest), key=version_key) or "",
            }
        )
    return rows


def _ranges(years: list[int]) -> str:
    """``[1990, 2001, 2002, 2003]`` as ``"1990, 2001-2003"``."""
    parts: list[str] = []
    for year in years:
        if parts and parts[-1].split("-")[-1] == str(year - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{year}"
        else:
            parts.append(str(year))
    return ", ".join(parts)


def inventory(
    source_url: str, *, start: str | None, end: str | None, options: Mapping[str, str]
) -> pd.DataFrame:
    """The registry's entry point: :func:`nex_gddp_inventory` of ``source_url``; option
    ``model`` (comma-separated) restricts the models, other options are fsspec's storage
    options (``anon=true``)."""
    if start is not None or end is not None:
        raise ValueError("nex-gddp-cmip6's inventory lists whole series: no --start/--end")
    settings = dict(options)
    models = settings.pop("model", None)
    storage = {key: _option_value(value) for key, value in settings.items()}
    if source_url.rstrip("/") == DEFAULT_BASE_URL:
        # The public bucket's HTTPS endpoint gives no listing; its S3 address does.
        source_url = LISTABLE_BASE_URL
        storage.setdefault("anon", True)
    return nex_gddp_inventory(source_url, models=models.split(",") if models else None, **storage)


def _option_value(text: str) -> Any:
    """``"true"``/``"false"`` as booleans; other text as is."""
    return {"true": True, "false": False}.get(text.lower(), text)
