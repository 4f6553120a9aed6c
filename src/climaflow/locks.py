"""The process-wide lock around netCDF4/HDF5 calls.

netCDF-C and HDF5 are not thread-safe, and xarray's own locks cover reads of open files but
not concurrent opens. A Dask worker runs several tasks at once in threads, so every climaflow
open, read, write and close of a NetCDF file holds :data:`NETCDF_LOCK`; parallelism comes
from worker processes.
"""

import threading

NETCDF_LOCK = threading.Lock()
