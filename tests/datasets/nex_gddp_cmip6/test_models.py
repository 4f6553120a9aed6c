"""Each model's variant label, grid label and calendar: given, listed, or from the table."""

from pathlib import Path

import numpy as np
import pytest

from climaflow.datasets.nex_gddp_cmip6.models import (
    NEX_GDDP_MODELS,
    UnknownModelError,
    archive_models,
    resolve_model,
)
from climaflow.datasets.nex_gddp_cmip6.template import make_nex_gddp_template
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

GRID = {"lat": np.array([10.5]), "lon": np.array([20.5])}


@pytest.mark.parametrize(
    ("model", "variant", "grid", "calendar"),
    [
        ("UKESM1-0-LL", "r1i1p1f2", "gn", "360_day"),
        ("HadGEM3-GC31-LL", "r1i1p1f3", "gn", "360_day"),
        ("HadGEM3-GC31-MM", "r1i1p1f3", "gn", "360_day"),
        ("KACE-1-0-G", "r1i1p1f1", "gr", "360_day"),
        ("CNRM-CM6-1", "r1i1p1f2", "gr", "standard"),
        ("MIROC-ES2L", "r1i1p1f2", "gn", "standard"),
        ("CESM2", "r4i1p1f1", "gn", "noleap"),
        ("CESM2-WACCM", "r3i1p1f1", "gn", "noleap"),
        ("GFDL-ESM4", "r1i1p1f1", "gr1", "noleap"),
        ("INM-CM5-0", "r1i1p1f1", "gr1", "365_day"),
        ("KIOST-ESM", "r1i1p1f1", "gr1", "365_day"),
        ("GFDL-CM4_gr2", "r1i1p1f1", "gr2", "noleap"),
        ("NorESM2-LM", "r1i1p1f1", "gn", "noleap"),
    ],
)
def test_the_table_knows_the_real_archives_labels(model, variant, grid, calendar):
    info = NEX_GDDP_MODELS[model]
    assert (info.variant_label, info.grid_label, info.calendar) == (variant, grid, calendar)


def test_the_table_holds_the_35_models():
    assert len(NEX_GDDP_MODELS) == 35
    assert all(name == info.name for name, info in NEX_GDDP_MODELS.items())


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("labels")
    write_synthetic_nex_gddp_archive(root, model="GFDL-ESM4", years=[2000], **GRID)
    write_synthetic_nex_gddp_archive(
        root, model="NewModel-1", years=[2000], variant_label="r2i1p1f1", grid_label="gr2", **GRID
    )
    return root


def test_labels_come_from_the_listing_first(archive):
    info = resolve_model(str(archive), "NewModel-1", "historical")
    assert (info.variant_label, info.grid_label, info.calendar) == ("r2i1p1f1", "gr2", None)
    known = resolve_model(str(archive), "GFDL-ESM4", "historical")
    assert (known.variant_label, known.grid_label, known.calendar) == ("r1i1p1f1", "gr1", "noleap")


def test_given_labels_win(archive):
    info = resolve_model(
        str(archive), "GFDL-ESM4", "historical", variant_label="r3i1p1f1", grid_label="gr"
    )
    assert (info.variant_label, info.grid_label) == ("r3i1p1f1", "gr")


def test_without_a_listing_the_table_is_used(archive):
    with serve_directory(archive) as server:
        info = resolve_model(server.url, "UKESM1-0-LL", "ssp245")
        assert (info.variant_label, info.grid_label) == ("r1i1p1f2", "gn")
        with pytest.raises(UnknownModelError, match="'NewModel-1' is not listed"):
            resolve_model(server.url, "NewModel-1", "historical")
        assert archive_models(server.url) == sorted(NEX_GDDP_MODELS)
    assert resolve_model(None, "CESM2", "ssp585").variant_label == "r4i1p1f1"


def test_several_variants_need_a_choice(tmp_path):
    for variant in ("r1i1p1f1", "r2i1p1f1"):
        write_synthetic_nex_gddp_archive(
            tmp_path, model="NewModel-1", years=[2000], variant_label=variant, **GRID
        )
        write_synthetic_nex_gddp_archive(
            tmp_path, model="CESM2", years=[2000], variant_label=variant, **GRID
        )
    with pytest.raises(ValueError, match=r"several variants \(r1i1p1f1, r2i1p1f1\).*--variant"):
        resolve_model(str(tmp_path), "NewModel-1", "historical")
    with pytest.raises(ValueError, match="several variants"):
        resolve_model(str(tmp_path), "CESM2", "historical")  # the table's r4i1p1f1 is absent
    chosen = resolve_model(str(tmp_path), "NewModel-1", "historical", variant_label="r2i1p1f1")
    assert (chosen.variant_label, chosen.grid_label) == ("r2i1p1f1", "gn")


def test_the_archive_lists_its_models(archive):
    assert archive_models(str(archive)) == ["GFDL-ESM4", "NewModel-1"]


def test_templates_take_each_models_labels_and_calendar(archive):
    ukesm = make_nex_gddp_template(model="UKESM1-0-LL", scenario="ssp245", resolution_degrees=10.0)
    assert (ukesm.variant_label, ukesm.grid_label, ukesm.calendar) == (
        "r1i1p1f2",
        "gn",
        "360_day",
    )
    times = ukesm.dimension_coordinates(2016)["time"]
    assert times.size == 360 and times[59].strftime("%m-%d") == "02-30"
    listed = make_nex_gddp_template(
        model="NewModel-1", source_url=str(archive), resolution_degrees=10.0
    )
    assert (listed.variant_label, listed.grid_label, listed.calendar) == (
        "r2i1p1f1",
        "gr2",
        "noleap",
    )
    with pytest.raises(UnknownModelError):
        make_nex_gddp_template(model="NewModel-1", resolution_degrees=10.0)
