"""Finding and reading input years: NEX-GDDP directories (local and over HTTP) and Zarr stores."""

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from aiohttp import web

from climaflow.datasets.nex_gddp_cmip6.models import UnknownModelError
from climaflow.normals.archive import NexGddpArchive, ZarrArchive, open_archive
from climaflow.normals.read import inspect_input, read_year
from climaflow.normals.regions import Region, region_slices
from climaflow.testing.nex_gddp_archive import (
    daily_dates,
    expected_value,
    write_synthetic_nex_gddp_archive,
)

MODEL = "NorESM2-LM"
LAT = np.array([40.5, 41.5, 42.5])
LON = np.array([250.5, 251.5, 252.5, 253.5])
REGION = Region("BOX", 251, 253, 41, 43)  # lat 41.5-42.5, lon 251.5-252.5


@pytest.fixture(scope="module")
def archive_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    write_synthetic_nex_gddp_archive(
        root,
        model=MODEL,
        variables=["tas", "pr"],
        years=[2000, 2001, 2003],
        lat=LAT,
        lon=LON,
        revisions=[(2001, "tas")],
    )
    (root / MODEL / "historical" / "r1i1p1f1" / "tas" / "notes.txt").write_text("not data")
    return root


def expected_subset(variable: str, year: int, version: str | None = None) -> np.ndarray:
    values = expected_value(variable, "historical", daily_dates(year), LAT, LON, version=version)
    return values[:, 1:3, 1:3]


def test_newest_version_wins_and_missing_years_are_absent(archive_root):
    inputs = NexGddpArchive(archive_root, MODEL).year_inputs("tas", "historical", range(1999, 2004))
    assert sorted(inputs) == [2000, 2001, 2003]
    assert inputs[2001].location.endswith("tas_day_NorESM2-LM_historical_r1i1p1f1_gn_2001_v1.1.nc")
    assert inputs[2000].fingerprint.startswith("tas_day_NorESM2-LM_historical_r1i1p1f1_gn_2000.nc:")
    assert NexGddpArchive(archive_root, MODEL).year_inputs("tas", "ssp245", [2050]) == {}
    with pytest.raises(
        UnknownModelError, match=r"'OtherModel' is not listed in .*--variant/--grid"
    ):
        NexGddpArchive(archive_root, "OtherModel").year_inputs("tas", "historical", [2000])


def write_zarr_stores(archive_root: Path, store_template: str) -> None:
    files = sorted((archive_root / MODEL / "historical" / "r1i1p1f1" / "tas").glob("*_200[03].nc"))
    with xr.open_mfdataset(
        files,
        decode_times=xr.coders.CFDatetimeCoder(use_cftime=True),
        data_vars="minimal",
        coords="minimal",
        compat="override",
    ) as ds:
        ds[["tas"]].to_zarr(store_template.format(model=MODEL, scenario="historical"), mode="w")


def test_zarr_store_per_scenario(archive_root, tmp_path):
    template = str(tmp_path / "{model}-{scenario}.zarr")
    write_zarr_stores(archive_root, template)
    archive = open_archive(template, MODEL)
    assert isinstance(archive, ZarrArchive)
    inputs = archive.year_inputs("tas", "historical", range(1999, 2005))
    assert sorted(inputs) == [2000, 2003]
    assert archive.year_inputs("tas", "ssp245", [2050]) == {}
    assert archive.year_inputs("pr", "historical", [2000]) == {}
    data = read_year(inputs[2003], region_slices(REGION, LAT, LON))
    np.testing.assert_array_equal(data.values, expected_subset("tas", 2003))
    assert inspect_input(inputs[2000]).calendar == "noleap"


def test_zarr_store_with_a_scenario_dimension(archive_root, tmp_path):
    single = str(tmp_path / "single.zarr")
    write_zarr_stores(archive_root, single)
    with xr.open_zarr(single, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        ds.expand_dims(scenario=["historical"]).to_zarr(tmp_path / "both.zarr", mode="w")
    archive = open_archive(tmp_path / "both.zarr", MODEL)
    inputs = archive.year_inputs("tas", "historical", [2000])
    assert archive.year_inputs("tas", "ssp585", [2000]) == {}
    data = read_year(inputs[2000], region_slices(REGION, LAT, LON))
    np.testing.assert_array_equal(data.values, expected_subset("tas", 2000))
    with pytest.raises(ValueError, match=r"no 'scenario' dimension.*\{scenario\} placeholder"):
        open_archive(single, MODEL).year_inputs("tas", "ssp245", [2050])


@pytest.fixture
def http_root(archive_root: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Serve the archive over loopback HTTP (with or without directory listings)."""
    show_index = request.param
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_static("/", archive_root, show_index=show_index)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()


@pytest.mark.parametrize("http_root", [True, False], ids=["listed", "probed"], indirect=True)
def test_archive_over_http(http_root):
    archive = open_archive(http_root, MODEL)
    inputs = archive.year_inputs("tas", "historical", [2000, 2001, 2002])
    assert sorted(inputs) == [2000, 2001]
    assert inputs[2001].location.startswith(http_root)
    assert inputs[2001].location.endswith("_2001_v1.1.nc")
    data = read_year(inputs[2001], region_slices(REGION, LAT, LON))
    np.testing.assert_array_equal(data.values, expected_subset("tas", 2001, "v1.1"))
