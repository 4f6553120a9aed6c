"""NOAA ``.idx`` GRIB2 inventories (wgrib2 format) to byte ranges.

NOAA publishes beside each GRIB2 file (GFS, GEFS, GFS-Wave, HRRR, ...) an inventory written by
``wgrib2 -s``, one line per GRIB message::

    596:428200066:d=2025080100:APCP:surface:6-7 hour acc fcst:
    1:0:d=2025080100:HGT:10 mb:432 hour fcst:ENS=low-res ctl
    1:0:d=2021113000:WIND:surface:anl:

The fields are the message number (``3.1``, ``3.2`` for sub-messages of one GRIB message, which
share its byte offset), the byte offset of the message in the file, the reference (initialisation)
time, the variable, the level, the forecast-time description and optional extra text. A message
ends where the next message with a different offset starts; the last one ends at the end of the
file, which the inventory does not record.

The forecast field (``anl``, ``7 hour fcst``, ``0-1 day acc fcst``...) is turned into numbers by
:mod:`climaflow.reformat.forecast_time` (:attr:`IndexEntry.forecast_time`), so that selections
compare times, not spellings.

A real GFS inventory repeats some lines: at leads 1-6 h its 6-hourly bucket and its accumulation
since the start are both ``0-L hour acc fcst``. :func:`drop_duplicate_lines` keeps the first of
identical lines.

This module parses inventories (:func:`parse_index`), selects messages (:func:`select`), merges
their byte ranges (:func:`coalesce_ranges`) and formats HTTP ``Range`` headers
(:func:`http_range_header`). Ranges are half-open ``(start, end)`` pairs with an exclusive ``end``,
and ``end=None`` meaning "to the end of the file".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from climaflow.reformat.forecast_time import ForecastTime, parse_forecast

__all__ = [
    "IndexEntry",
    "coalesce_ranges",
    "drop_duplicate_lines",
    "http_range_header",
    "parse_index",
    "select",
]

_MESSAGE_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_OFFSET = re.compile(r"\d+")
_REFERENCE_TIME = re.compile(r"d=(\d{10})(\d{2})?(\d{2})?")


@dataclass(frozen=True)
class IndexEntry:
    """One line of a wgrib2 inventory, with the byte range of its GRIB message.

    Attributes
    ----------
    message_number
        Message number as written, e.g. ``"596"`` or ``"3.1"`` for a sub-message.
    start
        Byte offset of the GRIB message in the file.
    end
        Exclusive end offset: the start of the next message at a different offset, or ``None``
        for the last message (it ends at the end of the file).
    reference_time
        Reference (initialisation) time from ``d=YYYYMMDDHH`` (naive, UTC).
    variable
        wgrib2 variable name, e.g. ``"APCP"``.
    level
        wgrib2 level description, e.g. ``"surface"``, ``"2 m above ground"``, ``"500 mb"``.
    forecast
        wgrib2 forecast-time description, e.g. ``"anl"``, ``"7 hour fcst"``,
        ``"6-7 hour acc fcst"``.
    extra
        Everything after the forecast field, without the trailing colon, e.g.
        ``"ENS=low-res ctl"``; ``""`` when there is nothing.
    line_number
        1-based line number in the inventory text (0 when not parsed from text).
    """

    message_number: str
    start: int
    end: int | None
    reference_time: datetime
    variable: str
    level: str
    forecast: str
    extra: str = ""
    line_number: int = 0

    @property
    def length(self) -> int | None:
        """Size of the message in bytes, or ``None`` when it runs to the end of the file."""
        return None if self.end is None else self.end - self.start

    @property
    def byte_range(self) -> tuple[int, int | None]:
        """``(start, end)`` with an exclusive ``end`` (``None``: to the end of the file)."""
        return (self.start, self.end)

    @property
    def range_header(self) -> str:
        """The HTTP ``Range`` header value for this message, see :func:`http_range_header`."""
        return http_range_header(self.start, self.end)

    @property
    def search_string(self) -> str:
        """``":VAR:level:forecast:"``, the usual string to grep an inventory line for."""
        return f":{self.variable}:{self.level}:{self.forecast}:"

    @property
    def forecast_time(self) -> ForecastTime | None:
        """The forecast field as numbers (:func:`parse_forecast`); ``None`` for other forms."""
        try:
            return parse_forecast(self.forecast)
        except ValueError:
            return None

    def describe(self) -> str:
        """``"line 596 (APCP:surface:6-7 hour acc fcst)"``, with any extra text, for messages."""
        extra = f":{self.extra}" if self.extra else ""
        return f"line {self.line_number} ({self.search_string.strip(':')}{extra})"


def _parse_reference_time(text: str, line_number: int) -> datetime:
    match = _REFERENCE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"line {line_number}: reference time {text!r} is not d=YYYYMMDDHH[MM[SS]]")
    digits = match.group(1) + (match.group(2) or "00") + (match.group(3) or "00")
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError as error:
        raise ValueError(f"line {line_number}: invalid reference time {text!r}") from error


def parse_index(text: str) -> list[IndexEntry]:
    """Parse a wgrib2/NOAA ``.idx`` inventory into entries with byte ranges.

    Parameters
    ----------
    text
        The inventory text. Blank lines (and a trailing newline) are ignored; ``\\r\\n`` line
        endings are accepted.

    Returns
    -------
    list of IndexEntry
        One entry per inventory line, in file order. Each entry's ``end`` is the offset of the
        next entry with a *different* offset (sub-messages such as ``3.1`` and ``3.2`` share the
        whole GRIB message's range); the entries at the last offset get ``end=None``.

    Raises
    ------
    ValueError
        For a malformed line (fewer than 6 colon-separated fields, a bad message number, offset
        or ``d=`` time, an empty variable) or an offset smaller than the previous line's. The
        message names the 1-based line number.
    """
    entries: list[IndexEntry] = []
    previous_start = -1
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        if raw_line.strip():
            entries.append(_parse_line(raw_line, line_number, previous_start))
            previous_start = entries[-1].start
    return _with_message_ends(entries)


def _parse_line(raw_line: str, line_number: int, previous_start: int) -> IndexEntry:
    """One non-blank inventory line as an entry with ``end=None``.

    ``previous_start`` is the previous line's offset (-1 for the first line): offsets must not
    decrease. Raises the :func:`parse_index` errors, naming ``line_number``.
    """
    fields = raw_line.strip().split(":", 6)
    if len(fields) < 6:
        raise ValueError(
            f"line {line_number}: expected at least 6 ':'-separated fields "
            f"(n:offset:d=YYYYMMDDHH:VAR:level:forecast:), got {raw_line!r}"
        )
    number, offset, date, variable, level, forecast = fields[:6]
    if _MESSAGE_NUMBER.fullmatch(number) is None:
        raise ValueError(f"line {line_number}: bad message number {number!r} in {raw_line!r}")
    if _OFFSET.fullmatch(offset) is None:
        raise ValueError(f"line {line_number}: bad byte offset {offset!r} in {raw_line!r}")
    start = int(offset)
    if start < previous_start:
        raise ValueError(
            f"line {line_number}: byte offset {start} is smaller than the previous "
            f"line's {previous_start}"
        )
    if not variable:
        raise ValueError(f"line {line_number}: empty variable name in {raw_line!r}")
    return IndexEntry(
        message_number=number,
        start=start,
        end=None,
        reference_time=_parse_reference_time(date, line_number),
        variable=variable,
        level=level,
        forecast=forecast,
        extra=fields[6].removesuffix(":") if len(fields) == 7 else "",
        line_number=line_number,
    )


def _with_message_ends(entries: list[IndexEntry]) -> list[IndexEntry]:
    """The entries with ``end`` set to the next different offset (``None`` at the last one)."""
    ended: list[IndexEntry] = []
    next_start: int | None = None
    group_start: int | None = None
    # Walking backwards, the end of a message is the most recent offset different from its own.
    for entry in reversed(entries):
        if group_start is not None and entry.start != group_start:
            next_start = group_start
        group_start = entry.start
        ended.append(replace(entry, end=next_start))
    ended.reverse()
    return ended


def _forecast_matches(pattern: str, forecast: str) -> bool:
    if forecast == pattern:
        return True
    try:
        return re.fullmatch(pattern, forecast) is not None
    except re.error:
        return False


def select(
    entries: Iterable[IndexEntry],
    variable: str,
    level: str,
    forecast_pattern: str | None = None,
) -> list[IndexEntry]:
    """Entries with exactly this variable and level, and a matching forecast field.

    Parameters
    ----------
    entries
        Parsed inventory entries, e.g. from :func:`parse_index`.
    variable
        wgrib2 variable name, compared exactly (``"APCP"``).
    level
        wgrib2 level description, compared exactly (``"surface"``, ``"2 m above ground"``).
    forecast_pattern
        ``None`` accepts any forecast field. Otherwise the forecast field must either equal it
        or match it as a regular expression over the *whole* field (:func:`re.fullmatch`), so
        ``"6-7 hour acc fcst"`` or ``r"6-7 hour acc.*"`` selects the 6-7 hour bucket and never
        the ``"0-7 hour acc fcst"`` running total, and ``"7 hour fcst"`` never matches
        ``"17 hour fcst"``. A pattern that is not a valid regex matches only by equality.

    Returns
    -------
    list of IndexEntry
        All matching entries in their original order, possibly empty: the caller decides how
        many it expects.
    """
    return [
        entry
        for entry in entries
        if entry.variable == variable
        and entry.level == level
        and (forecast_pattern is None or _forecast_matches(forecast_pattern, entry.forecast))
    ]


def drop_duplicate_lines(entries: Iterable[IndexEntry]) -> list[IndexEntry]:
    """The entries without those repeating an earlier line, so that each field appears once.

    Two lines are duplicates when everything but their message number and offset is the same
    (reference time, variable, level, forecast time and extra text), as GFS's bucket and
    since-start accumulations at leads 1-6 h (``APCP:surface:0-6 hour acc fcst`` twice).
    Forecast times are compared as numbers: ``0-24 hour acc fcst`` repeats ``0-1 day acc fcst``.

    Returns
    -------
    list of IndexEntry
        The first entry of each distinct line, in the original order.
    """
    seen: set[tuple[datetime, str, str, ForecastTime | str, str]] = set()
    unique = []
    for entry in entries:
        forecast = entry.forecast_time or entry.forecast
        key = (entry.reference_time, entry.variable, entry.level, forecast, entry.extra)
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def coalesce_ranges(
    entries: Iterable[IndexEntry] | Iterable[tuple[int, int | None]],
    *,
    max_gap: int = 0,
) -> list[tuple[int, int | None]]:
    """Merge the byte ranges of entries into as few sorted ``(start, end)`` ranges as possible.

    Parameters
    ----------
    entries
        Index entries, or ``(start, end)`` pairs with an exclusive ``end`` (``None``: to the end
        of the file). Order and duplicates (e.g. sub-messages sharing one range) do not matter.
    max_gap
        Also merge two ranges separated by at most this many unwanted bytes (reading a few
        extra bytes is often cheaper than another HTTP request). 0 merges only ranges that
        touch or overlap.

    Returns
    -------
    list of tuple
        Disjoint ranges sorted by start, with gaps larger than ``max_gap`` between them. A
        range with ``end=None`` absorbs every range starting at or after its start.
    """
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    ranges: list[tuple[int, int | None]] = []
    for item in entries:
        start, end = item.byte_range if isinstance(item, IndexEntry) else item
        if start < 0 or (end is not None and end <= start):
            raise ValueError(f"invalid byte range ({start}, {end})")
        ranges.append((start, end))
    ranges.sort(key=lambda r: (r[0], float("inf") if r[1] is None else r[1]))

    merged: list[tuple[int, int | None]] = []
    for start, end in ranges:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                continue  # already runs to the end of the file
            if start <= last_end + max_gap:
                new_end = None if end is None else max(last_end, end)
                merged[-1] = (last_start, new_end)
                continue
        merged.append((start, end))
    return merged


def http_range_header(start: int, end: int | None) -> str:
    """The HTTP ``Range`` header value for the half-open byte range ``[start, end)``.

    Parameters
    ----------
    start
        First byte, >= 0.
    end
        Exclusive end (> ``start``), or ``None`` for everything from ``start`` on.

    Returns
    -------
    str
        ``"bytes=start-(end - 1)"`` (HTTP ranges are inclusive) or ``"bytes=start-"``.
    """
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if end is None:
        return f"bytes={start}-"
    if end <= start:
        raise ValueError(f"end ({end}) must be greater than start ({start})")
    return f"bytes={start}-{end - 1}"
