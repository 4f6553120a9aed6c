"""The pipeline on real NetCDF files and the session's real LocalCluster, against numpy references."""

import os
import shutil
from pathlib import Path

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr
from distributed import get_task_stream

from climaflow.datasets.nex_gddp_cmip6.filenames import NexGddpFile
from climaflow.datasets.nex_gddp_cmip6.models import UnknownModelError
from climaflow.normals import (
    REGIONS,
    MissingYearsWarning,
    NormalsConfig,
    Region,
    Status,
    make_periods,
    normal_path,
    run_normals,
)
from climaflow.reformat.run_record import read_run_records
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

MODEL = "NorESM2-LM"
LAT = np.array([49.5, 50.5, 51.5, 52.5, 53.5])  # AK starts at 50 N: the first row is outside
LON = np.array([168.5, 172.5, 176.5, 180.5, 184.5, 188.5, 192.5])  # 168.5 is outside AK
AK_ROWS, AK_COLUMNS = slice(1, None), slice(1, None)
PERIODS = make_periods(
    ranges={"historical": (1994, 2014), "hybrid": (2015, 2018), "future": (2019, 2028)}
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Historical 1990-2014 and two scenarios 2015-2026 of tas and pr, with random noise."""
    root = tmp_path_factory.mktemp("nex")
    common = {"model": MODEL, "variables": ["tas", "pr"], "lat": LAT, "lon": LON, "seed": 42}
    write_synthetic_nex_gddp_archive(root, scenario="historical", years=range(1990, 2015), **common)
    for scenario in ("ssp245", "ssp585"):
        write_synthetic_nex_gddp_archive(root, scenario=scenario, years=range(2015, 2027), **common)
    return root


@pytest.fixture
def archive_copy(archive: Path, tmp_path: Path) -> Path:
    """A copy of the archive that a test may damage."""
    return Path(shutil.copytree(archive, tmp_path / "archive"))


def config(archive: Path, output: Path, **changes) -> NormalsConfig:
    fields = {
        "input": str(archive),
        "output": output,
        "models": (MODEL,),
        "variables": ("tas",),
        "regions": (REGIONS["AK"],),
        "scenarios": ("ssp245",),
        "periods": PERIODS,
        "window": 5,
        "min_years": 4,
        "batch_size": 4,
    }
    return NormalsConfig(**{**fields, **changes})


def reference(archive: Path, variable: str, year_sources: list[tuple[str, int]]) -> np.ndarray:
    """Plain numpy: read each window year with netCDF4, float64 NaN-mean over the years."""
    stacked = []
    for scenario, year in year_sources:
        path = NexGddpFile(MODEL, scenario, variable, year).path(archive)
        with netCDF4.Dataset(path) as nc:
            values = nc[variable][:, AK_ROWS, AK_COLUMNS].filled(np.nan)
        stacked.append(values.astype(np.float64))
    return np.nanmean(np.stack(stacked), axis=0)


def output_path(output: Path, variable: str, scenario: str, target: int) -> Path:
    return normal_path(output, MODEL, variable, scenario, "AK", target, window=5)


def read_output(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, decode_times=False) as ds:
        return ds.load()


def test_every_period_and_scenario_matches_a_numpy_reference(archive, tmp_path, client):
    output = tmp_path / "out"
    run = config(archive, output, variables=("tas", "pr"), scenarios=("ssp245", "ssp585"))
    with pytest.warns(MissingYearsWarning, match=r"NorESM2-LM pr ssp585: no input file 2027"):
        summary = run_normals(run, client)

    counts = summary.counts()
    # Historical targets once whatever the scenarios; 2028 has 3 input years (2024-2026).
    assert counts[Status.WRITTEN] == 2 * (21 + 2 * 13)
    assert counts[Status.TOO_FEW_YEARS] == 2 * 2
    assert counts[Status.FAILED] == 0
    for variable in ("tas", "pr"):
        for scenario, target, expected_sources in [
            ("historical", 1994, [("historical", y) for y in range(1990, 1995)]),
            ("historical", 2014, [("historical", y) for y in range(2010, 2015)]),
            (
                "ssp245",
                2016,
                [
                    ("historical", 2012),
                    ("historical", 2013),
                    ("historical", 2014),
                    ("ssp245", 2015),
                    ("ssp245", 2016),
                ],
            ),
            (
                "ssp585",
                2016,
                [
                    ("historical", 2012),
                    ("historical", 2013),
                    ("historical", 2014),
                    ("ssp585", 2015),
                    ("ssp585", 2016),
                ],
            ),
            ("ssp585", 2026, [("ssp585", y) for y in range(2022, 2027)]),
        ]:
            normal = read_output(output_path(output, variable, scenario, target))
            assert normal[variable].dims == ("target_year", "dayofyear", "lat", "lon")
            assert normal[variable].dtype == np.float32
            np.testing.assert_array_equal(normal.lat, LAT[AK_ROWS])
            np.testing.assert_array_equal(normal.lon, LON[AK_COLUMNS])
            np.testing.assert_allclose(
                normal[variable].values[0],
                reference(archive, variable, expected_sources),
                rtol=2e-7,
            )
            assert list(normal.attrs["source_years"]) == [year for _, year in expected_sources]
            assert normal.attrs["source_scenarios"] == ",".join(s for s, _ in expected_sources)
            assert normal.attrs["scenario"] == scenario
            assert (
                normal.attrs["period"]
                == {1994: "historical", 2014: "historical", 2016: "hybrid", 2026: "future"}[target]
            )
    hybrid = read_output(output_path(output, "tas", "ssp245", 2016))
    assert hybrid.attrs["scenarios_used"] == "historical,ssp245"
    assert (
        hybrid.tas.attrs["units"] == "K" and hybrid.tas.attrs["standard_name"] == "air_temperature"
    )
    ssp245 = read_output(output_path(output, "tas", "ssp245", 2026)).tas
    ssp585 = read_output(output_path(output, "tas", "ssp585", 2026)).tas
    assert float((ssp585 - ssp245).mean()) > 0.1  # the scenarios are told apart
    assert not output_path(output, "tas", "ssp245", 2028).exists()
    short = [o for o in summary.outcomes if o.status == Status.TOO_FEW_YEARS]
    assert {o.target_year for o in short} == {2028}
    assert "3 of 5 window years have input files; 4 needed" in short[0].message
    table = summary.table()
    assert "too_few_years" in table and table.splitlines()[-1].split()[:3] == ["total", "94", "0"]


def test_missing_and_corrupt_years_are_left_out_and_named(archive_copy, tmp_path, client):
    for year in (1995, 1996, 1998, 2001):
        NexGddpFile(MODEL, "historical", "tas", year).path(archive_copy).unlink()
    corrupt = NexGddpFile(MODEL, "historical", "tas", 1999).path(archive_copy)
    corrupt.write_bytes(corrupt.read_bytes()[:3000])
    output = tmp_path / "out"
    run = config(archive_copy, output, window=8, min_years=4, target_years=(2000, 2001, 2002))
    with pytest.warns(MissingYearsWarning) as warned:
        summary = run_normals(run, client)

    (message,) = [str(w.message) for w in warned]
    assert "NorESM2-LM tas historical: no input file 1995-1996, 1998, 2001; unreadable 1999" in (
        message
    )
    by_target = {o.target_year: o for o in summary.outcomes}
    assert f"    1999: cannot open {corrupt}" in message
    ((source, year, reason),) = [e for e in by_target[2000].left_out if e[1] == 1999]
    assert (source, year) == ("historical", 1999) and f"cannot open {corrupt}" in reason
    assert by_target[2000].status == Status.WRITTEN
    assert by_target[2000].source_years == (1993, 1994, 1997, 2000)
    normal = read_output(by_target[2000].path)
    assert list(normal.attrs["source_years"]) == [1993, 1994, 1997, 2000]
    expected = reference(archive_copy, "tas", [("historical", y) for y in (1993, 1994, 1997, 2000)])
    np.testing.assert_allclose(normal.tas.values[0], expected, rtol=2e-7)
    for target in (2001, 2002):  # 4 files at planning, 3 readable
        assert by_target[target].status == Status.TOO_FEW_YEARS
        assert "3 of 8 window years usable; 4 needed" in by_target[target].message
        assert not by_target[target].path.exists()
    assert summary.counts()[Status.TOO_FEW_YEARS] == 2


def test_standard_calendar_drops_29_february(tmp_path, client):
    root = tmp_path / "standard"
    lat, lon = np.array([60.5, 61.5]), np.array([200.5, 201.5, 202.5])
    write_synthetic_nex_gddp_archive(
        root, model=MODEL, years=range(1998, 2004), lat=lat, lon=lon, calendar="standard", seed=1
    )
    run = config(root, tmp_path / "out", window=3, min_years=3, target_years=(2000, 2003))
    summary = run_normals(run, client)
    assert summary.counts()[Status.WRITTEN] == 2

    def calendar_day(year: int, month: int, day: int) -> np.ndarray:
        path = NexGddpFile(MODEL, "historical", "tas", year).path(root)
        with netCDF4.Dataset(path) as nc:
            dates = cftime.num2date(nc["time"][:], nc["time"].units, nc["time"].calendar)
            index = next(i for i, d in enumerate(dates) if (d.month, d.day) == (month, day))
            return nc["tas"][index].astype(np.float64)

    for target in (2000, 2003):  # a window with a leap year, one without
        normal = read_output(next(o.path for o in summary.outcomes if o.target_year == target)).tas
        assert normal.sizes["dayofyear"] == 365
        window = range(target - 2, target + 1)
        for dayofyear, (month, day) in {59: (2, 28), 60: (3, 1), 365: (12, 31)}.items():
            expected = np.mean([calendar_day(year, month, day) for year in window], axis=0)
            np.testing.assert_allclose(normal.sel(dayofyear=dayofyear)[0], expected, rtol=2e-7)


def test_alaska_on_a_minus_180_grid_equals_the_0_360_result(tmp_path, client):
    lat = np.array([58.5, 59.5, 60.5])
    lon360 = np.arange(2.0, 360, 4.0)
    lon180 = np.concatenate([lon360[lon360 > 180] - 360, lon360[lon360 <= 180]])
    results = {}
    for name, lon in (("east", lon360), ("signed", lon180)):
        root = tmp_path / name
        write_synthetic_nex_gddp_archive(
            root, model=MODEL, years=range(2000, 2005), lat=lat, lon=lon
        )
        run = config(root, tmp_path / f"out-{name}", window=5, min_years=5, target_years=(2004,))
        (outcome,) = run_normals(run, client).outcomes
        results[name] = read_output(outcome.path).tas
    signed, east = results["signed"], results["east"]
    np.testing.assert_array_equal(signed.lon, east.lon)
    assert (np.diff(signed.lon) > 0).all() and signed.lon[0] == 170 and signed.lon[-1] == 234
    np.testing.assert_allclose(signed, east, rtol=1e-6)


def test_valid_outputs_are_skipped_and_damaged_or_stale_ones_recomputed(
    archive_copy, tmp_path, client
):
    run = config(archive_copy, tmp_path / "out", target_years=tuple(range(2008, 2015)))
    first = run_normals(run, client)
    assert first.counts()[Status.WRITTEN] == 7
    paths = {o.target_year: o.path for o in first.outcomes}
    mtimes = {year: os.stat(path).st_mtime_ns for year, path in paths.items()}

    again = run_normals(run, client)
    assert again.counts()[Status.SKIPPED_VALID] == 7
    first_record, again_record = read_run_records(run.output)
    assert first_record["kind"] == "normals" and first_record["run_id"] in str(first.record)
    assert first_record["parameters"]["window"] == 5
    assert first_record["parameters"]["regions"][0]["name"] == "AK"
    assert "storage_options" not in first_record["parameters"]
    assert first_record["counts"]["written"] == 7 and again_record["counts"]["skipped_valid"] == 7
    target = next(t for t in first_record["targets"] if t["target_year"] == 2010)
    assert target["status"] == "written" and target["source_years"] == list(range(2006, 2011))
    assert target["path"] == str(paths[2010])
    assert set(first_record["seconds"]) == {"plan", "check_existing", "compute"}
    assert {year: os.stat(path).st_mtime_ns for year, path in paths.items()} == mtimes

    truncated = paths[2009]
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 3])
    with netCDF4.Dataset(paths[2010], "a") as nc:
        nc.window = np.int32(30)  # made with other parameters
    write_synthetic_nex_gddp_archive(
        archive_copy, model=MODEL, years=[], lat=LAT, lon=LON, revisions=[(2013, "tas")]
    )  # a new version of 2013: windows of 2013 and 2014 change
    third = run_normals(run, client)
    statuses = {o.target_year: o.status for o in third.outcomes}
    assert statuses == {
        2008: Status.SKIPPED_VALID,
        2009: Status.RECOMPUTED,
        2010: Status.RECOMPUTED,
        2011: Status.SKIPPED_VALID,
        2012: Status.SKIPPED_VALID,
        2013: Status.RECOMPUTED,
        2014: Status.RECOMPUTED,
    }
    assert read_output(paths[2010]).attrs["window"] == 5
    assert not list(paths[2009].parent.glob("*.tmp-*"))


def test_each_input_is_opened_once_for_every_region(archive, tmp_path, client):
    log_dir = tmp_path / "opens"
    log_dir.mkdir()

    def count_opens(directory: str) -> None:
        """Log every NetCDF file the workers' reads open (wrapping climaflow's one opening
        function: a subclass of netCDF4.Dataset left instances whose finalizers broke later
        tests on the shared workers)."""
        from contextlib import contextmanager

        from climaflow.normals import read

        original = read._open_netcdf

        @contextmanager
        def counting(path, location, **options):
            with open(f"{directory}/{os.getpid()}.log", "a") as log:
                log.write(f"{path}\n")
            with original(path, location, **options) as dataset:
                yield dataset

        read.climaflow_original_open = original
        read._open_netcdf = counting

    def restore() -> None:
        from climaflow.normals import read

        read._open_netcdf = read.climaflow_original_open

    def record_keys(dask_scheduler) -> None:
        from distributed.diagnostics.plugin import SchedulerPlugin

        class KeyRecorder(SchedulerPlugin):
            """Keys computed, with the worker restrictions the scheduler held for them."""

            name = "climaflow-test-keys"

            def __init__(self) -> None:
                self.keys = {}

            def transition(self, key, start, finish, *args, **kwargs) -> None:
                if finish == "memory":
                    state = dask_scheduler.tasks[key]
                    self.keys[key] = (state.worker_restrictions, state.loose_restrictions)

        dask_scheduler.add_plugin(KeyRecorder())

    def recorded_keys(dask_scheduler) -> dict:
        plugin = dask_scheduler.plugins.pop("climaflow-test-keys")
        return plugin.keys

    box = Region("BOX", 176, 190, 50, 54)
    run = config(
        archive,
        tmp_path / "out",
        regions=(REGIONS["AK"], box),
        periods=make_periods(["historical"], {"historical": (1994, 2014)}),
        batch_size=3,
    )
    client.run(count_opens, str(log_dir))
    client.run_on_scheduler(record_keys)
    try:
        with get_task_stream(client) as stream:
            summary = run_normals(run, client)
    finally:
        client.run(restore)
        keys = client.run_on_scheduler(recorded_keys)
    assert summary.counts()[Status.WRITTEN] == 2 * 21

    opened = [line for log in log_dir.glob("*.log") for line in log.read_text().splitlines()]
    inputs = [line for line in opened if str(archive) in line]
    expected = {
        str(NexGddpFile(MODEL, "historical", "tas", y).path(archive)) for y in range(1990, 2015)
    }
    assert set(inputs) == expected
    assert all(inputs.count(path) == 1 for path in expected)  # 2 regions, 21 target years

    groups = {key[0] for key in keys if isinstance(key, tuple)}
    assert {"yearsum-tas", "normals-tas-AK", "normals-tas-BOX"} <= groups
    assert any(key[0] == "yearsum-tas" and key[2:] == (MODEL, "historical", 1990) for key in keys)
    assert len([key for key in keys if key[0] == "yearsum-tas"]) == 25
    assert len([key for key in keys if key[0] == "normals-tas-BOX"]) == 7

    # The lane annotations reached the scheduler: the regions' batches interleave by target
    # year, the first half of the years for the first worker (batches 0-2 of both regions and
    # AK's 3rd), the second half for the second; loosely, so an idle worker may take one.
    workers = sorted(client.scheduler_info()["workers"])
    batches = {key: keys[key] for key in keys if key[0].startswith("normals-tas")}
    assert len(batches) == 14
    for key, (restrictions, loose) in batches.items():
        lane = 0 if (key[-1], key[0]) <= (3, "normals-tas-AK") else -1
        assert (restrictions, loose) == ({workers[lane]}, True), key
    ran_on = {task["key"]: task["worker"] for task in stream.data}
    in_lane = [ran_on[key] in restrictions for key, (restrictions, _) in batches.items()]
    assert sum(in_lane) >= 10, ran_on


def test_over_http_each_input_is_fetched_about_once_per_run(tmp_path, client):
    """2 variables x 3 regions over the loopback server: each file's bytes are served about
    once (planning reads one header per variable by byte ranges), and the outputs equal
    those of the same run on the local files."""
    root = tmp_path / "archive"
    lat = np.arange(46.25, 60, 0.5)  # 28 x 44 cells: files of about 0.8 MB
    lon = np.arange(170.25, 192, 0.5)
    write_synthetic_nex_gddp_archive(
        root, model=MODEL, variables=["tas", "pr"], years=range(1990, 2001), lat=lat, lon=lon
    )
    regions = (REGIONS["AK"], Region("WEST", 170, 180, 46, 56), Region("EAST", 182, 191, 50, 58))
    periods = make_periods(["historical"], {"historical": (1994, 2000)})
    changes = {"variables": ("tas", "pr"), "regions": regions, "periods": periods}
    local = run_normals(config(root, tmp_path / "local", **changes), client)
    assert local.counts()[Status.WRITTEN] == 2 * 3 * 7

    with serve_directory(root) as server:
        remote = run_normals(config(server.url, tmp_path / "remote", **changes), client)
        served: dict[str, int] = {}
        for request in server.requests:
            if request.path.endswith(".nc"):
                served[request.path] = served.get(request.path, 0) + request.bytes_sent
    assert remote.counts()[Status.WRITTEN] == 2 * 3 * 7
    files = sorted(root.rglob("*.nc"))
    assert len(files) == 2 * 11
    for file in files:
        ratio = served["/" + file.relative_to(root).as_posix()] / file.stat().st_size
        assert 1.0 <= ratio <= 1.1, f"{file.name} served {ratio:.2f} times its size"
    for outcome in local.outcomes:
        relative = outcome.path.relative_to(tmp_path / "local")
        with (
            xr.open_dataset(outcome.path) as expected,
            xr.open_dataset(tmp_path / "remote" / relative) as actual,
        ):
            del actual.attrs["creation_date"], expected.attrs["creation_date"]
            xr.testing.assert_identical(actual, expected)


def test_a_failed_write_is_reported_not_raised(archive, tmp_path, client):
    run = config(archive, tmp_path / "out", target_years=(2013, 2014))
    blocked = output_path(tmp_path / "out", "tas", "historical", 2014)
    blocked.mkdir(parents=True)  # a directory where the file should go
    summary = run_normals(run, client)
    by_target = {o.target_year: o for o in summary.outcomes}
    assert by_target[2013].status == Status.WRITTEN
    assert by_target[2014].status == Status.FAILED and "Is a directory" in by_target[2014].message
    assert summary.failed == 1


def test_bad_input_is_a_clear_error_before_any_work(archive, tmp_path, client):
    with pytest.raises(FileNotFoundError, match=r"no input for variable 'huss'.*historical"):
        run_normals(config(archive, tmp_path, variables=("huss",)), client)
    with pytest.raises(ValueError, match=r"CONUS .* contains no cell"):
        run_normals(config(archive, tmp_path, regions=(REGIONS["CONUS"],)), client)
    with pytest.raises(UnknownModelError, match="'NoSuchModel' is not listed"):
        run_normals(config(archive, tmp_path, models=("NoSuchModel",)), client)
    with pytest.raises(ValueError, match="min_years must be between 1 and the window"):
        config(archive, tmp_path, min_years=6)
    with pytest.raises(ValueError, match="a variant or grid label applies to one model"):
        config(archive, tmp_path, models=(MODEL, "CESM2"), variant_label="r1i1p1f1")
    with pytest.raises(
        ValueError, match=r"target years 1950-1952, 2200 are outside the periods computed \("
    ):
        config(archive, tmp_path, target_years=(1950, 1951, 1952, 2000, 2200))
