"""Per-read cost of one GRIB2 message: cfgrib (through xarray) against eccodes directly.

Run: ``.venv/bin/python benchmarks/compare_grib_readers.py [--resolution 0.5] [--repeats 5]``

Four readers return the same float32 ``latitude x longitude`` array of one message chosen
by ``shortName``, ``typeOfLevel``, ``level`` and ``stepType``:

- ``cfgrib``: ``xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": "",
  "filter_by_keys": ...})`` then ``.values`` (no index file on disk, as in a worker);
- ``eccodes``: a bare loop of ``codes_grib_new_from_file`` / ``codes_get`` over the file,
  ``codes_get_values`` on the matching message;
- ``read_grib_message(engine="cfgrib")`` and ``read_grib_message(engine="eccodes")``:
  climaflow's reader, which also checks that exactly one message matches and the grid.

Files:

(a) a synthetic GFS file as a region job downloads it: the 6 messages of the
    ``gfs-forecast`` variables (simple packing, 16 bits) cut by ``.idx`` byte ranges out of
    a :func:`~climaflow.testing.gfs_archive.write_synthetic_gfs_archive` file;
    every variable is read in turn;
(b) the real GFS 0.25° file ``nwpconsumer__gfs.t06z.pgrb2.0p25.f001`` (3 messages, complex
    packing): ``t`` on ``isobaricInhPa`` 900;
(c) the real GFS 2.5° file ``pygrib__gfs.t12z.pgrbf120.2p5deg.grib2`` (307 messages):
    ``2t``.

Each reader runs rounds of about ``--round-seconds`` of reads; rounds of all readers are
interleaved and the fastest round is reported, so the ratios come from the same moments of a noisy
machine. Values are checked to agree between readers.
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import eccodes
import numpy as np
import xarray as xr

from climaflow.datasets.gfs_forecast import make_gfs_template
from climaflow.datasets.gfs_forecast.region_job import select_messages
from climaflow.datasets.gfs_forecast.template import gfs_grid
from climaflow.reformat.grib_index import IndexEntry, coalesce_ranges, parse_index
from climaflow.reformat.grib_read import read_grib_message
from climaflow.testing.gfs_archive import write_synthetic_gfs_archive

REALDATA = Path(__file__).resolve().parents[1] / "tests" / "data"
GFS_0P25 = REALDATA / "nwpconsumer__gfs.t06z.pgrb2.0p25.f001"
GFS_2P5 = REALDATA / "pygrib__gfs.t12z.pgrbf120.2p5deg.grib2"
SYNTHETIC_LEAD_HOURS = 7  # 5 instantaneous messages and the 6-7 h precipitation bucket


@dataclass(frozen=True)
class Message:
    """The keys of one message to read and the grid it must lie on."""

    short_name: str
    type_of_level: str
    level: int
    step_type: str
    grid: tuple[np.ndarray, np.ndarray]


def read_cfgrib(path: Path, m: Message) -> np.ndarray:
    filters = {
        "shortName": m.short_name,
        "typeOfLevel": m.type_of_level,
        "level": m.level,
        "stepType": m.step_type,
    }
    with xr.open_dataset(
        path, engine="cfgrib", backend_kwargs={"indexpath": "", "filter_by_keys": filters}
    ) as ds:
        (data,) = ds.data_vars.values()
        return data.values.astype("float32")


def read_eccodes(path: Path, m: Message) -> np.ndarray:
    wanted = (m.short_name, m.type_of_level, m.level, m.step_type)
    with path.open("rb") as f:
        while (handle := eccodes.codes_grib_new_from_file(f)) is not None:
            try:
                keys = tuple(
                    eccodes.codes_get(handle, key)
                    for key in ("shortName", "typeOfLevel", "level", "stepType")
                )
                if keys == wanted:
                    eccodes.codes_set(handle, "missingValue", 9.999e20)
                    shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
                    values = eccodes.codes_get_values(handle).reshape(shape)
                    return np.where(values == 9.999e20, np.nan, values).astype("float32")
            finally:
                eccodes.codes_release(handle)
    raise LookupError(f"{path}: no message {wanted}")


def climaflow_reader(engine: str) -> Callable[[Path, Message], np.ndarray]:
    def read(path: Path, m: Message) -> np.ndarray:
        return read_grib_message(
            path,
            short_name=m.short_name,
            type_of_level=m.type_of_level,
            level=m.level,
            step_type=m.step_type,
            expected_grid=m.grid,
            engine=engine,  # type: ignore[arg-type]
        )

    return read


READERS: dict[str, Callable[[Path, Message], np.ndarray]] = {
    "cfgrib": read_cfgrib,
    "eccodes": read_eccodes,
    "read_grib_message cfgrib": climaflow_reader("cfgrib"),
    "read_grib_message eccodes": climaflow_reader("eccodes"),
}


def synthetic_download(directory: Path, resolution: float) -> tuple[Path, list[Message]]:
    """A file holding exactly the messages a region job downloads, and those messages."""
    init = np.datetime64("2024-01-01T00", "ns")
    (source,) = write_synthetic_gfs_archive(
        directory / "archive", [init], [SYNTHETIC_LEAD_HOURS], resolution
    )
    template = make_gfs_template(resolution_degrees=resolution)
    entries = parse_index(Path(f"{source}.idx").read_text())
    selected = select_messages(entries, template.data_vars, SYNTHETIC_LEAD_HOURS, str(source))
    chosen = [entry for entry in selected.values() if isinstance(entry, IndexEntry)]
    assert len(chosen) == len(selected), selected
    data = source.read_bytes()
    path = directory / "downloaded.grib2"
    path.write_bytes(b"".join(data[a:b] for a, b in coalesce_ranges(chosen)))
    grid = gfs_grid(resolution)
    messages = [
        Message(v.grib_short_name, v.grib_type_of_level, v.grib_level_value, v.grib_step_type, grid)
        for v in template.data_vars
    ]
    return path, messages


def measure_readers(
    path: Path, messages: list[Message], round_seconds: float, repeats: int
) -> dict[str, float]:
    """Seconds per read of each reader: the fastest of ``repeats`` interleaved rounds.

    A round reads every message in turn, as many times as fit in about ``round_seconds``.
    """
    reference = [read_eccodes(path, m) for m in messages]
    numbers = {}
    for name, read in READERS.items():  # warm up (imports, definitions) and check values
        for m, expected in zip(messages, reference, strict=True):
            np.testing.assert_array_equal(read(path, m), expected, err_msg=name)
        start = time.perf_counter()
        for m in messages:
            read(path, m)
        per_pass = time.perf_counter() - start
        numbers[name] = len(messages) * max(1, round(round_seconds / per_pass))
    best = dict.fromkeys(READERS, float("inf"))
    for _ in range(repeats):
        for name, read in READERS.items():
            start = time.perf_counter()
            for i in range(numbers[name]):
                read(path, messages[i % len(messages)])
            best[name] = min(best[name], (time.perf_counter() - start) / numbers[name])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=0.5, help="synthetic grid, degrees")
    parser.add_argument("--round-seconds", type=float, default=0.3, help="time per round")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        synthetic, synthetic_messages = synthetic_download(Path(tmp), args.resolution)
        n_lat, n_lon = (g.size for g in synthetic_messages[0].grid)
        cases = [
            (
                f"(a) synthetic {args.resolution}° {n_lat}x{n_lon}, 6 msgs simple, all 6 vars",
                synthetic,
                synthetic_messages,
            ),
            (
                "(b) real GFS 0.25° 721x1440, 3 msgs complex, t 900 hPa",
                GFS_0P25,
                [Message("t", "isobaricInhPa", 900, "instant", gfs_grid(0.25))],
            ),
            (
                "(c) real GFS 2.5° 73x144, 307 msgs complex, 2t",
                GFS_2P5,
                [Message("2t", "heightAboveGround", 2, "instant", gfs_grid(2.5))],
            ),
        ]
        results = [
            (label, measure_readers(path, messages, args.round_seconds, args.repeats))
            for label, path, messages in cases
        ]

    print(f"ms per read (fastest of {args.repeats} interleaved rounds of ~{args.round_seconds} s)")
    header = (
        f"{'file':<64} {'cfgrib':>8} {'eccodes':>8} {'ratio':>6}"
        f" {'rgm cfgrib':>11} {'rgm eccodes':>12} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, t in results:
        ms = {name: seconds * 1e3 for name, seconds in t.items()}
        cf, ec = ms["read_grib_message cfgrib"], ms["read_grib_message eccodes"]
        print(
            f"{label:<64} {ms['cfgrib']:>8.2f} {ms['eccodes']:>8.2f}"
            f" {ms['cfgrib'] / ms['eccodes']:>6.1f} {cf:>11.2f} {ec:>12.2f} {cf / ec:>6.1f}"
        )
    print("ratio: cfgrib / eccodes; rgm: climaflow's read_grib_message with that engine")


if __name__ == "__main__":
    main()
