"""The inventory of a GFS archive over loopback HTTP: each init time's published leads."""

import numpy as np
import pandas as pd

from climaflow.datasets.gfs_forecast.inventory import gfs_inventory
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive
from climaflow.testing.http_server import serve_directory

INIT = np.datetime64("2024-01-01T00", "ns")
HOURS = np.timedelta64(6, "h")
LEADS = (0, 1, 2, 3, 6, 9)


def test_each_init_s_published_leads(tmp_path):
    write_synthetic_gfs_archive(tmp_path, [INIT], LEADS, variables=["temperature_2m"])
    write_synthetic_gfs_archive(tmp_path, [INIT + HOURS], (0, 1, 3), variables=["temperature_2m"])
    with serve_directory(tmp_path) as server:
        table = gfs_inventory(
            "2023-12-31T23", "2024-01-01T13", source_url=server.url, lead_times_hours=LEADS
        )
        heads = [r for r in server.requests if r.method == "HEAD"]

    expected = pd.DataFrame(
        {
            "init_time": [INIT, INIT + HOURS, INIT + 2 * HOURS],
            "leads": [6, 3, 0],
            "of": [6, 6, 6],
            "complete": [True, False, False],
            "last_lead_hours": [9.0, 3.0, np.nan],
            "missing_leads_hours": ["", "2, 6-9", "0-9"],
        }
    )
    pd.testing.assert_frame_equal(table, expected)
    assert len(heads) == 3 * len(LEADS)  # one per (init, lead) .idx, nothing downloaded
