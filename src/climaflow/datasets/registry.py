"""The dataset integrations climaflow ships, by name."""

import dataclasses
import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import zarr

from climaflow.io.stores import StoreLike, open_store, store_exists
from climaflow.reformat.region_job import RegionJob
from climaflow.reformat.template import Template

#: The store attribute holding the template options a store was made with.
TEMPLATE_OPTIONS_ATTR = "climaflow_template_options"


@dataclass(frozen=True)
class DatasetIntegration:
    """A dataset climaflow can reformat: how to build its template and its region jobs.

    Attributes
    ----------
    dataset_id
        The name used on the command line (``gfs-forecast``).
    description
        One line for ``climaflow datasets``.
    make_template
        Builds the template; keyword arguments select e.g. model and scenario.
    region_job
        The :class:`RegionJob` subclass; takes ``source_url``.
    default_source_url
        Where the real archive lives.
    inventory
        What the source holds, as a DataFrame: ``inventory(source_url, start=, end=,
        options=)`` (``climaflow inventory``); ``None``: the integration has none.
    """

    dataset_id: str
    description: str
    make_template: Callable[..., Template[Any]]
    region_job: type[RegionJob[Any, Any]]
    default_source_url: str
    inventory: Callable[..., "pd.DataFrame"] | None = None

    def template_options(self) -> dict[str, type]:
        """Keyword arguments :attr:`make_template` accepts from the command line, with types.

        ``source_url`` is not one: it has its own option and reaches templates that take it
        (to look labels up in the archive) through :meth:`make_template_from_options`.
        """
        options = {}
        for name, parameter in inspect.signature(self.make_template).parameters.items():
            text_type = _text_type(parameter.annotation)
            if text_type is not None and name != "source_url":
                options[name] = text_type
        return options

    def make_template_from_options(
        self, options: Mapping[str, str], source_url: str | None = None
    ) -> Template[Any]:
        """The template for ``KEY=VALUE`` options given as text (``resolution_degrees=1.0``).

        ``source_url`` is passed on when :attr:`make_template` takes it.
        """
        accepted = self.template_options()
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ValueError(
                f"{self.dataset_id} has no option {', '.join(unknown)}; "
                f"it takes: {', '.join(accepted) or 'none'}"
            )
        try:
            values: dict[str, Any] = {name: accepted[name](text) for name, text in options.items()}
        except ValueError as error:
            raise ValueError(f"{self.dataset_id}: bad option value: {error}") from error
        if (
            source_url is not None
            and "source_url" in inspect.signature(self.make_template).parameters
        ):
            values["source_url"] = source_url
        template = self.make_template(**values)
        # Kept in the store's attributes, so `climaflow update` rebuilds this template.
        attrs = {**template.attrs, TEMPLATE_OPTIONS_ATTR: dict(options)}
        return dataclasses.replace(template, attrs=attrs)


def stored_template_options(
    store: StoreLike, storage_options: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The ``-o KEY=VALUE`` options the store at ``store`` was made with (``storage_options``
    open it when it is a URL).

    Raises
    ------
    FileNotFoundError
        When there is no Zarr store at ``store``.
    ValueError
        When the store does not record them (made from Python, or by an older climaflow):
        rebuilding its template from defaults could write another model's data into it.
    """
    opened = open_store(store, storage_options=storage_options)
    if not store_exists(opened):
        raise FileNotFoundError(f"no Zarr store at {store}: create it with `climaflow reformat`")
    options = zarr.open_group(opened, mode="r").attrs.get(TEMPLATE_OPTIONS_ATTR)
    if options is None:
        raise ValueError(
            f"the store at {store} does not record the template options it was made with: "
            "run `climaflow reformat` on it once with the same -o options (for its last "
            "values) to record them"
        )
    assert isinstance(options, Mapping), f"{TEMPLATE_OPTIONS_ATTR} of {store} is not a mapping"
    return {str(key): str(value) for key, value in options.items()}


def _text_type(annotation: Any) -> type | None:
    """``str``, ``int`` or ``float`` for options of that type (or that type or ``None``)."""
    if isinstance(annotation, type) and annotation in (str, int, float):
        return annotation
    if isinstance(annotation, types.UnionType):
        members = [member for member in annotation.__args__ if member is not type(None)]
        if len(members) == 1:
            return _text_type(members[0])
    return None


def integrations() -> Mapping[str, DatasetIntegration]:
    """Every shipped integration by ``dataset_id`` (imported on first use)."""
    from climaflow.datasets.gfs_forecast import GFS_FORECAST
    from climaflow.datasets.nex_gddp_cmip6 import NEX_GDDP_CMIP6

    return {integration.dataset_id: integration for integration in (GFS_FORECAST, NEX_GDDP_CMIP6)}


def get_integration(dataset_id: str) -> DatasetIntegration:
    """The integration called ``dataset_id``; ``KeyError`` listing the known ones."""
    known = integrations()
    if dataset_id not in known:
        raise KeyError(f"unknown dataset {dataset_id!r}; known: {', '.join(sorted(known))}")
    return known[dataset_id]
