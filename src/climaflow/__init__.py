"""climaflow: reformat weather and climate archives into sharded Zarr v3, and compute climate normals."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("climaflow")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
