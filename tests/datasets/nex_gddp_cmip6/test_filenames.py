"""File names and layout of the NEX-GDDP-CMIP6 archive."""

from pathlib import Path

import pytest

from climaflow.datasets.nex_gddp_cmip6.filenames import (
    DEFAULT_BASE_URL,
    NexGddpFile,
    newest_versions,
    parse_filename,
    version_key,
)


def test_names_and_paths_follow_the_archive_layout():
    file = NexGddpFile(model="NorESM2-LM", scenario="ssp245", variable="tas", year=2050)
    assert file.filename == "tas_day_NorESM2-LM_ssp245_r1i1p1f1_gn_2050.nc"
    assert file.relative_path == f"NorESM2-LM/ssp245/r1i1p1f1/tas/{file.filename}"
    assert file.path("/data") == Path("/data/NorESM2-LM/ssp245/r1i1p1f1/tas") / file.filename
    assert file.url() == f"{DEFAULT_BASE_URL}/{file.relative_path}"
    assert DEFAULT_BASE_URL == "https://nex-gddp-cmip6.s3-us-west-2.amazonaws.com/NEX-GDDP-CMIP6"
    assert (
        file.url("http://127.0.0.1:8000/nex/") == f"http://127.0.0.1:8000/nex/{file.relative_path}"
    )


def test_revised_versions_carry_a_suffix():
    file = NexGddpFile("ACCESS-CM2", "historical", "pr", 1950).with_version("v1.1")
    assert file.filename == "pr_day_ACCESS-CM2_historical_r1i1p1f1_gn_1950_v1.1.nc"


@pytest.mark.parametrize(
    "name",
    [
        "tas_day_NorESM2-LM_ssp245_r1i1p1f1_gn_2050.nc",
        "tasmax_day_MPI-ESM1-2-HR_historical_r1i1p1f1_gn_1950_v1.1.nc",
        "pr_day_EC-Earth3-Veg-LR_ssp585_r1i1p1f1_gn_2100_v2.0.nc",
        "hurs_day_UKESM1-0-LL_ssp370_r1i1p1f2_gn_2015.nc",
        "tas_day_GFDL-ESM4_ssp245_r1i1p1f1_gr1_2050.nc",
        "pr_day_GFDL-CM4_gr2_historical_r1i1p1f1_gr2_1990.nc",
        "tasmax_day_CESM2_ssp585_r4i1p1f1_gn_2080_v1.1.nc",
        "tas_day_HadGEM3-GC31-LL_ssp245_r1i1p1f3_gn_2015.nc",
    ],
)
def test_parse_inverts_build(name):
    assert parse_filename(name).filename == name
    assert parse_filename(f"/some/dir/{name}") == parse_filename(name)


def test_parse_reads_every_field():
    file = parse_filename("tasmin_day_CMCC-ESM2_ssp585_r1i1p1f1_gn_2071_v1.1.nc")
    assert file == NexGddpFile("CMCC-ESM2", "ssp585", "tasmin", 2071, "v1.1")
    gr2 = parse_filename("pr_day_GFDL-CM4_gr2_historical_r1i1p1f1_gr2_1990.nc")
    assert (gr2.model, gr2.grid_label) == ("GFDL-CM4_gr2", "gr2")
    inm = parse_filename("tas_day_INM-CM5-0_ssp585_r1i1p1f1_gr1_2030.nc")
    assert (inm.model, inm.variant_label, inm.grid_label) == ("INM-CM5-0", "r1i1p1f1", "gr1")


@pytest.mark.parametrize(
    "name",
    [
        "tas_day_NorESM2-LM_ssp245_r1i1p1f1_gn_2050.nc4",
        "tas_mon_NorESM2-LM_ssp245_r1i1p1f1_gn_2050.nc",
        "tas_day_NorESM2-LM_ssp245_r1i1p1f1_gn_20500101-20501231.nc",
        "tas_day_NorESM2-LM_ssp245_r1i1p1f1_gn_2050_v1.nc",
        "README.md",
    ],
)
def test_parse_refuses_other_names(name):
    with pytest.raises(ValueError, match="not a NEX-GDDP-CMIP6 file name"):
        parse_filename(name)


def test_version_order():
    assert version_key(None) < version_key("v1.1") < version_key("v1.2") < version_key("v2.0")
    with pytest.raises(ValueError, match="not a NEX-GDDP-CMIP6 version"):
        version_key("1.1")
    with pytest.raises(ValueError):
        NexGddpFile("M", "historical", "tas", 2000, version="latest")


def test_newest_version_of_each_year_wins_and_never_two():
    original = [NexGddpFile("M", "historical", "tas", year) for year in (2000, 2001, 2002)]
    revised = [
        NexGddpFile("M", "historical", "tas", 2001, "v1.1"),
        NexGddpFile("M", "historical", "tas", 2002, "v2.0"),
        NexGddpFile("M", "historical", "tas", 2002, "v1.1"),
    ]
    other_variable = NexGddpFile("M", "historical", "pr", 2001)
    kept = newest_versions([*revised, *original, other_variable])
    assert [(f.variable, f.year, f.version) for f in kept] == [
        ("pr", 2001, None),
        ("tas", 2000, None),
        ("tas", 2001, "v1.1"),
        ("tas", 2002, "v2.0"),
    ]
