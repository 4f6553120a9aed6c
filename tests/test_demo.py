"""The demo runs end to end (small size) on the session's LocalCluster."""

import numpy as np
import xarray as xr

from climaflow.demo import GFS_INIT_TIMES, SMALL, run_demo


def test_demo_runs_end_to_end(client, tmp_path):
    lines: list[str] = []
    outputs = run_demo(tmp_path / "demo", client, size=SMALL, report=lines.append)

    gfs = xr.open_zarr(outputs["gfs"])
    assert gfs.sizes["init_time"] == len(GFS_INIT_TIMES)
    assert not np.isnan(gfs["temperature_2m"].values).any()
    assert np.isnan(gfs["precipitation_surface"].values[:, 0]).all()
    assert not np.isnan(gfs["precipitation_surface"].values[:, 1:]).any()
    nex = xr.open_zarr(outputs["nex"])
    assert nex.sizes["time"] == 3 * 365
    assert not np.isnan(nex["tas"].values).any()
    normals = sorted(p.name for p in outputs["normals"].rglob("*.nc"))
    assert normals == [
        "pr_NorESM2-LM_CONUS_ssp245_2015_30yr_normal.nc",
        "tas_NorESM2-LM_CONUS_ssp245_2015_30yr_normal.nc",
    ]
    assert any("byte-range requests" in line for line in lines)
    assert any("GFS files hold no accumulation at lead 0" in line for line in lines)
    for name in ("gfs_map", "normal_map", "annual_cycle"):
        path = outputs[name]
        assert path.suffix == ".png" and path.stat().st_size > 10_000, name
        assert str(path) in lines, name
