"""Quick looks at climaflow's outputs: maps, annual cycles and lead-time series.

Needs the ``viz`` extra (matplotlib); with cartopy installed, maps are drawn on a
Plate Carrée projection with coastlines. Every function draws into ``ax`` (a new figure's
axes by default) and returns the axes; :func:`save` writes a PNG.

Normals are the ``(target_year, dayofyear, lat, lon)`` arrays climaflow writes (one NetCDF
file per target year, or a Zarr store of target years); reformatted stores are the
``(init_time, lead_time, latitude, longitude)`` or ``(time, lat, lon)`` datasets of
``climaflow reformat``.
"""

import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes

_LATITUDES = ("lat", "latitude")
_LONGITUDES = ("lon", "longitude")


def normal_map(
    normal: xr.DataArray,
    *,
    dayofyear: int | None = None,
    month: int | None = None,
    target_year: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A map of a normal: one day of the year, a month's mean, or (default) the annual mean.

    ``target_year`` picks one of several (default: the only one, else the last).
    """
    field, when = _normal_field(normal, dayofyear=dayofyear, month=month, target_year=target_year)
    year = _target_year(normal, target_year)
    return _map(field, f"{_name(normal)} normal of {year}, {when}", ax)


def normal_difference(
    first: xr.DataArray,
    second: xr.DataArray,
    *,
    dayofyear: int | None = None,
    month: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A map of ``second - first`` (e.g. the normals of two target years), on a diverging
    colour scale centred on zero."""
    a, when = _normal_field(first, dayofyear=dayofyear, month=month, target_year=None)
    b, _ = _normal_field(second, dayofyear=dayofyear, month=month, target_year=None)
    difference = b - a
    limit = float(np.nanmax(np.abs(difference.values))) or 1.0
    title = (
        f"{_name(second)} normal {_target_year(second, None)} minus "
        f"{_target_year(first, None)}, {when}"
    )
    return _map(difference, title, ax, cmap="RdBu_r", vmin=-limit, vmax=limit)


def annual_cycle(
    normal: xr.DataArray,
    *,
    lat: float | None = None,
    lon: float | None = None,
    target_year: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The normal's annual cycle at the grid cell nearest (``lat``, ``lon``), or (default)
    its area-weighted mean over the region (weights: cosine of latitude; NaN cells left out).
    """
    series = _one_target(normal, target_year)
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon, or neither (the region's mean)")
    lat_name, lon_name = _dim(series, _LATITUDES), _dim(series, _LONGITUDES)
    if lat is not None and lon is not None:
        longitude = _grid_longitude(series[lon_name].values, lon)
        series = series.sel({lat_name: lat, lon_name: longitude}, method="nearest")
        where = f"at {float(series[lat_name]):.2f}°N {float(series[lon_name]):.2f}°E"
    else:
        latitudes = series[lat_name]
        weights = latitudes.copy(data=np.cos(np.deg2rad(latitudes.values)))
        series = series.weighted(weights).mean((lat_name, lon_name))
        where = "region mean"
    ax = ax if ax is not None else _new_axes()
    ax.plot(series["dayofyear"].values, series.values)
    ax.set_xlabel("day of year")
    ax.set_ylabel(_units_label(normal))
    ax.set_title(f"{_name(normal)} normal of {_target_year(normal, target_year)}, {where}")
    return ax


def forecast_map(
    dataset: xr.Dataset,
    variable: str,
    *,
    time: Any | None = None,
    lead_time: Any | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A map of ``variable`` of a reformatted store at ``time`` (its append dimension's value;
    default: the last) and, for forecasts, ``lead_time`` (a timedelta or hours; default: the
    first)."""
    data = dataset[variable]
    append_dim = str(dataset.attrs.get("append_dim") or data.dims[0])
    data = _at(data, append_dim, time)
    title = f"{variable} at {_label(data[append_dim].values)}"
    if "lead_time" in data.dims:
        data = data.isel(lead_time=0) if lead_time is None else data.sel(lead_time=_lead(lead_time))
        title += f" +{_hours(data['lead_time'].values)} h"
    return _map(data, title, ax)


def lead_series(
    dataset: xr.Dataset,
    variable: str,
    *,
    lat: float,
    lon: float,
    init_time: Any | None = None,
    ax: Axes | None = None,
) -> Axes:
    """``variable`` of a forecast store against lead time at the grid cell nearest (``lat``,
    ``lon``), for ``init_time`` (default: the last)."""
    data = _at(dataset[variable], "init_time", init_time)
    lat_name, lon_name = _dim(data, _LATITUDES), _dim(data, _LONGITUDES)
    longitude = _grid_longitude(data[lon_name].values, lon)
    point = data.sel({lat_name: lat, lon_name: longitude}, method="nearest")
    hours = point["lead_time"].values / np.timedelta64(1, "h")
    ax = ax if ax is not None else _new_axes()
    ax.plot(hours, point.values, marker=".")
    ax.set_xlabel("lead time (hours)")
    ax.set_ylabel(_units_label(data))
    ax.set_title(
        f"{variable} from {_label(point['init_time'].values)} at "
        f"{float(point[lat_name]):.2f}°N {float(point[lon_name]):.2f}°E"
    )
    return ax


def save(ax: Axes, path: str | Path) -> Path:
    """Write ``ax``'s figure to ``path`` (PNG at 100 dpi) and close it; return the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = ax.get_figure(root=True)
    assert figure is not None, "the axes belong to no figure"
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def open_output(path: str | Path) -> xr.Dataset:
    """A climaflow output for plotting: a normals NetCDF file, or a Zarr store (normals or
    reformatted; ``icechunk://`` too). Times decode as numpy datetimes where the calendar
    allows, else as cftime dates (noleap, 360_day normals)."""
    from climaflow.io.stores import open_store

    text = str(path)
    if text.endswith(".nc"):
        return xr.open_dataset(text)
    dataset: xr.Dataset = xr.open_zarr(open_store(text))
    return dataset


def _normal_field(
    normal: xr.DataArray,
    *,
    dayofyear: int | None,
    month: int | None,
    target_year: int | None,
) -> tuple[xr.DataArray, str]:
    """The 2-D field of a normal to map, and what it is ("day 196", "July mean")."""
    if dayofyear is not None and month is not None:
        raise ValueError("give a day of the year or a month, not both")
    one = _one_target(normal, target_year)
    if dayofyear is not None:
        return one.sel(dayofyear=dayofyear), f"day {dayofyear}"
    if month is not None:
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} is not 1-12")
        months = _months(one["dayofyear"].values)
        field = one.isel(dayofyear=np.flatnonzero(months == month)).mean("dayofyear")
        return field, f"{_MONTHS[month - 1]} mean"
    return one.mean("dayofyear"), "annual mean"


def _months(days: np.ndarray) -> np.ndarray:
    """The month of each day of the year: 30-day months for a 360-day year, else the months
    of a 365-day (noleap) or 366-day year."""
    if len(days) == 360:
        return (days - 1) // 30 + 1
    lengths = [31, 29 if len(days) == 366 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    month_of_day: np.ndarray = np.repeat(np.arange(1, 13), lengths)
    return np.asarray(month_of_day[days - 1])


def _one_target(normal: xr.DataArray, target_year: int | None) -> xr.DataArray:
    if "target_year" not in normal.dims:
        return normal
    if target_year is not None:
        return normal.sel(target_year=target_year)
    return normal.isel(target_year=-1)


def _target_year(normal: xr.DataArray, target_year: int | None) -> int:
    if target_year is not None:
        return target_year
    return int(np.ravel(normal["target_year"].values)[-1])


def _map(field: xr.DataArray, title: str, ax: Axes | None, **style: Any) -> Axes:
    lat_name, lon_name = _dim(field, _LATITUDES), _dim(field, _LONGITUDES)
    field = field.transpose(lat_name, lon_name)
    ax = ax if ax is not None else _new_axes(geographic=True)
    transform = _plate_carree()
    extra = {"transform": transform} if transform is not None and hasattr(ax, "projection") else {}
    mesh = ax.pcolormesh(
        field[lon_name].values,
        field[lat_name].values,
        field.values,
        shading="auto",
        **style,
        **extra,
    )
    ax.get_figure().colorbar(mesh, ax=ax, label=_units_label(field), shrink=0.8)  # type: ignore[union-attr]
    if extra:
        _coastlines(ax)
    else:
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
    ax.set_title(title)
    return ax


def _new_axes(*, geographic: bool = False) -> Axes:
    projection = _plate_carree() if geographic else None
    figure = plt.figure(figsize=(9, 5) if geographic else (8, 4))
    axes: Axes = figure.add_subplot(projection=projection)
    return axes


def _plate_carree() -> Any | None:
    try:
        import cartopy.crs as ccrs
    except ImportError:
        return None
    return ccrs.PlateCarree()


def _coastlines(ax: Any) -> None:
    """Coastlines from Natural Earth, when cartopy has (or can fetch) them."""
    try:
        from cartopy.io import shapereader

        shapereader.natural_earth(resolution="110m", category="physical", name="coastline")
    except Exception as error:
        warnings.warn(f"no coastlines ({error})", stacklevel=3)
        return
    ax.coastlines(linewidth=0.6)


def _at(data: xr.DataArray, dim: str, value: Any | None) -> xr.DataArray:
    """``data`` at ``value`` of ``dim`` (text parsed as a time on a time axis; exact); the
    last value when ``value`` is ``None``."""
    if value is None:
        return data.isel({dim: -1})
    if np.issubdtype(data[dim].dtype, np.datetime64):
        value = pd.Timestamp(value).to_datetime64()
    return data.sel({dim: value})


def _grid_longitude(longitudes: np.ndarray, lon: float) -> float:
    """``lon`` in the grid's convention: 0..360 when its longitudes pass 180, else -180..180."""
    if float(np.max(longitudes)) > 180:
        return lon % 360
    return (lon + 180) % 360 - 180


def _dim(data: xr.DataArray, names: tuple[str, ...]) -> str:
    for name in names:
        if name in data.dims:
            return name
    raise ValueError(f"{data.name}: none of the dimensions {names} (it has {data.dims})")


def _name(data: xr.DataArray) -> str:
    return str(data.name)


def _units_label(data: xr.DataArray) -> str:
    units = data.attrs.get("units")
    return f"{data.name} ({units})" if units else str(data.name)


def _label(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="m"))
    return str(value)


def _lead(value: Any) -> np.timedelta64:
    if isinstance(value, int | float):
        return np.timedelta64(int(value), "h")
    return np.timedelta64(value, "ns")


def _hours(value: Any) -> int:
    return int(value / np.timedelta64(1, "h"))


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
