"""asv benchmarks of ``gfs-forecast`` reformats with the real template at the real 0.25° grid.

Run: ``.venv/bin/asv run --python=same --quick --show-stderr --bench GfsReformat``

The archive (written once by ``setup_cache``, about 15 s) is one synthetic init time with
7 hourly leads (0-6) of real GRIB2 with ``.idx`` inventories at 721 x 1440; the template
is the real one (209 leads declared, shards 1 x 210 x 363 x 363), so each variable's task
decodes 6 or 7 fields and writes 8 shards of 110 MB uncompressed. The reformat runs on an
in-process cluster (``processes=False``, 1 worker x 2 threads) so that ``peakmem_`` sees
the workers' memory: a variable's task holds its decoded fields and one tile of one shard,
not the variable's whole 868 MB init-time array.
"""

import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

from climaflow.datasets.gfs_forecast import GfsForecastRegionJob, make_gfs_template
from climaflow.reformat.runner import reformat
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive

INIT = np.datetime64("2024-01-01T00", "ns")
END = INIT + np.timedelta64(6, "h")
LEADS = range(7)


class GfsReformat:
    """One init time, all six variables, at 0.25°, into a fresh store."""

    timeout = 600
    number = 1
    repeat = 2

    def setup_cache(self) -> str:
        root = Path(tempfile.mkdtemp(prefix="climaflow-asv-gfs-"))
        write_synthetic_gfs_archive(root / "archive", [INIT], LEADS, 0.25)
        return str(root)

    def setup(self, root: str) -> None:
        warnings.simplefilter("ignore")
        self.root = Path(root)
        self.store = self.root / "gfs.zarr"
        shutil.rmtree(self.store, ignore_errors=True)
        self.cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        )
        self.client = Client(self.cluster)
        self.template = make_gfs_template()
        # The 202 leads the archive lacks fail fast as "not found": keep their warnings quiet.
        logging.getLogger("climaflow").setLevel(logging.ERROR)

    def teardown(self, root: str) -> None:
        self.client.close()
        self.cluster.close()
        shutil.rmtree(self.store, ignore_errors=True)

    def _run(self) -> None:
        reformat(
            self.template,
            GfsForecastRegionJob,
            self.store,
            start=INIT,
            end=END,
            client=self.client,
            source_url=str(self.root / "archive"),
            download_dir=self.root / "downloads",
        )

    def time_reformat_one_init(self, root: str) -> None:
        self._run()

    def peakmem_reformat_one_init(self, root: str) -> None:
        self._run()
