"""mkdocs hook: draw the gallery's plots (docs/gallery/*.png) from small synthetic outputs
made by climaflow itself, so that the pictures in the docs are what the code draws today."""

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from mkdocs.structure.files import File, Files


def on_files(files: Files, config: Any) -> Files:
    """Draw the plots in a temporary directory and add them to the site as
    ``gallery/*.png`` (nothing is written into the docs' sources)."""
    import matplotlib

    matplotlib.use("Agg")
    with tempfile.TemporaryDirectory(prefix="climaflow-gallery-") as work:
        folder = Path(work) / "gallery"
        _normals_plots(Path(work), folder)
        _forecast_plots(Path(work), folder)
        for image in sorted(folder.glob("*.png")):
            files.append(
                File.generated(config, f"gallery/{image.name}", content=image.read_bytes())
            )
    return files


def _normals_plots(work: Path, gallery: Path) -> None:
    from climaflow import viz
    from climaflow.normals import daily_normals, get_region
    from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

    region = get_region("CONUS")
    grid = {
        "resolution_degrees": 2.0,
        "lat_bounds": (region.lat_min, region.lat_max),
        "lon_bounds": (region.lon_min, region.lon_max),
        "seed": 0,
    }
    paths = write_synthetic_nex_gddp_archive(work / "nex", years=range(1955, 2015), **grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        daily = xr.open_mfdataset(
            paths, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True), combine="by_coords"
        )
        normals = daily_normals(daily.tas.load(), [1984, 2014]).rename("tas")
        daily.close()
    normals.attrs["units"] = "K"
    viz.save(viz.normal_map(normals, month=7), gallery / "normal-map-july.png")
    viz.save(viz.annual_cycle(normals), gallery / "normal-annual-cycle.png")
    viz.save(
        viz.normal_difference(normals.sel(target_year=[1984]), normals.sel(target_year=[2014])),
        gallery / "normal-difference.png",
    )


def _forecast_plots(work: Path, gallery: Path) -> None:
    from distributed import Client, LocalCluster

    from climaflow import viz
    from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
    from climaflow.reformat.runner import reformat
    from climaflow.testing.gfs_archive import write_synthetic_gfs_archive

    inits = [np.datetime64("2024-01-01T00", "ns"), np.datetime64("2024-01-01T06", "ns")]
    leads = tuple(range(13))
    write_synthetic_gfs_archive(work / "gfs", inits, leads, resolution_degrees=5.0)
    template = make_gfs_template(
        resolution_degrees=5.0,
        lead_times_hours=leads,
        init_time_start=inits[0],
        chunks=(1, len(leads), 37, 36),
        shards=(1, len(leads), 74, 72),
    )
    with (
        LocalCluster(processes=False, n_workers=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        reformat(
            template,
            GfsForecastRegionJob,
            work / "gfs.zarr",
            start=inits[0],
            end="2024-01-01T12",
            client=client,
            source_url=str(work / "gfs"),
            download_dir=work / "downloads",
        )
    store = xr.open_zarr(work / "gfs.zarr")
    viz.save(viz.forecast_map(store, "temperature_2m", lead_time=6), gallery / "forecast-map.png")
    viz.save(
        viz.lead_series(store, "temperature_2m", lat=40, lon=-105),
        gallery / "forecast-lead-series.png",
    )
