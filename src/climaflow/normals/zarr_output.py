"""Normals in Zarr v3 stores: one store per (model, variable, scenario, region).

::

    {output}/{model}/{variable}/{scenario}/{REGION}/{variable}_{model}_{REGION}_{scenario}_{W}yr_normals.zarr

holds what the NetCDF files of its target years hold, stacked along ``target_year`` (the
dataset ``xr.open_mfdataset(files, combine="by_coords")`` gives), plus a few per-target
arrays in place of the files' global attributes:

- ``{variable}`` ``(target_year, dayofyear, lat, lon)``: one shard per target year (every
  day and cell of the region), in chunks of 73 days x up to 64 x 64 cells as in the files;
- ``time`` and ``climatology_bnds`` (CF climatology, as in the files), ``source_years``
  ``(target_year, window_year)`` (the years averaged, 0 where a window year was left out),
  ``min_years`` and ``inputs_fingerprint`` ``(target_year)``, one chunk per target year.

The client writes the store's metadata before the run (:func:`prepare_normals_store`); a
target's task then writes its own chunks and shard, ``inputs_fingerprint`` last
(:func:`write_target`). Each object is written whole (a temporary file renamed over the
key), so a target's shard is complete or absent, and a target whose fingerprint is written
is complete: :func:`check_target` keeps it on a rerun when its fingerprint and ``min_years``
match and its shard reads. Targets not computed (yet, or for want of years) read as NaN
and have fingerprint 0.

Target years grow like an append dimension: a run may add target years after the store's
last one (the metadata is extended, existing shards untouched); one adding years before
the last is refused with a message naming them, before anything is written.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import dask.array
import numpy as np
import xarray as xr
import zarr
from xarray.coding.times import encode_cf_datetime
from zarr.codecs import BloscCodec

from climaflow.io.stores import consolidated_metadata
from climaflow.normals.output import (
    CHUNK_CELLS,
    CHUNK_DAYS,
    CLIMATOLOGY_UNITS,
    NormalMetadata,
    OutputCheck,
    output_calendar,
    output_folder,
)

#: Byte-shuffled zstd at level 3: within a few percent of zlib's size at several times its
#: write speed (``benchmarks/compare_normals.py --format zarr``).
COMPRESSOR = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
_PER_TARGET = (
    "target_year",
    "time",
    "climatology_bnds",
    "source_years",
    "min_years",
    "inputs_fingerprint",
)


def normals_store_path(
    output: str | Path, model: str, variable: str, scenario: str, region: str, window: int = 30
) -> Path:
    """Where the normals of (model, variable, scenario, region) are stored.

    Raises ``ValueError`` for names that could leave ``output`` (``..``, separators).
    """
    name = f"{variable}_{model}_{region}_{scenario}_{window}yr_normals.zarr"
    return output_folder(output, model, variable, scenario, region) / name


def fingerprint_number(fingerprint: str) -> int:
    """A target's inputs fingerprint (hex) as the non-zero 64-bit number the store keeps."""
    return int(fingerprint[:16], 16) or 1


def prepare_normals_store(
    path: str | Path,
    target_years: Sequence[int],
    sample: xr.Dataset,
    variable: str,
) -> None:
    """Create the store's metadata for ``target_years``, or extend an existing store's.

    ``sample`` is one target's dataset (:func:`~climaflow.normals.output.normal_dataset`):
    its coordinates, attributes and shapes make the store's. A store holding other target
    years keeps them; new years must all come after its last one.

    Raises
    ------
    ValueError
        When target years would go before the store's last one, or the store's region,
        calendar or window differ from ``sample``'s (nothing is written then).
    """
    path = Path(path)
    wanted = np.array(sorted(set(target_years)), dtype=np.int32)
    if path.exists():
        with xr.open_zarr(path, decode_times=False) as existing:
            held = existing["target_year"].values
            _check_compatible(path, existing, sample, variable)
        new = wanted[~np.isin(wanted, held)]
        if new.size == 0:
            return
        early = new[new < held.max()]
        if early.size:
            raise ValueError(
                f"{path} holds target years {held.min()}-{held.max()}; target years "
                f"{', '.join(map(str, early))} would go before its last one: write them to "
                "another output directory, or delete the store to rebuild it"
            )
        template = _template(sample, variable, new).drop_vars(["dayofyear", "lat", "lon"])
        with consolidated_metadata():
            template.to_zarr(path, mode="a", append_dim="target_year", compute=False)
        return
    with consolidated_metadata():
        _template(sample, variable, wanted).to_zarr(
            path,
            mode="w-",
            compute=False,
            zarr_format=3,
            consolidated=True,
            encoding=_encoding(sample, variable),
        )


def write_target(path: str | Path, dataset: xr.Dataset, metadata: NormalMetadata) -> None:
    """Write one target's normal and per-target arrays into the store, fingerprint last."""
    variable = metadata.variable
    path = Path(path)
    arrays = _arrays(path, (variable, *_PER_TARGET), mode="r+")
    position = _position(arrays["target_year"], metadata.target_year)
    # A rewrite first marks the target unwritten, and drops its old shard: zarr reads the
    # shard it writes over, and a damaged one would fail the write.
    for name in ("inputs_fingerprint", variable):
        _delete_chunk(path, arrays[name], position)
    arrays[variable][position] = dataset[variable].values[0]
    calendar = output_calendar(metadata.calendar)
    for name in ("time", "climatology_bnds"):
        encoded, _, _ = encode_cf_datetime(dataset[name].values[0], CLIMATOLOGY_UNITS, calendar)
        arrays[name][position] = encoded
    years = np.zeros(arrays["source_years"].shape[1], dtype=np.int32)
    years[: len(metadata.source_years)] = metadata.source_years
    arrays["source_years"][position] = years
    arrays["min_years"][position] = metadata.min_years
    arrays["inputs_fingerprint"][position] = fingerprint_number(metadata.inputs_fingerprint)


def check_target(
    path: str | Path, target_year: int, *, variable: str, expected: Mapping[str, Any]
) -> OutputCheck:
    """Can the target's normal in the store at ``path`` be kept?

    Valid means: the target's fingerprint is written and equals
    ``expected["inputs_fingerprint"]``, its ``min_years`` equals ``expected["min_years"]``,
    the store's window is ``expected["window"]`` and its normal reads.
    """
    path = Path(path)
    if not path.exists():
        return OutputCheck(exists=False, valid=False, reason="missing")
    try:
        arrays = _arrays(path, (variable, *_PER_TARGET), mode="r")
        if target_year not in np.asarray(arrays["target_year"][:]):
            return OutputCheck(exists=False, valid=False, reason="missing")
        position = _position(arrays["target_year"], target_year)
        recorded = int(np.asarray(arrays["inputs_fingerprint"][position]))
        if recorded == 0:
            return OutputCheck(exists=False, valid=False, reason="missing")
        checks = {
            "inputs_fingerprint": (
                recorded,
                fingerprint_number(str(expected["inputs_fingerprint"])),
            ),
            "min_years": (
                int(np.asarray(arrays["min_years"][position])),
                int(expected["min_years"]),
            ),
            "window": (
                int(str(zarr.open_group(path, mode="r").attrs["window"])),
                int(expected["window"]),
            ),
        }
        for key, (found, wanted) in checks.items():
            if found != wanted:
                return OutputCheck(True, False, f"{key} is {found!r}, not {wanted!r}")
        arrays[variable][position]
    except Exception as error:
        return OutputCheck(True, False, f"unreadable: {error}")
    return OutputCheck(exists=True, valid=True, reason="valid")


def _arrays(
    path: Path, names: Sequence[str], *, mode: Literal["r", "r+"]
) -> dict[str, zarr.Array[Any]]:
    group = zarr.open_group(path, mode=mode)
    arrays = {}
    for name in names:
        node = group[name]
        assert isinstance(node, zarr.Array), f"{path}/{name} is not a Zarr array"
        arrays[name] = node
    return arrays


def _delete_chunk(path: Path, array: zarr.Array[Any], position: int) -> None:
    """Delete the chunk (or shard) of ``array`` at ``position`` along ``target_year``."""
    key = array.metadata.encode_chunk_key((position,) + (0,) * (array.ndim - 1))
    (path / array.path / key).unlink(missing_ok=True)


def _position(target_years: zarr.Array[Any], target_year: int) -> int:
    (where,) = np.flatnonzero(np.asarray(target_years[:]) == target_year)
    return int(where)


def _template(sample: xr.Dataset, variable: str, target_years: np.ndarray) -> xr.Dataset:
    """The store's dataset for ``target_years``, its per-target variables lazy (not written)."""
    n_targets = target_years.size
    days = sample.sizes["dayofyear"]
    window = int(sample.attrs["window"])

    def lazy(shape: tuple[int, ...], dtype: Any, chunks: tuple[int, ...]) -> dask.array.Array:
        array: dask.array.Array = dask.array.zeros(shape, dtype=dtype, chunks=chunks)
        return array

    normal = sample[variable]
    dims_4d = ("target_year", "dayofyear", "lat", "lon")
    calendar = output_calendar(str(sample.attrs["calendar"]))
    time_attrs = {
        "standard_name": "time",
        "climatology": "climatology_bnds",
        "units": CLIMATOLOGY_UNITS,
        "calendar": calendar,
    }
    attrs = {
        key: value
        for key, value in sample.attrs.items()
        if key
        not in {
            "target_year",
            "source_years",
            "source_years_description",
            "source_scenarios",
            "scenarios_used",
            "min_years",
            "inputs_fingerprint",
            "creation_date",
            "period",
        }
    }
    attrs["title"] = str(attrs["title"]).split(", target year")[0]
    return xr.Dataset(
        {
            variable: (
                dims_4d,
                lazy((n_targets, *normal.shape[1:]), np.float32, (1, *normal.shape[1:])),
                normal.attrs,
            ),
            "climatology_bnds": (
                ("target_year", "dayofyear", "nv"),
                lazy((n_targets, days, 2), np.float64, (1, days, 2)),
                {"units": CLIMATOLOGY_UNITS, "calendar": calendar},
            ),
            "source_years": (
                ("target_year", "window_year"),
                lazy((n_targets, window), np.int32, (1, window)),
                {"long_name": "years averaged into the normal (0: none)"},
            ),
            "min_years": (
                ("target_year",),
                lazy((n_targets,), np.int16, (1,)),
                {"long_name": "fewest years a normal needed"},
            ),
            "inputs_fingerprint": (
                ("target_year",),
                lazy((n_targets,), np.uint64, (1,)),
                {"long_name": "fingerprint of the inputs (0: target not written)"},
            ),
        },
        coords={
            "target_year": ("target_year", target_years, sample["target_year"].attrs),
            "dayofyear": sample["dayofyear"],
            "lat": sample["lat"],
            "lon": sample["lon"],
            "time": (
                ("target_year", "dayofyear"),
                lazy((n_targets, days), np.float64, (1, days)),
                time_attrs,
            ),
        },
        attrs=attrs,
    )


def _encoding(sample: xr.Dataset, variable: str) -> dict[str, dict[str, Any]]:
    chunks = (1, CHUNK_DAYS, *(min(n, CHUNK_CELLS) for n in sample[variable].shape[2:]))
    # A shard is a whole number of chunks: it covers the region, and a little beyond it at
    # the far edges (nothing is stored there).
    shards = tuple(
        -(-n // chunk) * chunk for n, chunk in zip(sample[variable].shape, chunks, strict=True)
    )
    encoding: dict[str, dict[str, Any]] = {
        variable: {
            "chunks": chunks,
            "shards": shards,
            "compressors": (COMPRESSOR,),
            "fill_value": np.float32("nan"),
        },
        "inputs_fingerprint": {"fill_value": np.uint64(0)},
        "source_years": {"fill_value": np.int32(0)},
        "min_years": {"fill_value": np.int16(0)},
        **{name: {"fill_value": None} for name in ("target_year", "dayofyear", "lat", "lon")},
    }
    for name in ("time", "climatology_bnds"):
        encoding[name] = {"fill_value": np.float64("nan")}
    return encoding


def _check_compatible(path: Path, existing: xr.Dataset, sample: xr.Dataset, variable: str) -> None:
    differences = [
        name
        for name in ("lat", "lon", "dayofyear")
        if not np.array_equal(existing[name].values, sample[name].values)
    ]
    for key in ("calendar", "window", "model", "scenario", "region"):
        if str(existing.attrs.get(key)) != str(sample.attrs.get(key)):
            differences.append(key)
    if variable not in existing:
        differences.append(f"variable {variable}")
    if differences:
        raise ValueError(
            f"{path} is a normals store of another {', '.join(differences)}: write to another "
            "output directory, or delete the store"
        )
