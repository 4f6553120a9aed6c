"""climaflow's section of ``dask.config``.

Importing this module registers the defaults in ``climaflow.yaml`` with Dask's configuration
system, so every setting can be overridden the usual Dask ways (YAML files in
``~/.config/dask/``, ``DASK_CLIMAFLOW__...`` environment variables, ``dask.config.set``).
"""

from pathlib import Path
from typing import Any

import dask.config
import yaml

_DEFAULTS_FILE = Path(__file__).with_name("climaflow.yaml")

with _DEFAULTS_FILE.open() as f:
    _defaults = yaml.safe_load(f)

dask.config.update_defaults(_defaults)


def get(key: str) -> Any:
    """Return ``climaflow.<key>`` from ``dask.config``, e.g. ``get("io.max-retries")``."""
    return dask.config.get(f"climaflow.{key}")
