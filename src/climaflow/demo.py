"""The demo: both jobs end to end on small synthetic archives served over loopback HTTP.

1. Writes a synthetic GFS archive (real GRIB2 + NOAA ``.idx``) and a synthetic
   NEX-GDDP-CMIP6 archive (real NetCDF4, noleap) under the work directory.
2. Serves them from a loopback HTTP server that honours ``Range`` requests.
3. Reformats the GFS archive into a sharded Zarr v3 store (byte-range downloads of the
   needed GRIB messages only), and three years of NEX-GDDP into another.
4. Computes 30-year daily normals of two variables for one region from the NEX archive.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import xarray as xr
from distributed import Client

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.datasets.nex_gddp_cmip6 import NexGddpRegionJob, make_nex_gddp_template
from climaflow.datasets.nex_gddp_cmip6.template import nex_gddp_grid
from climaflow.normals import NormalsConfig, Region, get_region, run_normals
from climaflow.reformat.runner import reformat
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.http_server import LoopbackServer, serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

GFS_INIT_TIMES = (np.datetime64("2024-01-01T00", "ns"), np.datetime64("2024-01-01T06", "ns"))
NEX_MODEL = "NorESM2-LM"
NEX_VARIABLES = ("tas", "pr")
NEX_RESOLUTION = 2.0
NORMALS_REGION = "CONUS"
NORMALS_SCENARIO = "ssp245"


@dataclass(frozen=True)
class DemoSize:
    """How big the demo's archives are."""

    gfs_resolution: float
    gfs_leads: tuple[int, ...]
    historical_years: tuple[int, ...]
    scenario_years: tuple[int, ...]
    normals_target_years: tuple[int, ...]


FULL = DemoSize(
    gfs_resolution=2.5,
    gfs_leads=tuple(range(25)),
    historical_years=tuple(range(1950, 2015)),
    scenario_years=(2015, 2016),
    normals_target_years=(1980, 1981, 2015, 2016),
)
SMALL = DemoSize(
    gfs_resolution=5.0,
    gfs_leads=tuple(range(7)),
    historical_years=(1950, 1951, 1952, *range(1986, 2015)),
    scenario_years=(2015,),
    normals_target_years=(2015,),
)


@contextmanager
def step(title: str, report: Callable[[str], None]) -> Iterator[None]:
    """Print a step's title and how long it took."""
    report(f"\n== {title}")
    start = time.perf_counter()
    yield
    report(f"   ({time.perf_counter() - start:.1f} s)")


def run_demo(
    workdir: Path,
    client: Client,
    *,
    size: DemoSize = FULL,
    report: Callable[[str], None] = print,
    show_progress: bool = True,
) -> dict[str, Path]:
    """Run the demo in ``workdir`` on ``client``; return where its outputs are.

    ``report`` receives every line the demo prints; ``show_progress`` shows each step's
    progress (:func:`climaflow.progress.show_task_progress`). The outputs are ``"gfs"`` and
    ``"nex"`` (Zarr v3 stores), ``"normals"`` (a directory of NetCDF files) and, with the
    viz extra, the quick-look PNGs ``"gfs_map"``, ``"normal_map"`` and ``"annual_cycle"``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    archives, downloads = workdir / "archives", workdir / "downloads"
    outputs = {
        "gfs": workdir / "gfs-forecast.zarr",
        "nex": workdir / f"nex-gddp-cmip6-{NEX_MODEL}-historical.zarr",
        "normals": workdir / "normals",
    }
    region = get_region(NORMALS_REGION)
    bounds = NexBounds.around(region)

    with step("Writing synthetic archives (GRIB2 with eccodes, NetCDF4 with netCDF4)", report):
        _write_archives(archives, size, bounds, report)

    with serve_directory(archives) as server:
        report(f"\nServing the archives at {server.url}")
        with step("Reformatting gfs-forecast into Zarr v3", report):
            _reformat_gfs(server, outputs["gfs"], downloads, client, size, report, show_progress)
        with step("Reformatting nex-gddp-cmip6 (3 years) into Zarr v3", report):
            _reformat_nex(
                f"{server.url}/nex-gddp-cmip6",
                outputs["nex"],
                downloads,
                client,
                size,
                bounds,
                report,
                show_progress,
            )

    with step(f"Computing 30-year daily normals ({NORMALS_REGION}, {NORMALS_SCENARIO})", report):
        normals = _normals_config(archives / "nex-gddp-cmip6", outputs["normals"], region, size)
        report(run_normals(normals, client, show_progress=show_progress).table())

    _report_outputs(outputs, report)
    plots = _quick_looks(outputs, workdir / "plots", report)
    return {**outputs, **plots}


@dataclass(frozen=True)
class NexBounds:
    """The latitudes and longitudes the synthetic NEX-GDDP archive covers, in degrees."""

    lat: tuple[float, float]
    lon: tuple[float, float]

    @classmethod
    def around(cls, region: Region, margin: float = 4) -> Self:
        """``region``'s bounding box widened by ``margin`` degrees on every side."""
        return cls(
            lat=(region.lat_min - margin, region.lat_max + margin),
            lon=(region.lon_min - margin, region.lon_max + margin),
        )


def _write_archives(
    archives: Path, size: DemoSize, bounds: NexBounds, report: Callable[[str], None]
) -> None:
    """Write the synthetic GFS archive under ``archives/gfs`` and the NEX-GDDP one (historical
    and scenario years) under ``archives/nex-gddp-cmip6``; report what they hold."""
    write_synthetic_gfs_archive(
        archives / "gfs", GFS_INIT_TIMES, size.gfs_leads, size.gfs_resolution
    )
    for scenario, years in (
        ("historical", size.historical_years),
        (NORMALS_SCENARIO, size.scenario_years),
    ):
        write_synthetic_nex_gddp_archive(
            archives / "nex-gddp-cmip6",
            model=NEX_MODEL,
            scenario=scenario,
            variables=NEX_VARIABLES,
            years=years,
            seed=0,
            resolution_degrees=NEX_RESOLUTION,
            lat_bounds=bounds.lat,
            lon_bounds=bounds.lon,
        )
    report(f"   GFS: {len(GFS_INIT_TIMES)} init times x {len(size.gfs_leads)} leads")
    report(
        f"   NEX-GDDP: {NEX_MODEL} {', '.join(NEX_VARIABLES)}, "
        f"{size.historical_years[0]}-{size.scenario_years[-1]}"
    )


def _reformat_gfs(
    server: LoopbackServer,
    store: Path,
    downloads: Path,
    client: Client,
    size: DemoSize,
    report: Callable[[str], None],
    show_progress: bool,
) -> None:
    """Reformat the served GFS archive into ``store``; report the files' statuses and how
    many byte-range requests the server answered."""
    template = make_gfs_template(
        resolution_degrees=size.gfs_resolution,
        lead_times_hours=size.gfs_leads,
        init_time_start=GFS_INIT_TIMES[0],
        chunks=(1, len(size.gfs_leads), 37, 36),
        shards=(1, len(size.gfs_leads), 37 * 2, 72),
    )
    result = reformat(
        template,
        GfsForecastRegionJob,
        store,
        start=GFS_INIT_TIMES[0],
        end=GFS_INIT_TIMES[-1] + np.timedelta64(6, "h"),
        client=client,
        show_progress=show_progress,
        source_url=f"{server.url}/gfs",
        download_dir=downloads,
    )
    ranged = [r for r in server.requests if r.range is not None]
    report(f"   {_counts(result.status_counts())}")
    report(
        "   (precipitation has one field fewer per init time: GFS files hold no "
        "accumulation at lead 0)"
    )
    report(f"   {len(ranged)} byte-range requests fetched the needed GRIB messages only")


def _reformat_nex(
    source_url: str,
    store: Path,
    downloads: Path,
    client: Client,
    size: DemoSize,
    bounds: NexBounds,
    report: Callable[[str], None],
    show_progress: bool,
) -> None:
    """Reformat the first three historical years of the NEX-GDDP archive at ``source_url``
    into ``store``; report the files' statuses."""
    lat, lon = nex_gddp_grid(NEX_RESOLUTION, lat_bounds=bounds.lat, lon_bounds=bounds.lon)
    first = size.historical_years[0]  # the store starts with the scenario's first year
    result = reformat(
        make_nex_gddp_template(
            model=NEX_MODEL,
            variables=NEX_VARIABLES,
            resolution_degrees=NEX_RESOLUTION,
            lat_bounds=bounds.lat,
            lon_bounds=bounds.lon,
            chunks=(73, lat.size, lon.size),
            shards=(365, lat.size, lon.size),
        ),
        NexGddpRegionJob,
        store,
        start=first,
        end=first + 3,
        client=client,
        show_progress=show_progress,
        source_url=source_url,
        download_dir=downloads,
    )
    report(f"   {_counts(result.status_counts())}")


def _normals_config(nex_root: Path, output: Path, region: Region, size: DemoSize) -> NormalsConfig:
    """The demo's normals run: both variables, one region, the scenario's target years."""
    return NormalsConfig(
        input=str(nex_root),
        output=output,
        models=(NEX_MODEL,),
        variables=NEX_VARIABLES,
        regions=(region,),
        scenarios=(NORMALS_SCENARIO,),
        target_years=size.normals_target_years,
    )


def _counts(status_counts: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{name}: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        for name, counts in status_counts.items()
    )


def _quick_looks(
    outputs: dict[str, Path], folder: Path, report: Callable[[str], None]
) -> dict[str, Path]:
    """Write quick-look PNGs of the outputs (with the viz extra); return them by name."""
    try:
        from climaflow import viz
    except ImportError:
        report("\n(install climaflow[viz] for quick-look maps of these outputs)")
        return {}
    report("\n== Quick looks")
    gfs = xr.open_zarr(outputs["gfs"])
    tas = next(outputs["normals"].rglob("tas_*.nc"))
    with viz.open_output(tas) as normal:
        plots = {
            "gfs_map": viz.save(
                viz.forecast_map(gfs, "temperature_2m", lead_time=6), folder / "gfs-t2m.png"
            ),
            "normal_map": viz.save(
                viz.normal_map(normal["tas"], month=7), folder / "normal-tas-july.png"
            ),
            "annual_cycle": viz.save(
                viz.annual_cycle(normal["tas"]), folder / "normal-tas-annual-cycle.png"
            ),
        }
    for path in plots.values():
        report(str(path))
    return plots


def _report_outputs(outputs: dict[str, Path], report: Callable[[str], None]) -> None:
    report("\n== Outputs")
    gfs = xr.open_zarr(outputs["gfs"])
    t2m = gfs["temperature_2m"].isel(init_time=0, lead_time=6)
    precipitation = gfs["precipitation_surface"].isel(init_time=0)
    report(f"{outputs['gfs']}: {dict(gfs.sizes)}")
    report(
        f"   temperature_2m at +6 h: {float(t2m.min()):.1f}..{float(t2m.max()):.1f} K, "
        f"mean precipitation rate {float(precipitation.mean()) * 3600:.3f} mm/h"
    )
    nex = xr.open_zarr(outputs["nex"])
    report(f"{outputs['nex']}: {dict(nex.sizes)}, tas mean {float(nex['tas'].mean()):.2f} K")
    for path in sorted(outputs["normals"].rglob("*.nc")):
        with xr.open_dataset(path) as normal:
            values = normal[normal.attrs["variable"]]
            years = np.atleast_1d(normal.attrs["source_years"])
            report(
                f"{path}: {values.name} "
                f"{float(values.min()):.4g}..{float(values.max()):.4g} "
                f"{values.attrs.get('units', '')}, {years.size} years {years.min()}-{years.max()}"
            )
