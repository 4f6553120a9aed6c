"""The command line: listing, reformatting on a given scheduler, reports, and clear errors."""

import shutil
from pathlib import Path

import dask.config
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from climaflow.cli import main
from climaflow.datasets.nex_gddp_cmip6 import make_nex_gddp_template
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

YEARS = (2015, 2016)


@pytest.fixture(scope="module")
def nex_archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nex")
    write_synthetic_nex_gddp_archive(
        root, scenario="ssp245", variables=("tas",), years=YEARS, resolution_degrees=30.0
    )
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def reformat_args(nex_archive: Path, store: Path, scheduler: str, *extra: str) -> list[str]:
    return [
        "reformat",
        "nex-gddp-cmip6",
        "--store",
        str(store),
        "--start",
        "2015",
        "--end",
        "2017",
        "-o",
        "scenario=ssp245",
        "-o",
        "resolution_degrees=30",
        "--variables",
        "tas",
        "--source-url",
        str(nex_archive),
        "--scheduler",
        scheduler,
        *extra,
    ]


def test_datasets_lists_the_integrations_and_variables():
    code, output = invoke("datasets")
    assert code == 0
    assert "gfs-forecast:" in output and "nex-gddp-cmip6:" in output
    assert "precipitation_surface" in output and "kg m-2 s-1" in output
    assert (
        "options (-o KEY=VALUE): model, scenario, calendar, variant_label, grid_label, "
        "resolution_degrees" in output
    )


def test_reformat_on_a_running_scheduler_with_a_performance_report(client, nex_archive, tmp_path):
    store, report = tmp_path / "tas.zarr", tmp_path / "report.html"
    args = reformat_args(nex_archive, store, client.scheduler.address, "--report", str(report))
    code, output = invoke(*args)
    assert code == 0, output
    assert "Dask dashboard:" in output
    assert "tas" in output and "succeeded 2" in output
    assert report.stat().st_size > 10_000
    assert "<html" in report.read_text()[:2000].lower()
    ds = xr.open_zarr(store)
    assert ds.sizes["time"] == 2 * 365 and not np.isnan(ds["tas"].values).any()


def test_reformat_exits_non_zero_when_a_source_file_failed(client, nex_archive, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(nex_archive, archive)
    (lost,) = archive.rglob("*_2016*.nc")
    lost.unlink()
    args = reformat_args(archive, tmp_path / "tas.zarr", client.scheduler.address)

    code, output = invoke(*args)
    assert code == 1
    assert f"FAILED not_available: {lost}" in output
    assert "1 source file(s) failed" in output and "--allow-failures" in output

    code, output = invoke(
        *reformat_args(
            archive, tmp_path / "again.zarr", client.scheduler.address, "--allow-failures"
        )
    )
    assert code == 0, output
    assert f"FAILED not_available: {lost}" in output
    ds = xr.open_zarr(tmp_path / "again.zarr")
    assert not np.isnan(ds["tas"].sel(time="2015").values).any()
    assert np.isnan(ds["tas"].sel(time="2016").values).all()


def test_update_extends_a_store_with_the_options_it_was_made_with(client, tmp_path):
    archive, store = tmp_path / "archive", tmp_path / "tas.zarr"
    grid = {"scenario": "ssp245", "variables": ("tas",), "resolution_degrees": 30.0}
    write_synthetic_nex_gddp_archive(archive, years=(2015, 2016), **grid)
    code, output = invoke(*reformat_args(archive, store, client.scheduler.address))
    assert code == 0, output

    def update(end: str) -> tuple[int, str]:
        return invoke(
            "update", "nex-gddp-cmip6", "--store", str(store), "--end", end,
            "--source-url", str(archive), "--scheduler", client.scheduler.address,
        )  # fmt: skip

    write_synthetic_nex_gddp_archive(archive, years=(2017,), **grid)  # a year is published
    code, output = update("2019")  # 2018 is not there yet
    assert code == 0, output
    assert "2017-01-01 12:00:00: complete" in output
    assert "2018-01-01 12:00:00: unavailable (left out: not published yet)" in output
    assert xr.open_zarr(store).sizes["time"] == 3 * 365  # 30° grid, resolution_degrees=30 kept

    code, output = update("2018")
    assert code == 0 and "up to date" in output

    code, output = invoke("update", "nex-gddp-cmip6", "--store", str(tmp_path / "none.zarr"))
    assert code == 1 and "create it with `climaflow reformat`" in output

    from_python = tmp_path / "from-python.zarr"  # made without -o: its options are unknown
    make_nex_gddp_template(scenario="ssp245", resolution_degrees=30.0).write_metadata(
        from_python, "2016"
    )
    code, output = invoke("update", "nex-gddp-cmip6", "--store", str(from_python))
    assert code == 1 and "does not record the template options" in output


def test_verify_names_stale_stores_and_refuses_bad_ages(client, nex_archive, tmp_path):
    store = tmp_path / "tas.zarr"
    code, output = invoke(*reformat_args(nex_archive, store, client.scheduler.address))
    assert code == 0, output
    scheduler = ["--scheduler", client.scheduler.address]

    code, output = invoke("verify", str(store), *scheduler)
    assert code == 0 and ": OK" in output
    code, output = invoke("verify", str(store), "--max-age", "12h", *scheduler)
    assert code == 1  # its last day is in 2016
    assert "latest time 2016-12-31 12:00:00 is " in output and "more than 12 hours" in output
    code, output = invoke("verify", str(store), "--max-age", "soon", *scheduler)
    assert code == 2 and "--max-age" in output


def one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dataset": "nope"}, "unknown dataset 'nope'; known: gfs-forecast, nex-gddp-cmip6"),
        ({"variables": "tas,wind"}, "unknown variable 'wind' for nex-gddp-cmip6"),
        ({"start": "2018"}, "start 2018 is at or after end 2017"),
        ({"option": "colour=red"}, "nex-gddp-cmip6 has no option colour"),
    ],
)
def test_bad_input_is_one_clear_line(client, nex_archive, tmp_path, change, message):
    args = reformat_args(nex_archive, tmp_path / "x.zarr", client.scheduler.address)
    args[1] = change.get("dataset", args[1])
    args[args.index("--variables") + 1] = change.get("variables", "tas")
    args[args.index("--start") + 1] = change.get("start", "2015")
    args[args.index("-o") + 1] = change.get("option", "scenario=ssp245")
    code, output = invoke(*args)
    assert code in (1, 2)
    assert message in one_line_error(output)
    assert "Cluster:" not in output  # refused before a cluster starts
    assert not (tmp_path / "x.zarr").exists()  # and before anything is written


def test_verify_refuses_a_missing_store_before_starting_a_cluster(tmp_path):
    code, output = invoke("verify", str(tmp_path / "none.zarr"))
    assert code == 1
    assert f"no Zarr store at {tmp_path / 'none.zarr'}" in one_line_error(output)
    assert "Cluster:" not in output


def test_an_output_path_that_cannot_be_written(client, nex_archive, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, output = invoke(*reformat_args(nex_archive, blocker / "x.zarr", client.scheduler.address))
    assert code == 1
    assert "a-file" in one_line_error(output)


def test_a_store_of_another_structure_is_refused(client, nex_archive, tmp_path):
    store = tmp_path / "tas.zarr"
    assert invoke(*reformat_args(nex_archive, store, client.scheduler.address))[0] == 0
    args = reformat_args(nex_archive, store, client.scheduler.address)
    code, output = invoke(*args, "-o", "calendar=360_day")  # 360 days a year, not 365
    assert code == 1
    assert "does not match the nex-gddp-cmip6 template" in one_line_error(output)


def test_a_scheduler_that_does_not_answer(nex_archive, tmp_path):
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, output = invoke(*reformat_args(nex_archive, tmp_path / "x.zarr", "tcp://127.0.0.1:9"))
    assert code == 1
    assert "no dask scheduler answers at tcp://127.0.0.1:9" in one_line_error(output)


def test_debug_log_level_shows_the_traceback(client, nex_archive, tmp_path):
    args = reformat_args(nex_archive, tmp_path / "x.zarr", client.scheduler.address)
    args[1] = "nope"
    with pytest.raises(KeyError, match="unknown dataset"):
        CliRunner().invoke(main, ["--log-level", "debug", *args], catch_exceptions=False)


def test_log_level_is_taken_after_the_command_too(client, nex_archive, tmp_path):
    args = reformat_args(nex_archive, tmp_path / "x.zarr", client.scheduler.address)
    args[1] = "nope"
    code, output = invoke(*args)
    assert code == 1
    assert "(add --log-level debug to the command for the traceback)" in output
    with pytest.raises(KeyError, match="unknown dataset"):
        CliRunner().invoke(main, [*args, "--log-level", "debug"], catch_exceptions=False)
    assert "--log-level" in invoke("reformat", "--help")[1]
    assert "--log-level" in invoke("normals", "--help")[1]


def test_every_option_has_help_and_required_ones_say_so():
    import click

    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("help", "version"):
                assert param.help, f"climaflow {name} {param.opts[0]} has no help text"
    code, output = invoke("reformat", "--help")
    assert code == 0
    assert "--store TEXT" in output and "[required]" in output
    assert "gfs-forecast    NOAA GFS" in output and "nex-gddp-cmip6  NASA NEX-GDDP-CMIP6" in output


def test_inventory_lists_an_archive_and_writes_csv(nex_archive, tmp_path):
    code, output = invoke(
        "inventory", "nex-gddp-cmip6", "--source-url", str(nex_archive),
        "--csv", str(tmp_path / "inventory.csv"),
    )  # fmt: skip
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == [
        "model", "scenario", "variable", "variant_label", "grid_label", "calendar",
        "first_year", "last_year", "years", "missing_years", "newest_version",
    ]  # fmt: skip
    assert lines[1].split() == [
        "NorESM2-LM", "ssp245", "tas", "r1i1p1f1", "gn", "noleap", "2015", "2016", "2"
    ]  # fmt: skip
    table = pd.read_csv(tmp_path / "inventory.csv")
    assert table[["model", "first_year", "last_year"]].values.tolist() == [
        ["NorESM2-LM", 2015, 2016]
    ]
    code, output = invoke(
        "inventory", "nex-gddp-cmip6", "--source-url", str(nex_archive), "--start", "2015"
    )
    assert code == 1 and "no --start/--end" in one_line_error(output)


def test_storage_options_reach_a_private_store_through_every_command(client, nex_archive, tmp_path):
    """A store behind a loopback server that wants a bearer token: --storage-option carries
    it to reformat (metadata, shards, run record), update and verify."""
    from tests.reformat.token_server import TokenServer

    header = '{"default_headers": {"Authorization": "Bearer store-token"}}'
    token = ["--storage-option", f"client_options={header}"]
    with TokenServer(tmp_path / "bucket", "store-token") as server:
        store = f"{server.url}/tas.zarr"
        code, output = invoke(*reformat_args(nex_archive, store, client.scheduler.address), *token)
        assert code == 0, output
        assert (tmp_path / "bucket" / "tas.zarr" / "zarr.json").exists()
        assert list((tmp_path / "bucket" / "tas.zarr.runs").glob("*.json"))
        scheduler = ["--scheduler", client.scheduler.address]
        code, output = invoke("verify", store, *scheduler, *token)
        assert code == 0 and ": OK" in output, output
        code, output = invoke("update", "nex-gddp-cmip6", "--store", store, "--end", "2017",
                              "--source-url", str(nex_archive), *scheduler, *token)  # fmt: skip
        assert code == 0 and "up to date" in output, output
        code, output = invoke("verify", store, *scheduler)  # no token: refused, said so
        assert code == 1 and "Error:" in output
        assert {r.authorization for r in server.requests if r.status != 401} == {
            "Bearer store-token"
        }
    code, output = invoke("verify", "x.zarr", "--storage-option", "nonsense")
    assert code == 2 and "'nonsense' is not KEY=VALUE" in output
