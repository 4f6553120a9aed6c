"""Secrets stay out of records and messages; config files cannot construct objects."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from climaflow.cli import main
from climaflow.datasets.nex_gddp_cmip6 import NexGddpRegionJob, make_nex_gddp_template
from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile
from climaflow.io.urls import redact_url
from climaflow.normals import normal_path
from climaflow.reformat.runner import reformat
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (
            "https://user:pw@host/a/b.nc?X-Amz-Signature=abc&X-Amz-Credential=k",
            "https://host/a/b.nc",
        ),
        ("http://127.0.0.1:8080/x.grib2#frag", "http://127.0.0.1:8080/x.grib2"),
        ("s3://bucket/key.nc?versionId=1", "s3://bucket/key.nc"),
        ("/data/archive/x.nc", "/data/archive/x.nc"),
    ],
)
def test_urls_lose_credentials_and_query_strings(url, redacted):
    assert redact_url(url) == redacted


def test_credentials_in_a_source_url_never_reach_records_or_errors(client, tmp_path):
    archive = tmp_path / "archive"
    write_synthetic_nex_gddp_archive(
        archive, variables=("tas",), years=[1950], resolution_degrees=30.0
    )
    store = tmp_path / "tas.zarr"
    with serve_directory(archive) as server:
        plain_url = server.url
        secret_url = plain_url.replace("http://", "http://alice:s3cr3t@")
        result = reformat(
            make_nex_gddp_template(
                variables=("tas",),
                resolution_degrees=30.0,
                chunks=(365, 5, 12),
                shards=(365, 5, 12),
            ),
            NexGddpRegionJob,
            store,
            start=1950,
            end=1952,  # 1951 does not exist: a failure whose record names the URL
            client=client,
            source_url=secret_url,
        )
    (failed,) = result.failed_files
    assert failed["url"].startswith(plain_url)
    record = Path(result.record).read_text()
    assert json.loads(record)["files"]
    for text in (json.dumps(result.failed_files), record, json.dumps(failed)):
        assert "s3cr3t" not in text and "alice" not in text


def test_config_files_are_read_without_constructing_objects(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("input: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load(config.read_text())
    result = CliRunner().invoke(main, ["normals", "--config", str(config)])
    assert result.exit_code != 0
    assert "pwned" not in result.output


@pytest.mark.parametrize("name", ["..", "../../etc", "/abs", "a/b", "a\\b", "", ".hidden", "x\x00"])
def test_names_that_become_paths_cannot_leave_the_output(tmp_path, name):
    with pytest.raises(ValueError, match="cannot be used in a path"):
        normal_path(tmp_path, name, "tas", "ssp245", "CONUS", 2015)
    with pytest.raises(ValueError, match="cannot be used in a path"):
        normal_path(tmp_path, "CESM2", name, "ssp245", "CONUS", 2015)
    with pytest.raises(ValueError, match="cannot be used in a path"):
        normal_path(tmp_path, "CESM2", "tas", "ssp245", name, 2015)
    with pytest.raises(ValueError, match="cannot be used in a path"):
        NexGddpFile(model=name, scenario="ssp245", variable="tas", year=2015)
    with pytest.raises(ValueError, match="cannot be used in a path"):
        NexGddpFile(model="CESM2", scenario="ssp245", variable="tas", year=2015, grid_label=name)
    with pytest.raises(ValueError, match="cannot be used in a path"):
        make_nex_gddp_template(scenario=name)


def test_the_cli_refuses_escaping_names_in_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "normals",
            "--input",
            str(tmp_path),
            "--output",
            str(tmp_path / "out"),
            "--model",
            "NorESM2-LM",
            "--variables",
            "tas",
            "--regions",
            "../evil:0,10,0,10",
        ],
    )
    assert result.exit_code != 0
    assert "Error: region name '../evil'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        main,
        [
            "reformat",
            "nex-gddp-cmip6",
            "--store",
            str(tmp_path / "x.zarr"),
            "--start",
            "2015",
            "--end",
            "2016",
            "-o",
            "model=../../x",
        ],
    )
    assert result.exit_code == 1
    assert "model '../../x' cannot be used in a path" in result.output
    assert not (tmp_path / "x.zarr").exists()
