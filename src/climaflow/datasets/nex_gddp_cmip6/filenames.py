"""File names and directory layout of the NEX-GDDP-CMIP6 archive.

The archive holds one NetCDF file per model, scenario, variable and year::

    {root}/{model}/{scenario}/{variant}/{variable}/
        {variable}_day_{model}_{scenario}_{variant}_{grid}_{year}[_v1.1|_v2.0].nc

A year may exist in several versions (the original release has no suffix; revisions add
``_v1.1``, ``_v2.0``...). Exactly one file per year is ever used: the newest.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from climaflow.names import check_path_component

DEFAULT_BASE_URL = "https://nex-gddp-cmip6.s3-us-west-2.amazonaws.com/NEX-GDDP-CMIP6"
DEFAULT_VARIANT_LABEL = "r1i1p1f1"
#: Versions of a year's file, newest first; the first that exists is the one used.
VERSIONS_NEWEST_FIRST: tuple[str | None, ...] = ("v2.0", "v1.1", None)
DEFAULT_GRID_LABEL = "gn"

# Grid labels are CMIP6's: gn (native), gr, gr1, gr2... (regridded).
_FILENAME = re.compile(
    r"^(?P<variable>[A-Za-z]+)_day_(?P<model>.+)_(?P<scenario>[^_]+)"
    r"_(?P<variant>r\d+i\d+p\d+f\d+)_(?P<grid>g[a-z]+\d*)_(?P<year>\d{4})"
    r"(?:_(?P<version>v\d+\.\d+))?\.nc$"
)
_VERSION = re.compile(r"^v(\d+)\.(\d+)$")


@dataclass(frozen=True)
class NexGddpFile:
    """One yearly file of the archive.

    ``version`` is ``None`` for the original release and ``"v1.1"``, ``"v2.0"``... for
    revisions, as in the file name.
    """

    model: str
    scenario: str
    variable: str
    year: int
    version: str | None = None
    variant_label: str = DEFAULT_VARIANT_LABEL
    grid_label: str = DEFAULT_GRID_LABEL

    def __post_init__(self) -> None:
        for value, what in (
            (self.model, "model"),
            (self.scenario, "scenario"),
            (self.variable, "variable"),
            (self.variant_label, "variant label"),
            (self.grid_label, "grid label"),
        ):
            check_path_component(value, what)
        if self.version is not None:
            version_key(self.version)  # validates

    @property
    def filename(self) -> str:
        """The file's name, e.g. ``tas_day_NorESM2-LM_ssp245_r1i1p1f1_gn_2050_v1.1.nc``."""
        suffix = f"_{self.version}" if self.version else ""
        return (
            f"{self.variable}_day_{self.model}_{self.scenario}_{self.variant_label}"
            f"_{self.grid_label}_{self.year}{suffix}.nc"
        )

    @property
    def directory(self) -> str:
        """The folder of the file relative to the archive root (``/``-separated)."""
        return directory_of(self.model, self.scenario, self.variable, self.variant_label)

    @property
    def relative_path(self) -> str:
        """``{directory}/{filename}``, relative to the archive root."""
        return f"{self.directory}/{self.filename}"

    def path(self, root: str | Path) -> Path:
        """The file's path under a local archive root."""
        return Path(root) / self.relative_path

    def url(self, root: str = DEFAULT_BASE_URL) -> str:
        """The file's URL under an archive URL (the public bucket by default)."""
        return f"{root.rstrip('/')}/{self.relative_path}"

    def with_version(self, version: str | None) -> "NexGddpFile":
        """The same year in another version."""
        return replace(self, version=version)


def directory_of(
    model: str, scenario: str, variable: str, variant_label: str = DEFAULT_VARIANT_LABEL
) -> str:
    """``{model}/{scenario}/{variant}/{variable}``: where a variable's yearly files live."""
    return f"{model}/{scenario}/{variant_label}/{variable}"


def parse_filename(name: str) -> NexGddpFile:
    """Parse a file name (or path: only its last part is read) into a :class:`NexGddpFile`.

    Raises
    ------
    ValueError
        If the name does not follow the archive's naming scheme.
    """
    basename = str(name).rsplit("/", 1)[-1]
    match = _FILENAME.match(basename)
    if match is None:
        raise ValueError(
            f"{basename!r} is not a NEX-GDDP-CMIP6 file name "
            "({variable}_day_{model}_{scenario}_{variant}_{grid}_{year}[_vN.N].nc)"
        )
    return NexGddpFile(
        model=match["model"],
        scenario=match["scenario"],
        variable=match["variable"],
        year=int(match["year"]),
        version=match["version"],
        variant_label=match["variant"],
        grid_label=match["grid"],
    )


def version_key(version: str | None) -> tuple[int, int]:
    """Sort key of a version: the original release ``None`` is ``(0, 0)``, ``"v1.1"`` is ``(1, 1)``."""
    if version is None:
        return (0, 0)
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a NEX-GDDP-CMIP6 version (expected e.g. 'v1.1')")
    return (int(match[1]), int(match[2]))


def newest_versions(files: Iterable[NexGddpFile]) -> list[NexGddpFile]:
    """Keep the newest version of every (model, scenario, variable, variant, grid, year).

    Returns the kept files sorted by model, scenario, variable and year: never two files for
    the same year.
    """
    newest: dict[tuple[str, str, str, str, str, int], NexGddpFile] = {}
    for file in files:
        key = (
            file.model,
            file.scenario,
            file.variable,
            file.variant_label,
            file.grid_label,
            file.year,
        )
        kept = newest.get(key)
        if kept is None or version_key(file.version) > version_key(kept.version):
            newest[key] = file
    return [newest[key] for key in sorted(newest)]
