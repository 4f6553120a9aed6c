"""The Python API on real files from public projects (see ../shared/realdata/README.md)."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from climaflow.normals import daily_normals

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


def test_ec_earth_standard_calendar_ending_30_november(realdata):
    """Three real decade files 1980-01-01..2009-11-30 with 29 February in leap years."""
    files = sorted(realdata.glob("miniesgf__tas_day_EC-EARTH_historical_*.nc"))
    with open_files(files) as ds:
        tas = ds.tas
        assert tas.time.dt.calendar == "standard"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # 30 years present: no warning
            normal = daily_normals(tas, [2009]).sel(target_year=2009).compute()
        frame = tas.stack(cell=("lat", "lon")).to_pandas()
    assert normal.sizes["dayofyear"] == 365 and int(normal.n_years) == 30

    dates = pd.DatetimeIndex([pd.Timestamp(t.year, t.month, t.day) for t in frame.index])
    frame.index = dates
    leap_days = (dates.month == 2) & (dates.day == 29)
    assert leap_days.sum() == 8  # 1980, 1984, ..., 2008
    by_calendar_day = frame[~leap_days].groupby([dates[~leap_days].month, dates[~leap_days].day])
    reference = by_calendar_day.mean()  # pandas: float64 mean over the years that have the day
    assert len(reference) == 365
    counts = by_calendar_day.count().iloc[:, 0]
    assert counts.loc[(12, 1)] == 29 and counts.loc[(11, 30)] == 30
    expected = reference.to_numpy().reshape(365, *normal.shape[1:])
    np.testing.assert_allclose(normal.values, expected, rtol=2e-7)
    # Day 60 is 1 March in every year; December days average the 29 years that have them.
    np.testing.assert_allclose(
        normal.sel(dayofyear=60).values.ravel(), reference.loc[(3, 1)].to_numpy(), rtol=2e-7
    )
    december = frame[(dates.month == 12) & (dates.day == 31)]
    assert december.index.year.max() == 2008
    np.testing.assert_allclose(
        normal.sel(dayofyear=365).values.ravel(), december.mean().to_numpy(), rtol=2e-7
    )


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_fgoals_yearly_files_with_pressure_levels(realdata, lazy):
    """Real CMIP6 yearly files, 365_day calendar, ``ta`` on (time, plev, lat, lon)."""
    files = sorted(realdata.glob("esmvalsd__ta_day_FGOALS-g3_historical_*.nc"))
    with open_files(files) as ds:
        ta = ds.ta if lazy else ds.ta.load()
        normals = daily_normals(ta, [2001, 2002], window=2, min_years=2).compute()
        values = ds.ta.values.astype(np.float64)
    assert normals.dims == ("target_year", "dayofyear", "plev", "lat", "lon")
    years = values.reshape(3, 365, *values.shape[1:])
    np.testing.assert_allclose(normals.sel(target_year=2002), years[1:].mean(axis=0), rtol=2e-7)
    np.testing.assert_allclose(normals.sel(target_year=2001), years[:2].mean(axis=0), rtol=2e-7)
