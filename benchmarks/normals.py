"""asv benchmarks of climate normals: 40 years of a 20 x 40 grid, window 30, 6 or 11 target years.

``peakmem_*`` measures only the benchmark process, so the pipeline runs on an in-process
cluster (``processes=False``) here; the full-size comparison with worker processes is
``benchmarks/compare_normals.py``. The pipeline runs in batches of 2 target years: its peak
memory is that of a lane's read-ahead, the same for 6 and 11 target years.
"""

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import xarray as xr
from distributed import Client, LocalCluster

from climaflow.normals import NormalsConfig, Region, daily_normals, run_normals
from climaflow.testing.nex_gddp_archive import write_synthetic_nex_gddp_archive

MODEL = "NorESM2-LM"
YEARS = range(1971, 2011)
TARGETS = {6: tuple(range(2005, 2011)), 11: tuple(range(2000, 2011))}
LAT = np.arange(30.125, 35, 0.25)  # 20 cells
LON = np.arange(250.125, 260, 0.25)  # 40 cells
REGION = Region("BENCH", 250, 260, 30, 35)


class NormalsSmall:
    """Normals of 6 or 11 target years from 40 yearly files of a 20 x 40 grid."""

    params = ([6, 11],)
    param_names: ClassVar[list[str]] = ["targets"]
    timeout = 600
    number = 1
    repeat = 3

    def setup_cache(self) -> str:
        root = Path(tempfile.mkdtemp(prefix="climaflow-asv-normals-"))
        write_synthetic_nex_gddp_archive(
            root / "archive", model=MODEL, years=YEARS, lat=LAT, lon=LON, seed=0
        )
        return str(root)

    def setup(self, root: str, targets: int) -> None:
        warnings.simplefilter("ignore")
        self.files = sorted((Path(root) / "archive").rglob("*.nc"))
        self.output = Path(root) / "output"
        shutil.rmtree(self.output, ignore_errors=True)
        self.cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        )
        self.client = Client(self.cluster)
        self.config = NormalsConfig(
            input=str(Path(root) / "archive"),
            output=self.output,
            models=(MODEL,),
            variables=("tas",),
            regions=(REGION,),
            scenarios=("ssp245",),
            target_years=TARGETS[targets],
            batch_size=2,
        )
        self.targets = TARGETS[targets]

    def teardown(self, root: str, targets: int) -> None:
        self.client.close()
        self.cluster.close()

    def _api(self) -> None:
        with xr.open_mfdataset(
            self.files,
            chunks={"time": -1},  # one chunk per yearly file
            decode_times=xr.coders.CFDatetimeCoder(use_cftime=True),
            combine="nested",
            concat_dim="time",
            data_vars="minimal",
            coords="minimal",
            compat="override",
        ) as ds:
            daily_normals(ds.tas, self.targets).compute(scheduler="threads")

    def _pipeline(self) -> None:
        summary = run_normals(self.config, self.client)
        assert summary.counts()["written"] == len(self.targets)
        shutil.rmtree(self.output)

    def time_daily_normals_api(self, root: str, targets: int) -> None:
        self._api()

    def peakmem_daily_normals_api(self, root: str, targets: int) -> None:
        self._api()

    def time_run_normals_pipeline(self, root: str, targets: int) -> None:
        self._pipeline()

    def peakmem_run_normals_pipeline(self, root: str, targets: int) -> None:
        self._pipeline()
