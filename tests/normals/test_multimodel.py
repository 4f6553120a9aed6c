"""One ``climaflow normals`` run over models that differ as the real archive's do.

The synthetic archive holds GFDL-ESM4 (gr1, noleap), UKESM1-0-LL (r1i1p1f2, 360_day),
EC-Earth3 (gr, standard calendar with 29 February) and NorESM2-LM with undeclared 1e20 fills in
some cells of 2003 and 2006 and an incomplete 2008; CESM2 holds pr only, so ``--model all
--variables tas`` leaves it out and names it. The reference is plain numpy on the files read
with netCDF4; the Python API must agree with the command bit for bit.
"""

import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from climaflow.cli import main
from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile
from climaflow.datasets.nex_gddp_cmip6.models import NEX_GDDP_MODELS
from climaflow.normals import daily_normals, normal_path
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import (
    undeclared_fill_cells,
    write_synthetic_nex_gddp_archive,
)

LAT = np.array([20.5, 21.5, 22.5])
LON = np.array([200.5, 201.5, 202.5])  # all inside HI
MODELS = ("EC-Earth3", "GFDL-ESM4", "NorESM2-LM", "UKESM1-0-LL")
FILL_YEARS = (2003, 2006)
INCOMPLETE_YEAR = 2008
HISTORICAL = range(2000, 2015)
SSP245 = range(2015, 2019)
TARGETS = range(2004, 2019)
WINDOW, MIN_YEARS = 5, 4


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for model in MODELS:
        quirks = {}
        if model == "NorESM2-LM":
            quirks = {
                "undeclared_fill_years": FILL_YEARS,
                "incomplete_years": {INCOMPLETE_YEAR: 300},
            }
        for scenario, years in (("historical", HISTORICAL), ("ssp245", SSP245)):
            write_synthetic_nex_gddp_archive(
                root,
                model=model,
                scenario=scenario,
                years=years,
                lat=LAT,
                lon=LON,
                seed=7,
                **quirks,
            )
    write_synthetic_nex_gddp_archive(
        root, model="CESM2", variables=("pr",), years=HISTORICAL, lat=LAT, lon=LON
    )
    return root


def run_cli(archive: str, output: Path, scheduler: str, *args: str):
    return CliRunner().invoke(
        main,
        [
            "normals",
            "--input",
            archive,
            "--output",
            str(output),
            "--variables",
            "tas",
            "--regions",
            "HI",
            "--scenario",
            "ssp245",
            "--periods",
            "historical,hybrid",
            "--target-years",
            f"{TARGETS[0]}-{TARGETS[-1]}",
            "--window",
            str(WINDOW),
            "--min-years",
            str(MIN_YEARS),
            "--scheduler",
            scheduler,
            "--no-progress",
            *args,
        ],
        catch_exceptions=False,
    )


@pytest.fixture(scope="module")
def cli_output(archive, tmp_path_factory, client):
    output = tmp_path_factory.mktemp("normals")
    result = run_cli(str(archive), output, client.scheduler.address, "--model", "all")
    assert result.exit_code == 0, result.output
    return output, result.output


def output_of(output: Path, model: str, target: int) -> xr.Dataset:
    scenario = "historical" if target <= 2014 else "ssp245"
    path = normal_path(output, model, "tas", scenario, "HI", target, WINDOW)
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        return ds.load()


def calendar_days(dates, calendar: str) -> np.ndarray:
    """Day of year of each date: 30-day months for 360_day, else 365 days without 29 Feb."""
    if calendar == "360_day":
        return np.array([30 * (d.month - 1) + d.day for d in dates])
    month_lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    before = np.concatenate([[0], np.cumsum(month_lengths)[:-1]])
    return np.array(
        [0 if (d.month, d.day) == (2, 29) else before[d.month - 1] + d.day for d in dates]
    )


def read_year(root: Path, model: str, year: int) -> np.ndarray | None:
    """(days, lat, lon) float64 of a year on its day axis, fills as NaN; None if incomplete."""
    info = NEX_GDDP_MODELS[model]
    scenario = "historical" if year <= 2014 else "ssp245"
    path = NexGddpFile(
        model, scenario, "tas", year, variant_label=info.variant_label, grid_label=info.grid_label
    ).path(root)
    with netCDF4.Dataset(path) as nc:
        time = nc["time"]
        dates = netCDF4.num2date(time[:], time.units, time.calendar)
        values = np.ma.filled(nc["tas"][:].astype(np.float64), np.nan)
    values[np.abs(values) >= 1e20] = np.nan
    n_days = 360 if info.calendar == "360_day" else 365
    days = calendar_days(dates, info.calendar)
    if len(set(days) - {0}) < n_days:
        return None
    by_day = np.full((n_days, LAT.size, LON.size), np.nan)
    by_day[days[days > 0] - 1] = values[days > 0]
    return by_day


def reference_normal(root: Path, model: str, target: int) -> np.ndarray:
    years = [read_year(root, model, y) for y in range(target - WINDOW + 1, target + 1)]
    stacked = np.stack([y for y in years if y is not None])
    valid = np.isfinite(stacked).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stacked, axis=0)
    return np.where(valid >= MIN_YEARS, mean, np.nan)


def test_archive_holds_each_models_real_labels_and_calendar(archive):
    for model, variant, grid, calendar in (
        ("GFDL-ESM4", "r1i1p1f1", "gr1", "noleap"),
        ("UKESM1-0-LL", "r1i1p1f2", "gn", "360_day"),
        ("EC-Earth3", "r1i1p1f1", "gr", "standard"),
    ):
        folder = archive / model / "historical" / variant / "tas"
        path = folder / f"tas_day_{model}_historical_{variant}_{grid}_2004.nc"
        with netCDF4.Dataset(path) as nc:
            assert nc["time"].calendar == calendar
            assert nc["time"].size == {"noleap": 365, "360_day": 360, "standard": 366}[calendar]


@pytest.mark.parametrize("model", MODELS)
def test_one_run_over_all_models_matches_numpy(archive, cli_output, model):
    output, _ = cli_output
    for target in TARGETS:
        normal = output_of(output, model, target)
        expected = reference_normal(archive, model, target)
        np.testing.assert_allclose(normal.tas.values[0], expected, rtol=2e-7, equal_nan=True)
        assert normal.attrs["model"] == model
        assert normal.attrs["calendar"] == NEX_GDDP_MODELS[model].calendar
        assert normal.sizes["dayofyear"] == (360 if model == "UKESM1-0-LL" else 365)


def test_360_day_model_keeps_its_calendar(cli_output):
    output, _ = cli_output
    normal = output_of(output, "UKESM1-0-LL", 2010)
    assert normal.time.values[0, 59].strftime("%m-%d") == "02-30"
    assert normal.time.values[0, 0].calendar == "360_day"


def test_undeclared_fills_leave_windows_when_their_years_do(archive, cli_output):
    output, text = cli_output
    cells = undeclared_fill_cells(LAT.size, LON.size)
    for target, valid_years in ((2004, 4), (2007, 3), (2009, 3), (2012, 4)):
        # 2003 and 2006 hold fills, 2008 is incomplete: count the usable years in each window
        window = [
            y
            for y in range(target - WINDOW + 1, target + 1)
            if y != INCOMPLETE_YEAR and y not in FILL_YEARS
        ]
        assert len(window) == valid_years
        normal = output_of(output, "NorESM2-LM", target).tas.values[0]
        assert np.isnan(normal[:, cells]).all() == (valid_years < MIN_YEARS)
        assert np.isfinite(normal[:, ~cells]).all()
        assert (normal[:, ~cells] > 200).all()  # kelvin, no fill averaged in
    assert text.count("were treated as missing") == len(FILL_YEARS)
    fill_file = f"tas_day_NorESM2-LM_historical_r1i1p1f1_gn_{FILL_YEARS[0]}.nc"
    assert fill_file in text
    assert f"NorESM2-LM tas historical: incomplete {INCOMPLETE_YEAR}" in text
    incomplete_file = f"tas_day_NorESM2-LM_historical_r1i1p1f1_gn_{INCOMPLETE_YEAR}.nc"
    assert f"{incomplete_file} holds 300 of the 365 days of its noleap year" in text


def test_a_model_without_the_variable_is_left_out_and_named(cli_output):
    output, text = cli_output
    assert "left out for want of inputs" in text
    assert "CESM2 tas: no input for variable 'tas'" in text
    assert not (output / "CESM2").exists()
    assert sorted(p.name for p in output.iterdir()) == sorted(MODELS)


@pytest.mark.parametrize("model", ["NorESM2-LM", "EC-Earth3", "UKESM1-0-LL"])
def test_the_api_agrees_with_the_command_bit_for_bit(archive, cli_output, model):
    output, _ = cli_output
    variant = NEX_GDDP_MODELS[model].variant_label
    years = []
    for path in sorted(archive.glob(f"{model}/*/{variant}/tas/*.nc")):
        with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
            years.append(ds.tas.load())
    tas = xr.concat(years, dim="time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = daily_normals(tas, TARGETS, window=WINDOW, min_years=MIN_YEARS)
    for target in TARGETS:
        cli = output_of(output, model, target).tas.values[0]
        np.testing.assert_array_equal(api.sel(target_year=target).values, cli)


def test_an_archive_without_listings_uses_the_table_of_models(archive, cli_output, client):
    output, _ = cli_output
    with serve_directory(archive) as server:
        over_http = archive.parent / "over-http"
        result = run_cli(
            server.url, over_http, client.scheduler.address, "--model", "UKESM1-0-LL,GFDL-ESM4"
        )
    assert result.exit_code == 0, result.output
    for model in ("UKESM1-0-LL", "GFDL-ESM4"):
        for target in (2010, 2018):
            np.testing.assert_array_equal(
                output_of(over_http, model, target).tas.values,
                output_of(output, model, target).tas.values,
            )
