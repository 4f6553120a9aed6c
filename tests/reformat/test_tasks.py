"""A variable's task: placing files' arrays into tiles, transforming and writing tile by tile."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from climaflow.reformat.tasks import (
    _placement_in_tile,
    _tiles,
    download_coord,
    reformat_variable,
)
from climaflow.reformat.template import DataVar, Encoding
from tests.reformat.example_dataset import (
    DAY,
    START,
    ExampleRegionJob,
    ExampleTemplate,
    expected_values,
    write_archive,
)


@pytest.mark.parametrize(
    ("placement", "tile", "expected"),
    [
        # a file at one append position (an int), a whole 3 x 4 field
        (
            ((2, slice(0, 3), slice(0, 4)), (slice(0, 3), slice(0, 4))),
            (slice(0, 5), slice(0, 2), slice(2, 4)),
            ((2, slice(0, 2), slice(0, 2)), (slice(0, 2), slice(2, 4))),
        ),
        # the append position outside the tile
        (
            ((6, slice(0, 3), slice(0, 4)), (slice(0, 3), slice(0, 4))),
            (slice(0, 5), slice(0, 3), slice(0, 4)),
            None,
        ),
        # a file of several append positions, its first two outside the region (source 2:5)
        (
            ((slice(0, 3), slice(0, 3)), (slice(2, 5), slice(0, 3))),
            (slice(0, 4), slice(1, 3)),
            ((slice(0, 3), slice(0, 2)), (slice(2, 5), slice(1, 3))),
        ),
        # a run cut by the tile on both sides
        (((slice(1, 6),), (slice(0, 5),)), (slice(2, 4),), ((slice(0, 2),), (slice(1, 3),))),
        # a run next to the tile, not in it
        (((slice(0, 2),), (slice(0, 2),)), (slice(2, 4),), None),
    ],
)
def test_placement_in_tile(placement, tile, expected):
    assert _placement_in_tile(placement, tile) == expected


def test_tiles_group_shards_along_the_append_axis():
    selections = [
        (slice(t, t + 4), slice(y, min(y + 2, 3)), slice(x, x + 2))
        for t in (0, 4)
        for y in (0, 2)
        for x in (0, 2)
    ]
    tiles = list(_tiles(selections, whole_axes={0}, shape=(10, 3, 4)))

    assert [tile for tile, _ in tiles] == [
        (slice(0, 10), slice(0, 2), slice(0, 2)),
        (slice(0, 10), slice(0, 2), slice(2, 4)),
        (slice(0, 10), slice(2, 3), slice(0, 2)),
        (slice(0, 10), slice(2, 3), slice(2, 4)),
    ]
    assert all(len(shards) == 2 for _, shards in tiles)
    assert sorted(s for _, shards in tiles for s in shards) == sorted(selections)


def test_tiles_span_the_transform_axis_whole():
    """Shards splitting the transform's axis (here axis 1) share a tile along it."""
    selections = [
        (slice(0, 1), slice(lead, lead + 4), slice(x, x + 2)) for lead in (0, 4) for x in (0, 2)
    ]
    tiles = list(_tiles(selections, whole_axes={0, 1}, shape=(1, 7, 4)))

    assert [tile for tile, _ in tiles] == [
        (slice(0, 1), slice(0, 7), slice(0, 2)),
        (slice(0, 1), slice(0, 7), slice(2, 4)),
    ]
    assert [len(shards) for _, shards in tiles] == [2, 2]


class DifferencingRegionJob(ExampleRegionJob):
    """Reads a day either side of its region and replaces each value by its difference
    with the day before: a transform that needs whole series along time."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tile_shapes: list[tuple[int, ...]] = []

    def get_processing_region(self) -> slice:
        return slice(
            max(0, self.region.start - 1), min(self.append_dim_length, self.region.stop + 1)
        )

    def apply_data_transformations(self, data_array: xr.DataArray, data_var: DataVar) -> None:
        self.tile_shapes.append(data_array.shape)
        values = data_array.values
        values[1:] = values[1:] - values[:-1]


def test_tiles_see_whole_series_and_the_store_matches_the_whole_array_transform(tmp_path: Path):
    """Shards split latitude (3 = 2 + 1) and longitude (4 = 2 + 2): four tiles per region."""
    days = 8
    archive = tmp_path / "archive"
    write_archive(archive, np.arange(START, START + days * DAY, DAY))
    data_var = DataVar(
        name="temperature", encoding=Encoding(dtype="float32", chunks=(2, 1, 2), shards=(4, 2, 2))
    )
    template = ExampleTemplate(data_vars=(data_var,))
    store = tmp_path / "out.zarr"
    end = START + days * DAY
    template.write_metadata(store, end)
    jobs = DifferencingRegionJob.get_jobs(
        template, store, end, source_root=archive, download_dir=tmp_path / "dl"
    )

    for job in jobs:
        coords = job.generate_source_file_coords(job.processing_dataset(), [data_var])
        downloads = [download_coord(job, coord) for coord in coords]
        summary = reformat_variable(job, data_var, *downloads)
        assert summary.shards_written == 4
        assert summary.status_counts == {"succeeded": len(coords)}
        assert set(summary.seconds) == {"read", "assemble", "transform", "write"}
        processing = job.get_processing_region()
        assert sorted(job.tile_shapes) == sorted(
            (processing.stop - processing.start, lat, lon) for lat in (2, 1) for lon in (2, 2)
        )

    raw = expected_values("temperature", np.arange(START, end, DAY))
    expected = raw.copy()
    expected[1:] = raw[1:] - raw[:-1]
    np.testing.assert_array_equal(xr.open_zarr(store)["temperature"].values, expected)
