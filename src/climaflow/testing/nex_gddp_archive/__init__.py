"""A small synthetic NEX-GDDP-CMIP6 archive: same names, layout, format and metadata as the real one.

No machine that runs the tests reaches the public bucket, so this package writes real NetCDF4
files (with ``netCDF4``) that look like NEX-GDDP-CMIP6's: one file per model, scenario,
variable and year, CF time ``days since 1950-01-01`` at noon with ``time_bnds``, ``lat``/``lon``
with bounds, float32 data compressed with zlib and chunked by day, the archive's variable and
global attributes. The grid is the real 0.25° grid (or a coarser one with the same layout),
optionally cut to a box to keep files small.

Values are deterministic functions of (variable, scenario, date, lat, lon), given by
:func:`expected_value`, plus optional seeded random noise, so tests know what to expect.
"""

from climaflow.datasets.nex_gddp_cmip6.template import nex_gddp_grid
from climaflow.testing.nex_gddp_archive.values import (
    REVISION,
    TIME_UNITS,
    UNDECLARED_FILL,
    daily_dates,
    expected_value,
    undeclared_fill_cells,
)
from climaflow.testing.nex_gddp_archive.writer import (
    FILL_VALUE,
    CompressionLevel,
    write_synthetic_nex_gddp_archive,
    write_synthetic_year_file,
)

__all__ = [
    "FILL_VALUE",
    "REVISION",
    "TIME_UNITS",
    "UNDECLARED_FILL",
    "CompressionLevel",
    "daily_dates",
    "expected_value",
    "nex_gddp_grid",
    "undeclared_fill_cells",
    "write_synthetic_nex_gddp_archive",
    "write_synthetic_year_file",
]
