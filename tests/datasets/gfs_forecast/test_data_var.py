"""GfsDataVar: a statistic's declared window agrees with its deaccumulation and GRIB keys."""

import re
from dataclasses import replace

import numpy as np
import pytest

from climaflow.datasets.gfs_forecast import make_gfs_template
from climaflow.datasets.gfs_forecast.data_var import StatisticWindow
from climaflow.reformat.template import ProcessingAttrs


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"grib_window": StatisticWindow.SINCE_START},
            "accumulations since_start need reset_frequency None, got 6 hours",
        ),
        (
            {"processing": ProcessingAttrs(deaccumulate_to_rate=True)},
            "accumulations since_reset need reset_frequency 6 hours, got None",
        ),
        (
            {"grib_bucket_hours": 3},
            "accumulations since_reset need reset_frequency 3 hours, got 6 hours",
        ),
        ({"grib_window": None}, "only an accumulation over a declared window"),
        ({"grib_step_type": "avg"}, "only an accumulation over a declared window"),
        ({"grib_step_type": "mean"}, "grib_step_type 'mean' is not 'instant' or one of"),
    ],
)
def test_the_declared_window_agrees_with_the_deaccumulation(changes, message):
    precipitation = make_gfs_template().data_var("precipitation_surface")
    assert precipitation.grib_window is StatisticWindow.SINCE_RESET
    assert precipitation.processing.reset_frequency == np.timedelta64(6, "h")
    with pytest.raises(ValueError, match=re.escape(message)):
        replace(precipitation, **changes)
    since_start = replace(
        precipitation,
        grib_window=StatisticWindow.SINCE_START,
        processing=ProcessingAttrs(deaccumulate_to_rate=True, reset_frequency=None),
    )
    assert [since_start.grib_keys(lead).step_range for lead in (1, 7, 24)] == ["0-1", "0-7", "0-24"]
    assert [precipitation.grib_keys(lead).step_range for lead in (1, 6, 7, 24)] == [
        "0-1",
        "0-6",
        "6-7",
        "18-24",
    ]
