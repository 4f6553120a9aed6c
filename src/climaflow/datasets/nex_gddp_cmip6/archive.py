"""Finding a model's yearly files in a NEX-GDDP-CMIP6 archive, by listing or by probing names.

An archive that can be listed (a local directory, an S3 bucket, an HTTP server with directory
pages) is listed: ``{root}/{model}/{scenario}/{variant}/{variable}/``. One that cannot (the
public bucket's HTTPS endpoint) is probed: every year's file name is tried in each version,
newest first. Either way a year gives exactly one file: its newest version.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import fsspec
from fsspec.implementations.local import LocalFileSystem

from climaflow.datasets.nex_gddp_cmip6.filenames import (
    VERSIONS_NEWEST_FIRST,
    NexGddpFile,
    directory_of,
    newest_versions,
    parse_filename,
)
from climaflow.datasets.nex_gddp_cmip6.models import ModelInfo, resolve_model


@dataclass(frozen=True)
class YearFile:
    """One year's file: its name's fields, where it is, and its size (``None``: unknown)."""

    file: NexGddpFile
    location: str
    size: int | None


def find_year_files(
    root: str,
    model: str,
    scenario: str,
    variable: str,
    years: Iterable[int],
    *,
    variant_label: str | None = None,
    grid_label: str | None = None,
    info: ModelInfo | None = None,
) -> dict[int, YearFile]:
    """The newest file of each of ``years`` that the archive holds, by year.

    The model's labels are ``info`` when given (an earlier result of
    :func:`~climaflow.datasets.nex_gddp_cmip6.models.resolve_model` for this scenario), else
    resolved here (``variant_label``/``grid_label`` win); a given ``grid_label`` also filters
    listed files. Missing years are absent from the result.

    Raises
    ------
    UnknownModelError
        If the model's labels cannot be found.
    """
    root = root.rstrip("/")
    wanted = set(years)
    if info is None:
        info = resolve_model(
            root, model, scenario, variant_label=variant_label, grid_label=grid_label
        )
    fs, root_path = fsspec.core.url_to_fs(root)
    local = isinstance(fs, LocalFileSystem)
    found = _listed(fs, root_path, info, scenario, variable, grid_label)
    if not found and not local:
        found = _probed(fs, root, info, scenario, variable, wanted)
    return {
        file.year: YearFile(file, *found[file])
        for file in newest_versions(found)
        if file.year in wanted
    }


def _listed(
    fs: fsspec.AbstractFileSystem,
    root_path: str,
    info: ModelInfo,
    scenario: str,
    variable: str,
    grid_label: str | None,
) -> dict[NexGddpFile, tuple[str, int | None]]:
    local = isinstance(fs, LocalFileSystem)
    directory = f"{root_path}/{directory_of(info.name, scenario, variable, info.variant_label)}"
    try:
        entries = fs.ls(directory, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except Exception:
        if local:
            raise
        return {}  # a server without directory listings: the caller probes names
    listed = {}
    for entry in entries:
        try:
            file = parse_filename(entry["name"])
        except ValueError:
            continue
        if (file.model, file.scenario, file.variable, file.variant_label) != (
            info.name,
            scenario,
            variable,
            info.variant_label,
        ):
            continue
        if grid_label is None or file.grid_label == grid_label:
            location = entry["name"] if local else fs.unstrip_protocol(entry["name"])
            listed[file] = (location, entry.get("size"))
    return listed


def _probed(
    fs: fsspec.AbstractFileSystem,
    root: str,
    info: ModelInfo,
    scenario: str,
    variable: str,
    years: set[int],
) -> dict[NexGddpFile, tuple[str, int | None]]:
    found = {}
    for year in sorted(years):
        for version in VERSIONS_NEWEST_FIRST:
            file = NexGddpFile(
                info.name,
                scenario,
                variable,
                year,
                version,
                variant_label=info.variant_label,
                grid_label=info.grid_label,
            )
            url = file.url(root)
            try:
                size = fs.info(url).get("size")
            except FileNotFoundError:
                continue
            found[file] = (url, size)
            break
    return found
