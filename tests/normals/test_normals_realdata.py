"""The Python API on real files from public projects (see tests/data/README.md)."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from climaflow.normals import (
    IncompleteYearWarning,
    MissingYearsWarning,
    UndeclaredFillWarning,
    daily_normals,
)

TIME_CODER = xr.coders.CFDatetimeCoder(use_cftime=True)


def open_files(files: list[Path]) -> xr.Dataset:
    """Consecutive files of one variable, concatenated along time (cftime dates)."""
    return xr.open_mfdataset(
        files,
        decode_times=TIME_CODER,
        combine="nested",
        concat_dim="time",
        data_vars="minimal",
        coords="minimal",
        compat="override",
    )


def test_nrcan_1981_2010_normal_at_three_locations(realdata):
    """Real noleap daily tasmax and pr at 3 stations (a ``location`` dimension)."""
    with xr.open_dataset(realdata / "xclimtd__nrcan_1950-2013.nc", decode_times=TIME_CODER) as ds:
        normals = daily_normals(ds.chunk(time=365), [2010]).sel(target_year=2010).compute()
        window = ds.sel(time=slice("1981", "2010"))
        assert window.sizes["time"] == 30 * 365
        for variable in ("tasmax", "pr"):
            values = window[variable].values.astype(np.float64)
            reference = values.reshape(30, 365, ds.sizes["location"]).mean(axis=0)
            assert normals[variable].dims == ("dayofyear", "location")
            np.testing.assert_allclose(normals[variable].values, reference, rtol=2e-7)
    assert normals.source_years.item() == "1981-2010"
    assert normals.pr.attrs["units"] == ds.pr.attrs["units"]


def ec_earth_tas(realdata: Path) -> tuple[xr.DataArray, pd.DataFrame]:
    """The three EC-EARTH decade files as one DataArray, and as a (date x cell) frame."""
    files = sorted(realdata.glob("miniesgf__tas_day_EC-EARTH_historical_*.nc"))
    with open_files(files) as ds:
        tas = ds.tas.load()
    frame = tas.stack(cell=("lat", "lon")).to_pandas()
    frame.index = pd.DatetimeIndex([pd.Timestamp(t.year, t.month, t.day) for t in frame.index])
    return tas, frame


def calendar_day_means(frame: pd.DataFrame, years: range) -> pd.DataFrame:
    """pandas: float64 mean of each calendar day (29 February dropped) over ``years``."""
    dates = frame.index
    kept = ~((dates.month == 2) & (dates.day == 29)) & dates.year.isin(years)
    return frame[kept].groupby([dates[kept].month, dates[kept].day]).mean()


def test_ec_earth_standard_calendar_drops_29_february(realdata):
    """Three real decade files 1980-01-01..2009-11-30 with 29 February in leap years."""
    tas, frame = ec_earth_tas(realdata)
    assert tas.time.dt.calendar == "standard"
    assert ((frame.index.month == 2) & (frame.index.day == 29)).sum() == 8  # 1980, ..., 2008
    with (
        pytest.warns(MissingYearsWarning, match="missing from windows: 1979 "),
        pytest.warns(IncompleteYearWarning, match="2009"),
    ):
        normal = daily_normals(tas, [2008], min_years=29).sel(target_year=2008)
    reference = calendar_day_means(frame, range(1980, 2009))
    assert len(reference) == 365 and normal.source_years.item() == "1980-2008"
    np.testing.assert_allclose(normal.values, reference.to_numpy().reshape(normal.shape), rtol=2e-7)
    # Day 60 is 1 March in leap and other years alike.
    np.testing.assert_allclose(
        normal.sel(dayofyear=60).values.ravel(), reference.loc[(3, 1)].to_numpy(), rtol=2e-7
    )


def test_ec_earth_2009_ends_on_30_november_and_is_left_out(realdata):
    """2009 lacks December: left out (and named) unless incomplete years are allowed."""
    tas, frame = ec_earth_tas(realdata)
    with (
        pytest.warns(IncompleteYearWarning, match="left out of every window: 2009"),
        pytest.warns(MissingYearsWarning, match="missing from windows: 2009 "),
    ):
        normal = daily_normals(tas, [2009], min_years=29).sel(target_year=2009)
    assert normal.source_years.item() == "1980-2008" and int(normal.n_years) == 29
    reference = calendar_day_means(frame, range(1980, 2009))
    np.testing.assert_allclose(normal.values, reference.to_numpy().reshape(normal.shape), rtol=2e-7)

    with pytest.warns(IncompleteYearWarning, match="kept: 2009"):
        kept = daily_normals(tas, [2009], allow_incomplete_years=True).sel(target_year=2009)
    assert kept.source_years.item() == "1980-2009" and int(kept.n_years) == 30
    reference = calendar_day_means(frame, range(1980, 2010))
    np.testing.assert_allclose(kept.values, reference.to_numpy().reshape(kept.shape), rtol=2e-7)
    december = frame[(frame.index.month == 12) & (frame.index.day == 31)]
    assert december.index.year.max() == 2008  # December days average the 29 years they have
    np.testing.assert_allclose(
        kept.sel(dayofyear=365).values.ravel(), december.mean().to_numpy(), rtol=2e-7
    )


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_fgoals_undeclared_fills_below_ground_are_masked(realdata, lazy):
    """Real CMIP6 yearly files, 365_day, ``ta`` on (time, plev, lat, lon) with 9.96921e36
    (netCDF's default fill) below ground at 1000 hPa and no ``_FillValue`` attribute."""
    files = sorted(realdata.glob("esmvalsd__ta_day_FGOALS-g3_historical_*.nc"))
    with open_files(files) as ds:
        assert "_FillValue" not in ds.ta.encoding and "missing_value" not in ds.ta.attrs
        ta = ds.ta if lazy else ds.ta.load()
        values = ds.ta.values.astype(np.float64)
    fills = np.abs(values) >= 1e20
    assert fills.sum() == 1008 and (values[fills] == np.float32(9.96921e36)).all()
    expectation = (
        warnings.catch_warnings()
        if lazy
        else pytest.warns(UndeclaredFillWarning, match="^1008 values are non-finite")
    )
    with expectation:
        normals = daily_normals(ta, [2001, 2002], window=2, min_years=2).compute()
        partial = daily_normals(ta, [2002], window=3, min_years=1).compute()
    assert normals.dims == ("target_year", "dayofyear", "plev", "lat", "lon")
    years = np.where(fills, np.nan, values).reshape(3, 365, *values.shape[1:])
    # min_years=2 of 2: NaN wherever one year is a fill
    np.testing.assert_allclose(normals.sel(target_year=2002), years[1:].mean(axis=0), rtol=2e-7)
    np.testing.assert_allclose(normals.sel(target_year=2001), years[:2].mean(axis=0), rtol=2e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmean(years, axis=0)
    np.testing.assert_allclose(partial.sel(target_year=2002), expected, rtol=2e-7)
    valid = partial.sel(target_year=2002, plev=100000.0)
    assert float(valid.min()) > 200 and float(valid.max()) < 320  # kelvin, not fills
