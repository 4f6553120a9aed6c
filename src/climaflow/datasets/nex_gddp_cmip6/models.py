"""The models of NEX-GDDP-CMIP6: variant label, grid label and calendar of each.

The archive's models differ in the CMIP6 member they downscale (``r1i1p1f1``, ``r1i1p1f2``,
``r4i1p1f1``...), in the grid label their files carry (``gn``, ``gr``, ``gr1``, ``gr2``) and
in their calendar (``noleap``/``365_day``, ``standard``/``proleptic_gregorian``, ``360_day``).
This module is the one place climaflow learns them, for the ``nex-gddp-cmip6`` integration and
the normals pipeline alike:

1. labels given by the user (``--variant``, ``--grid``) win;
2. otherwise they are read from the archive's listing: ``{root}/{model}/{scenario}/`` holds
   one folder per variant, and file names carry the grid label;
3. where the archive cannot be listed (an HTTP server without directory pages), the table
   :data:`NEX_GDDP_MODELS` of the real archive is used.

The calendar in the table is what the real files declare; readers always check the calendar
of the files themselves.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from climaflow.datasets.nex_gddp_cmip6.filenames import parse_filename
from climaflow.names import check_path_component


@dataclass(frozen=True)
class ModelInfo:
    """One model of the archive and the labels of its files."""

    name: str
    variant_label: str
    grid_label: str
    calendar: str | None = None


def _table(*rows: tuple[str, str, str, str]) -> dict[str, ModelInfo]:
    return {
        name: ModelInfo(name, variant, grid, calendar) for name, variant, grid, calendar in rows
    }


#: The 35 models of the real archive (NEX-GDDP-CMIP6 v2, 2024): model, variant, grid, calendar.
NEX_GDDP_MODELS: Mapping[str, ModelInfo] = _table(
    ("ACCESS-CM2", "r1i1p1f1", "gn", "proleptic_gregorian"),
    ("ACCESS-ESM1-5", "r1i1p1f1", "gn", "proleptic_gregorian"),
    ("BCC-CSM2-MR", "r1i1p1f1", "gn", "365_day"),
    ("CESM2", "r4i1p1f1", "gn", "noleap"),
    ("CESM2-WACCM", "r3i1p1f1", "gn", "noleap"),
    ("CMCC-CM2-SR5", "r1i1p1f1", "gn", "noleap"),
    ("CMCC-ESM2", "r1i1p1f1", "gn", "noleap"),
    ("CNRM-CM6-1", "r1i1p1f2", "gr", "standard"),
    ("CNRM-ESM2-1", "r1i1p1f2", "gr", "standard"),
    ("CanESM5", "r1i1p1f1", "gn", "365_day"),
    ("EC-Earth3", "r1i1p1f1", "gr", "standard"),
    ("EC-Earth3-Veg-LR", "r1i1p1f1", "gr", "proleptic_gregorian"),
    ("FGOALS-g3", "r3i1p1f1", "gn", "365_day"),
    ("GFDL-CM4", "r1i1p1f1", "gr1", "noleap"),
    ("GFDL-CM4_gr2", "r1i1p1f1", "gr2", "noleap"),
    ("GFDL-ESM4", "r1i1p1f1", "gr1", "noleap"),
    ("GISS-E2-1-G", "r1i1p1f2", "gn", "365_day"),
    ("HadGEM3-GC31-LL", "r1i1p1f3", "gn", "360_day"),
    ("HadGEM3-GC31-MM", "r1i1p1f3", "gn", "360_day"),
    ("IITM-ESM", "r1i1p1f1", "gn", "365_day"),
    ("INM-CM4-8", "r1i1p1f1", "gr1", "365_day"),
    ("INM-CM5-0", "r1i1p1f1", "gr1", "365_day"),
    ("IPSL-CM6A-LR", "r1i1p1f1", "gr", "standard"),
    ("KACE-1-0-G", "r1i1p1f1", "gr", "360_day"),
    ("KIOST-ESM", "r1i1p1f1", "gr1", "365_day"),
    ("MIROC-ES2L", "r1i1p1f2", "gn", "standard"),
    ("MIROC6", "r1i1p1f1", "gn", "standard"),
    ("MPI-ESM1-2-HR", "r1i1p1f1", "gn", "proleptic_gregorian"),
    ("MPI-ESM1-2-LR", "r1i1p1f1", "gn", "proleptic_gregorian"),
    ("MRI-ESM2-0", "r1i1p1f1", "gn", "proleptic_gregorian"),
    ("NESM3", "r1i1p1f1", "gn", "standard"),
    ("NorESM2-LM", "r1i1p1f1", "gn", "noleap"),
    ("NorESM2-MM", "r1i1p1f1", "gn", "noleap"),
    ("TaiESM1", "r1i1p1f1", "gn", "noleap"),
    ("UKESM1-0-LL", "r1i1p1f2", "gn", "360_day"),
)


class UnknownModelError(ValueError):
    """A model that is neither in the archive's listing nor in the table, without labels."""


def list_folders(root: str, relative: str = "", **storage_options: Any) -> list[str] | None:
    """Names of the folders in ``{root}/{relative}``, or ``None`` when it cannot be listed.

    ``None`` means the archive gives no listing there (no such folder, or an HTTP server
    without directory pages); an empty list means a listed, empty folder.
    """
    fs, path = fsspec.core.url_to_fs(
        f"{root.rstrip('/')}/{relative}".rstrip("/"), **storage_options
    )
    try:
        entries = fs.ls(path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception:
        if isinstance(fs, LocalFileSystem):
            raise
        return None
    names = [
        str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
        for entry in entries
        if entry.get("type") == "directory"
    ]
    return sorted(name for name in names if name and not name.startswith("."))


def archive_models(root: str, **storage_options: Any) -> list[str]:
    """The models of the archive at ``root``: its listing, or the table's when unlisted."""
    listed = list_folders(root, **storage_options)
    return listed if listed else sorted(NEX_GDDP_MODELS)


def resolve_model(
    root: str | None,
    model: str,
    scenario: str,
    *,
    variant_label: str | None = None,
    grid_label: str | None = None,
    **storage_options: Any,
) -> ModelInfo:
    """The labels of ``model``'s files: given ones, else the archive's listing, else the table.

    Parameters
    ----------
    root
        Archive root (local path or URL); ``None`` uses the table only.
    model, scenario
        Which model, and a scenario folder to look in for its variant.
    variant_label, grid_label
        Overrides; ``None`` looks them up.

    Raises
    ------
    UnknownModelError
        If a label cannot be found: the model is not in the table and the archive does not
        list it (the message lists the table's models and names the options to give).
    ValueError
        If the listing holds several variants and the table does not say which is the
        archive's.
    """
    check_path_component(model, "model")
    known = NEX_GDDP_MODELS.get(model)
    if root is not None and variant_label is None:
        variant_label = _listed_variant(root, model, scenario, known, storage_options)
    if root is not None and grid_label is None:
        grid_label = _listed_grid(root, model, scenario, variant_label, storage_options)
    variant_label = variant_label or (known.variant_label if known else None)
    grid_label = grid_label or (known.grid_label if known else None)
    if variant_label is None or grid_label is None:
        listed = list_folders(root, **storage_options) if root is not None else None
        in_archive = f" (it has: {', '.join(sorted(listed))})" if listed else ""
        raise UnknownModelError(
            f"model {model!r} is not listed in {root or 'the archive'}{in_archive} and not a "
            f"known NEX-GDDP-CMIP6 model (known: {', '.join(sorted(NEX_GDDP_MODELS))}); check "
            "its name, or give its variant and grid labels (--variant/--grid, or "
            "-o variant_label=... -o grid_label=...)"
        )
    return ModelInfo(model, variant_label, grid_label, known.calendar if known else None)


def _listed_variant(
    root: str,
    model: str,
    scenario: str,
    known: ModelInfo | None,
    storage_options: Mapping[str, Any],
) -> str | None:
    variants = [
        name
        for name in list_folders(root, f"{model}/{scenario}", **storage_options) or []
        if name.startswith("r")
    ]
    if len(variants) <= 1:
        return variants[0] if variants else None
    if known is not None and known.variant_label in variants:
        return known.variant_label
    raise ValueError(
        f"{root}/{model}/{scenario} holds several variants ({', '.join(variants)}); "
        "choose one with --variant"
    )


def _listed_grid(
    root: str,
    model: str,
    scenario: str,
    variant_label: str | None,
    storage_options: Mapping[str, Any],
) -> str | None:
    """The grid label in the first file name found under the variant's variable folders."""
    if variant_label is None:
        return None
    base = f"{root.rstrip('/')}/{model}/{scenario}/{variant_label}"
    for variable in list_folders(base, **storage_options) or []:
        fs, path = fsspec.core.url_to_fs(f"{base}/{variable}", **storage_options)
        try:
            names = fs.ls(path, detail=False)
        except Exception:
            continue
        for name in names:
            try:
                return parse_filename(str(name)).grid_label
            except ValueError:
                continue
    return None
