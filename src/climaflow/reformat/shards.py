"""Shard arithmetic: regions of whole shards and the shards inside them."""

import itertools
from collections.abc import Iterator


class RegionNotShardAlignedError(ValueError):
    """A region's edges fall inside shards, so its writes could race with another job's."""


def check_shard_aligned(region: slice, shard_size: int, length: int, dim: str) -> None:
    """Raise unless ``region`` (positions along ``dim``) covers whole shards only.

    A region is whole shards when it starts on a shard boundary and ends on one, or at the
    end of the dimension (the last shard may be partial).
    """
    start, stop = region.start, region.stop
    if start is None or stop is None or region.step not in (None, 1):
        raise RegionNotShardAlignedError(f"region {region} along {dim} needs a start and a stop")
    if not 0 <= start < stop <= length:
        raise RegionNotShardAlignedError(f"region {start}:{stop} along {dim} is outside 0:{length}")
    if start % shard_size or (stop % shard_size and stop != length):
        raise RegionNotShardAlignedError(
            f"region {start}:{stop} along {dim} is not made of whole shards of {shard_size} "
            f"(length {length}): regions must start on a multiple of {shard_size} and end on "
            f"one or at {length}"
        )


def split_into_regions(
    start: int, stop: int, shard_size: int, length: int, shards_per_region: int = 1
) -> list[slice]:
    """Cover positions ``start:stop`` with regions of ``shards_per_region`` whole shards.

    ``start`` is rounded down and ``stop`` up to shard boundaries (``stop`` at most
    ``length``), so the regions may cover a little more than asked: a shard is written
    whole or not at all.
    """
    if not 0 <= start < stop <= length:
        raise ValueError(f"positions {start}:{stop} are outside 0:{length}")
    if shards_per_region < 1:
        raise ValueError(f"shards_per_region must be at least 1, got {shards_per_region}")
    first = start - start % shard_size
    step = shard_size * shards_per_region
    return [slice(s, min(s + step, length)) for s in range(first, stop, step)]


def shard_selections(
    shape: tuple[int, ...], block: tuple[int, ...], axis: int, region: slice
) -> Iterator[tuple[slice, ...]]:
    """Yield the selection of every shard (of shape ``block``) inside ``region`` on ``axis``.

    Every other axis is covered whole. Selections are clipped to ``shape`` at the far edges.
    """
    ranges = []
    for ax, (size, step) in enumerate(zip(shape, block, strict=True)):
        lo, hi = (region.start, region.stop) if ax == axis else (0, size)
        ranges.append([slice(s, min(s + step, hi)) for s in range(lo, hi, step)])
    yield from itertools.product(*ranges)


def is_whole_shard(
    selection: tuple[slice, ...], shape: tuple[int, ...], block: tuple[int, ...]
) -> bool:
    """Whether ``selection`` is exactly one shard of the array (clipped at its far edges)."""
    return all(
        s.start % b == 0 and s.stop == min(s.start + b, n)
        for s, n, b in zip(selection, shape, block, strict=True)
    )
