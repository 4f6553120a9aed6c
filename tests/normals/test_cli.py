"""``climaflow normals`` on the session's cluster (through --scheduler), with options and YAML."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner

from climaflow.cli import main
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

MODEL = "NorESM2-LM"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-archive")
    grid = {"lat": np.array([20.5, 21.5]), "lon": np.array([200.5, 201.5, 202.5]), "seed": 3}
    write_synthetic_nex_gddp_archive(root, model=MODEL, years=range(2008, 2015), **grid)
    write_synthetic_nex_gddp_archive(
        root, model=MODEL, scenario="ssp585", years=[2015, 2016], **grid
    )
    return root


def invoke(*args: str):
    return CliRunner().invoke(main, ["normals", *args], catch_exceptions=False)


def test_options_run_the_pipeline_and_print_a_summary(archive, tmp_path, client):
    output = tmp_path / "out"
    result = invoke(
        "--input", str(archive), "--output", str(output), "--model", MODEL,
        "--variables", "tas", "--regions", "HI,box:200,203,20,22", "--scenario", "ssp585",
        "--periods", "historical,hybrid", "--target-years", "2012-2016",
        "--window", "5", "--min-years", "4", "--batch-size", "2",
        "--scheduler", client.scheduler.address, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Dask dashboard:" in result.output
    assert "written" in result.output and "too_few_years" in result.output
    names = sorted(p.name for p in output.rglob("*.nc"))
    assert "tas_NorESM2-LM_HI_ssp585_2016_5yr_normal.nc" in names
    assert "tas_NorESM2-LM_box_historical_2012_5yr_normal.nc" in names
    assert len(names) == 2 * 5  # two regions, target years 2012-2016
    total = result.output.strip().splitlines()[-1].split()
    assert total[:2] == ["total", "10"]


def test_format_zarr_writes_one_store_per_scenario_and_region(archive, tmp_path, client):
    output = tmp_path / "out"
    result = invoke(
        "--input", str(archive), "--output", str(output), "--model", MODEL,
        "--variables", "tas", "--regions", "HI", "--scenario", "ssp585",
        "--periods", "historical,hybrid", "--target-years", "2013-2016",
        "--window", "5", "--min-years", "4", "--format", "zarr",
        "--scheduler", client.scheduler.address, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stores = sorted(p.relative_to(output) for p in output.rglob("*.zarr"))
    assert [str(p) for p in stores] == [
        f"{MODEL}/tas/historical/HI/tas_{MODEL}_HI_historical_5yr_normals.zarr",
        f"{MODEL}/tas/ssp585/HI/tas_{MODEL}_HI_ssp585_5yr_normals.zarr",
    ]
    hybrid = xr.open_zarr(output / stores[1])
    assert hybrid["target_year"].values.tolist() == [2015, 2016]
    assert not list(output.rglob("*.nc"))


def test_yaml_config_with_command_line_overrides(archive, tmp_path, client):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(
        yaml.safe_dump(
            {
                "input": str(archive),
                "output": str(tmp_path / "from-yaml"),
                "model": MODEL,
                "variables": ["tas"],
                "regions": ["HI"],
                "scenario": "ssp585",
                "periods": {"historical": [2013, 2014]},
                "window": 5,
                "min-years": 6,  # invalid for a 5-year window: the command line must win
                "scheduler": client.scheduler.address,
            }
        )
    )
    result = invoke("--config", str(run_file), "--min-years", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "from-yaml").rglob("*.nc")) == [
        "tas_NorESM2-LM_HI_historical_2013_5yr_normal.nc",
        "tas_NorESM2-LM_HI_historical_2014_5yr_normal.nc",
    ]


def test_too_few_years_are_reported_without_failing(archive, tmp_path, client):
    result = invoke(
        "--input", str(archive), "--output", str(tmp_path), "--model", MODEL, "--variables", "tas",
        "--regions", "HI", "--periods", "historical", "--target-years", "2010",
        "--window", "5", "--min-years", "4", "--scheduler", client.scheduler.address, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0
    assert (
        "too_few_years: NorESM2-LM tas HI historical 2010: 3 of 5 window years have input files"
        in result.output
    )
    assert "Warning: years left out of windows" in result.output
    assert "NorESM2-LM tas historical: no input file 2006-2007" in result.output


def test_a_failed_output_makes_the_exit_status_non_zero(archive, tmp_path, client):
    (tmp_path / f"{MODEL}/tas/historical/HI/tas_{MODEL}_HI_historical_2014_5yr_normal.nc").mkdir(
        parents=True
    )
    result = invoke(
        "--input", str(archive), "--output", str(tmp_path), "--model", MODEL, "--variables", "tas",
        "--regions", "HI", "--periods", "historical", "--target-years", "2014",
        "--window", "5", "--min-years", "4", "--scheduler", client.scheduler.address, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"failed: {MODEL} tas HI historical 2014" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regions", "Atlantis"], "unknown region 'Atlantis'"),
        (["--periods", "medieval"], "unknown period 'medieval'"),
        (["--target-years", "soon"], "not a year or a range of years"),
        (["--window", "5", "--min-years", "6"], "min_years must be between 1 and the window"),
        (["--target-years", "2200"], "target years 2200 are outside the periods computed"),
    ],
)
def test_bad_options_are_usage_errors(archive, tmp_path, args, message):
    result = invoke(
        "--input", str(archive), "--output", str(tmp_path), "--model", MODEL, "--variables", "tas",
        *args,
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output


def test_required_options_are_named(tmp_path):
    result = invoke("--output", str(tmp_path))
    assert result.exit_code == 2
    assert "missing --input, --model, --variables" in result.output
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("colour: blue\n")
    result = invoke("--config", str(bad_yaml))
    assert result.exit_code == 2 and "unknown keys colour" in result.output


def test_missing_inputs_are_a_clear_error(tmp_path, client):
    result = invoke(
        "--input", str(tmp_path / "nowhere"), "--output", str(tmp_path), "--model", MODEL,
        "--variables", "tas", "--regions", "HI", "--scheduler", client.scheduler.address,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no input for variable 'tas'" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("--scenario", "ssp999"),
            "no input for scenario ssp999 in {archive} for NorESM2-LM tas in the years needed "
            "(inputs found for: historical); check the scenario's name",
        ),
        (("--model", "NoSuchModel"), f"is not listed in {{archive}} (it has: {MODEL})"),
        (("--variables", "tasx"), "no input for variable 'tasx'"),
        (("--target-years", "2200"), "target years 2200 are outside the periods computed"),
    ],
)
def test_a_request_the_archive_cannot_serve_fails_before_a_cluster_starts(
    archive, tmp_path, change, message
):
    options = {
        "--model": MODEL, "--variables": "tas", "--regions": "HI", "--scenario": "ssp585",
        "--periods": "hybrid", "--target-years": "2016", "--window": "5", "--min-years": "4",
    }  # fmt: skip
    options[change[0]] = change[1]
    args = ["--input", str(archive), "--output", str(tmp_path / "out")]
    result = invoke(*args, *(item for pair in options.items() for item in pair), "--no-progress")
    assert result.exit_code in (1, 2), result.output
    assert message.format(archive=archive) in result.output
    assert "Cluster:" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_scenario_one_model_lacks_leaves_out_that_model_s_targets_only(tmp_path, client):
    """Hybrid 2016 normals of two scenarios: GFDL-ESM4 has no ssp245 files. Its ssp245
    target is left out as too few years (its window would be historical years only); every
    other normal is written. No historical file for 2010 either: not a reason to refuse."""
    grid = {"lat": np.array([20.5, 21.5]), "lon": np.array([200.5, 201.5]), "seed": 1}
    for model, scenarios in (("NorESM2-LM", ("ssp245", "ssp585")), ("GFDL-ESM4", ("ssp585",))):
        write_synthetic_nex_gddp_archive(
            tmp_path / "in", model=model, years=range(2011, 2015), **grid
        )
        for scenario in scenarios:
            write_synthetic_nex_gddp_archive(
                tmp_path / "in", model=model, scenario=scenario, years=[2015, 2016], **grid
            )
    result = invoke(
        "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
        "--model", "NorESM2-LM,GFDL-ESM4", "--variables", "tas", "--regions", "HI",
        "--scenario", "ssp245,ssp585", "--periods", "hybrid", "--target-years", "2016",
        "--window", "7", "--min-years", "5", "--scheduler", client.scheduler.address,
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").rglob("*.nc"))
    assert names == [
        "tas_GFDL-ESM4_HI_ssp585_2016_7yr_normal.nc",
        "tas_NorESM2-LM_HI_ssp245_2016_7yr_normal.nc",
        "tas_NorESM2-LM_HI_ssp585_2016_7yr_normal.nc",
    ]
    assert (
        "too_few_years: GFDL-ESM4 tas HI ssp245 2016: none of its ssp245 years has an input file"
        in result.output
    )
