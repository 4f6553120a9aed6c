"""Quick looks: each plot draws the values it says it draws (compared with numpy on the same
inputs), with its axes labelled, and PNGs are written; also through ``climaflow plot``."""

import cftime
import matplotlib
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from climaflow import viz
from climaflow.cli import main

matplotlib.use("Agg")

LAT = np.array([20.0, 40.0, 60.0])
LON = np.array([250.0, 260.0, 270.0, 280.0])


def normal(target_year: int = 2015, offset: float = 0.0) -> xr.Dataset:
    """A normal shaped like climaflow's files: (target_year, dayofyear, lat, lon), noleap."""
    rng = np.random.default_rng(target_year)
    values = (280 + offset + rng.standard_normal((1, 365, 3, 4))).astype("float32")
    values[0, :, 2, 3] = np.nan  # a cell outside the model's land mask
    time = [[cftime.DatetimeNoLeap(2000, 1, 1, 12) + np.timedelta64(d, "D") for d in range(365)]]
    return xr.Dataset(
        {"tas": (("target_year", "dayofyear", "lat", "lon"), values, {"units": "K"})},
        coords={
            "target_year": [target_year],
            "dayofyear": np.arange(1, 366),
            "lat": LAT,
            "lon": LON,
            "time": (("target_year", "dayofyear"), np.array(time, dtype=object)),
        },
    )


def forecast() -> xr.Dataset:
    inits = np.array(["2024-01-01T00", "2024-01-01T06"], dtype="datetime64[ns]")
    leads = np.array([0, 1, 2, 3], dtype="timedelta64[h]").astype("timedelta64[ns]")
    values = np.arange(2 * 4 * 3 * 4, dtype="float32").reshape(2, 4, 3, 4)
    return xr.Dataset(
        {"t2m": (("init_time", "lead_time", "latitude", "longitude"), values, {"units": "K"})},
        coords={"init_time": inits, "lead_time": leads, "latitude": LAT, "longitude": LON},
        attrs={"append_dim": "init_time"},
    )


def mesh_values(ax) -> np.ndarray:
    return np.ma.filled(ax.collections[0].get_array(), np.nan).reshape(3, 4)


@pytest.mark.parametrize(
    ("options", "title", "expected"),
    [
        ({"dayofyear": 196}, "tas normal of 2015, day 196", lambda v: v[195]),
        ({"month": 7}, "tas normal of 2015, July mean", lambda v: v[181:212].mean(axis=0)),
        ({}, "tas normal of 2015, annual mean", lambda v: v.mean(axis=0)),
    ],
)
def test_normal_map(options, title, expected):
    data = normal()["tas"]
    ax = viz.normal_map(data, **options)
    np.testing.assert_allclose(mesh_values(ax), expected(data.values[0]), rtol=1e-6)
    assert ax.get_title() == title
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("longitude (°E)", "latitude (°N)")
    assert ax.figure.axes[1].get_ylabel() == "tas (K)"  # the colour bar


def test_month_means_need_only_the_day_of_year():
    """Normals from the Python API have no ``time`` coordinate; 360-day years have 30-day
    months."""
    data = normal()["tas"].drop_vars("time")
    ax = viz.normal_map(data, month=2)
    np.testing.assert_allclose(mesh_values(ax), data.values[0, 31:59].mean(axis=0), rtol=1e-6)
    short = data.isel(dayofyear=slice(0, 360)).assign_coords(dayofyear=np.arange(1, 361))
    ax = viz.normal_map(short, month=12)
    np.testing.assert_allclose(mesh_values(ax), short.values[0, 330:360].mean(axis=0), rtol=1e-6)


def test_normal_difference_is_centred_on_zero():
    first, second = normal(1990)["tas"], normal(2050, offset=2.0)["tas"]
    ax = viz.normal_difference(first, second, dayofyear=10)
    difference = second.values[0, 9] - first.values[0, 9]
    np.testing.assert_allclose(mesh_values(ax), difference, rtol=1e-6)
    low, high = ax.collections[0].get_clim()
    assert low == -high == -np.nanmax(np.abs(difference))
    assert ax.get_title() == "tas normal 2050 minus 1990, day 10"


def test_annual_cycle_of_the_region_and_of_a_point():
    data = normal()["tas"]
    values = data.values[0]
    ax = viz.annual_cycle(data)
    weights = np.cos(np.deg2rad(LAT))[:, None] * ~np.isnan(values[0])
    expected = np.nansum(values * weights, axis=(1, 2)) / weights.sum()
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(1, 366))
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    assert ax.get_title() == "tas normal of 2015, region mean"

    ax = viz.annual_cycle(data, lat=41, lon=268)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), values[:, 1, 2])
    assert ax.get_title() == "tas normal of 2015, at 40.00°N 270.00°E"
    ax = viz.annual_cycle(data, lat=41, lon=-92)  # 268 °E, in the other convention
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), values[:, 1, 2])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("day of year", "tas (K)")


def test_forecast_map_and_lead_series():
    ds = forecast()
    ax = viz.forecast_map(ds, "t2m", lead_time=2)
    np.testing.assert_array_equal(mesh_values(ax), ds["t2m"].values[-1, 2])
    assert ax.get_title() == "t2m at 2024-01-01T06:00 +2 h"
    ax = viz.forecast_map(ds, "t2m", time="2024-01-01T00", lead_time=1)
    np.testing.assert_array_equal(mesh_values(ax), ds["t2m"].values[0, 1])

    ax = viz.lead_series(ds, "t2m", lat=58, lon=-100)  # -100 °E is 260 °E
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, [0, 1, 2, 3])
    np.testing.assert_array_equal(y, ds["t2m"].values[-1, :, 2, 1])
    assert ax.get_xlabel() == "lead time (hours)"


def test_save_writes_a_png(tmp_path):
    path = viz.save(viz.normal_map(normal()["tas"]), tmp_path / "plots" / "map.png")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_climaflow_plot_writes_pngs_and_names_bad_variables(tmp_path):
    normal(2015).to_netcdf(tmp_path / "n2015.nc")
    normal(2045, offset=1.0).to_netcdf(tmp_path / "n2045.nc")
    forecast().to_zarr(tmp_path / "f.zarr", zarr_format=3)
    runs = [
        [str(tmp_path / "n2015.nc"), "--month", "1"],
        [str(tmp_path / "n2015.nc"), "--kind", "cycle", "--point", "40,260"],
        [
            str(tmp_path / "n2045.nc"),
            "--kind",
            "difference",
            "--against",
            str(tmp_path / "n2015.nc"),
        ],
        [str(tmp_path / "f.zarr"), "--lead", "1"],
        [str(tmp_path / "f.zarr"), "--time", "2024-01-01T00", "--lead", "1"],
        [str(tmp_path / "f.zarr"), "--kind", "leads", "--point", "40,-100"],
        [str(tmp_path / "f.zarr"), "--kind", "leads", "--point", "40,-100", "--time", "2024-01-01"],
        [str(tmp_path / "n2015.nc"), "--kind", "cycle", "--point", "40,-100"],
    ]
    for i, args in enumerate(runs):
        output = tmp_path / f"{i}.png"
        result = CliRunner().invoke(main, ["plot", *args, "-o", str(output)])
        assert result.exit_code == 0, result.output
        assert f"written: {output}" in result.output
        assert matplotlib.image.imread(output).shape[0] > 100
    result = CliRunner().invoke(
        main, ["plot", str(tmp_path / "n2015.nc"), "--variable", "pr", "-o", str(output)]
    )
    assert (
        result.exit_code == 2
        and "'pr' is not in" in result.output
        and "it has tas" in result.output
    )
