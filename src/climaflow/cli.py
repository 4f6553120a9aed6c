"""The ``climaflow`` command line: a thin layer over the Python API."""

import click

from climaflow import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="climaflow")
def main() -> None:
    """climaflow: reformat GRIB2/NetCDF archives into sharded Zarr v3 stores and compute
    rolling 30-year daily climate normals, on a Dask cluster.

    Runs on a LocalCluster sized to this machine by default, or on a running
    `dask scheduler` given with --scheduler or DASK_SCHEDULER_ADDRESS.
    """
