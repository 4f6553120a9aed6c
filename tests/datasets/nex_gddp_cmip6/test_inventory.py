"""The inventory of a NEX-GDDP-CMIP6 archive: labels, calendars, years, gaps and revisions."""

import pandas as pd
import pytest

from climaflow.datasets.nex_gddp_cmip6.inventory import nex_gddp_inventory
from climaflow.testing.http_server import serve_directory
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

GRID = {"resolution_degrees": 60.0}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("nex")
    write_synthetic_nex_gddp_archive(
        root, model="UKESM1-0-LL", variables=("tas", "pr"), years=[2010, 2011, 2014], **GRID
    )
    write_synthetic_nex_gddp_archive(
        root,
        model="UKESM1-0-LL",
        scenario="ssp585",
        years=[2015, 2016],
        revisions=[(2016, "tas")],
        **GRID,
    )
    write_synthetic_nex_gddp_archive(root, model="GFDL-ESM4", years=[2014], **GRID)
    write_synthetic_nex_gddp_archive(
        root, model="MyModel", years=[2014], variant_label="r2i1p1f2", grid_label="gr", **GRID
    )
    return root


def test_each_series_with_its_labels_calendar_and_years(archive):
    table = nex_gddp_inventory(str(archive))
    # fmt: off
    rows = [
        ["GFDL-ESM4", "historical", "tas", "r1i1p1f1", "gr1", "noleap", 2014, 2014, 1, "", ""],
        ["MyModel", "historical", "tas", "r2i1p1f2", "gr", "", 2014, 2014, 1, "", ""],
        ["UKESM1-0-LL", "historical", "pr", "r1i1p1f2", "gn", "360_day", 2010, 2014, 3, "2012-2013", ""],
        ["UKESM1-0-LL", "historical", "tas", "r1i1p1f2", "gn", "360_day", 2010, 2014, 3, "2012-2013", ""],
        ["UKESM1-0-LL", "ssp585", "tas", "r1i1p1f2", "gn", "360_day", 2015, 2016, 2, "", "v1.1"],
    ]
    # fmt: on
    pd.testing.assert_frame_equal(table, pd.DataFrame(rows, columns=table.columns))


def test_models_restrict_the_listing_and_unknown_ones_are_named(archive):
    table = nex_gddp_inventory(str(archive), models=["GFDL-ESM4"])
    assert table["model"].tolist() == ["GFDL-ESM4"]
    with pytest.raises(FileNotFoundError, match=r"has no model Nope \(it has: GFDL-ESM4, MyModel"):
        nex_gddp_inventory(str(archive), models=["Nope"])


def test_an_archive_without_listings_is_a_clear_error(archive):
    with serve_directory(archive) as server, pytest.raises(FileNotFoundError, match="cannot list"):
        nex_gddp_inventory(server.url)
