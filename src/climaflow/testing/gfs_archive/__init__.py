"""A small, faithful synthetic GFS archive of real GRIB2 files, for tests and the demo.

:func:`write_synthetic_gfs_archive` writes, with eccodes, GRIB2 files laid out like NOAA's GFS
archive (``{root}/gfs.{YYYYMMDD}/{HH}/atmos/gfs.t{HH}z.pgrb2.0p25.f{FFF}``), each with a
wgrib2-format ``.idx`` inventory beside it (``{file}.idx``) whose byte offsets match the GRIB
messages exactly. The messages are encoded the way NCEP encodes them (centre ``kwbc``, GRIB2
tables version 2, regular lat-lon grid from 90°N and 0°E scanning southwards, product definition
template 0 for instantaneous fields and 8 for statistics), so cfgrib and eccodes decode them to
the usual shortNames (``prmsl``, ``2t``, ``2r``, ``10u``, ``10v``, ``tp``).

The values are deterministic, smooth functions of (variable, init time, lead time, latitude,
longitude) with realistic magnitudes, exposed as :func:`expected_field` (instantaneous variables)
and :func:`expected_precipitation_rate` / :func:`expected_accumulation` (precipitation), and
message by message as :func:`expected_values`, so tests can compare anything derived from the
archive with exact expectations, up to GRIB packing precision (see :func:`packing_tolerance`).

Messages in each file, in GFS order, with unrelated messages interleaved so that byte-range
selection matters (compare ``reformatters__gfs.t00z.pgrb2.0p25.f007.idx`` in the real test data):

==================================  =====  =====  =================  ==============  ==========
variable (key)                      short  idx    idx level          d/c/n, surface  units
==================================  =====  =====  =================  ==============  ==========
pressure_reduced_to_mean_sea_level  prmsl  PRMSL  mean sea level     0/3/1, 101      Pa
temperature_2hpa (unrelated)        t      TMP    2 mb               0/0/0, 100      K
geopotential_height_500hpa (unr.)   gh     HGT    500 mb             0/3/5, 100      gpm
temperature_850hpa (unrelated)      t      TMP    850 mb             0/0/0, 100      K
temperature_2m                      2t     TMP    2 m above ground   0/0/0, 103      K
relative_humidity_2m                2r     RH     2 m above ground   0/1/1, 103      %
wind_u_10m                          10u    UGRD   10 m above ground  0/2/2, 103      m s-1
wind_v_10m                          10v    VGRD   10 m above ground  0/2/3, 103      m s-1
precipitation_rate (unrelated)      prate  PRATE  surface            0/1/7, 1        kg m-2 s-1
precipitation_rate_average (unr.)   prate  PRATE  surface            0/1/7, 1        kg m-2 s-1
precipitation_surface               tp     APCP   surface            0/1/8, 1        kg m-2
convective_precipitation (unr.)     acpcp  ACPCP  surface            0/1/10, 1       kg m-2
==================================  =====  =====  =================  ==============  ==========

Statistics follow real GFS, which resets them every 6 hours. At lead 0 there are none (the file
has ``PRATE:surface:anl`` but no ``APCP``, ``ACPCP`` or ``ave`` message). At lead ``L >= 1`` the
average holds the current 6-hour bucket ``b-L`` with ``b = 6 * ((L - 1) // 6)`` (``0-1`` ..
``0-6``, then ``6-7`` .. ``6-12``, ``12-13`` ...), and each accumulation has two messages: the
bucket ``b-L``, then the total ``0-L`` since initialisation. At leads 1-6 both are ``0-L``: the
file holds the same message twice and its inventory the same line twice, as NOAA's do. The idx
forecast strings are what wgrib2 prints: ``anl`` at lead 0, ``L hour fcst``,
``b-L hour acc fcst`` / ``b-L hour ave fcst``, and whole-day windows in days (``0-1 day acc fcst``
for 0-24 h, ``0-2 day acc fcst`` for 0-48 h, but ``18-24 hour acc fcst``).
"""

from climaflow.datasets.gfs_forecast.template import gfs_grid
from climaflow.testing.gfs_archive.fields import (
    expected_accumulation,
    expected_field,
    expected_precipitation_rate,
    expected_values,
    packing_tolerance,
)
from climaflow.testing.gfs_archive.messages import (
    SyntheticMessage,
    gfs_relative_path,
    messages_for_lead,
    precipitation_bucket_start,
)
from climaflow.testing.gfs_archive.variables import (
    CONVECTIVE_FRACTION,
    DEFAULT_VARIABLES,
    DISTRACTOR_VARIABLES,
    VARIABLES,
    SyntheticVariable,
)
from climaflow.testing.gfs_archive.writer import write_synthetic_gfs_archive

__all__ = [
    "CONVECTIVE_FRACTION",
    "DEFAULT_VARIABLES",
    "DISTRACTOR_VARIABLES",
    "VARIABLES",
    "SyntheticMessage",
    "SyntheticVariable",
    "expected_accumulation",
    "expected_field",
    "expected_precipitation_rate",
    "expected_values",
    "gfs_grid",
    "gfs_relative_path",
    "messages_for_lead",
    "packing_tolerance",
    "precipitation_bucket_start",
    "write_synthetic_gfs_archive",
]
