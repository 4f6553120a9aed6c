"""Periods of target years, and which scenario's files each year of a window comes from.

Three kinds of period, by the rule that picks each window year's source:

- ``historical``: every window year from the historical files;
- ``hybrid``: window years up to ``last_historical_year`` (2014) from the historical files,
  later ones from the chosen scenario;
- ``future``: every window year from the chosen scenario.

Outputs of historical targets are labelled ``historical``; hybrid and future outputs carry the
chosen scenario (e.g. ``ssp245``) in their names and attributes.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

HISTORICAL = "historical"
PERIOD_KINDS = ("historical", "hybrid", "future")
LAST_HISTORICAL_YEAR = 2014


@dataclass(frozen=True)
class Period:
    """A named range of target years, ``first_target..last_target`` inclusive."""

    name: str
    first_target: int
    last_target: int

    def __post_init__(self) -> None:
        if self.name not in PERIOD_KINDS:
            raise ValueError(f"unknown period {self.name!r}; periods are {', '.join(PERIOD_KINDS)}")
        if self.first_target > self.last_target:
            raise ValueError(f"period {self.name}: first target year after the last")

    @property
    def target_years(self) -> range:
        return range(self.first_target, self.last_target + 1)

    def output_scenario(self, scenario: str) -> str:
        """The scenario label of this period's outputs."""
        return HISTORICAL if self.name == HISTORICAL else scenario

    def source_scenario(self, year: int, scenario: str, last_historical_year: int) -> str:
        """The scenario whose file provides ``year`` of a window in this period."""
        if self.name == HISTORICAL:
            return HISTORICAL
        if self.name == "hybrid" and year <= last_historical_year:
            return HISTORICAL
        return scenario


DEFAULT_PERIODS: tuple[Period, ...] = (
    Period("historical", 1980, 2014),
    Period("hybrid", 2015, 2044),
    Period("future", 2045, 2100),
)


@dataclass(frozen=True)
class TargetWindow:
    """A target year's window: each window year and the scenario its file comes from."""

    target_year: int
    period: str
    scenario: str
    years: tuple[int, ...]
    sources: tuple[str, ...]

    @property
    def year_sources(self) -> tuple[tuple[str, int], ...]:
        """``(source scenario, year)`` of every window year."""
        return tuple(zip(self.sources, self.years, strict=True))


def window_years(target_year: int, window: int) -> range:
    """The years ``target_year - window + 1 .. target_year``."""
    if window < 1:
        raise ValueError(f"window must be at least 1 year, got {window}")
    return range(target_year - window + 1, target_year + 1)


def target_windows(
    scenario: str,
    *,
    periods: Sequence[Period] = DEFAULT_PERIODS,
    window: int = 30,
    target_years: Iterable[int] | None = None,
    last_historical_year: int = LAST_HISTORICAL_YEAR,
) -> list[TargetWindow]:
    """Every target year of ``periods`` (restricted to ``target_years`` if given) with its window.

    ``scenario`` is the scenario of hybrid and future periods; historical targets come out the
    same whatever it is.

    Raises
    ------
    ValueError
        If two periods claim the same target year.
    """
    wanted = None if target_years is None else set(target_years)
    windows: dict[int, TargetWindow] = {}
    for period in periods:
        for target in period.target_years:
            if wanted is not None and target not in wanted:
                continue
            if target in windows:
                raise ValueError(
                    f"target year {target} is in periods {windows[target].period} and {period.name}"
                )
            years = tuple(window_years(target, window))
            windows[target] = TargetWindow(
                target_year=target,
                period=period.name,
                scenario=period.output_scenario(scenario),
                years=years,
                sources=tuple(
                    period.source_scenario(year, scenario, last_historical_year) for year in years
                ),
            )
    return [windows[target] for target in sorted(windows)]


def parse_year_range(spec: str) -> range:
    """``"1980-2100"`` or ``"2050"`` as a range of years (inclusive)."""
    first, _, last = spec.strip().partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        raise ValueError(f"{spec!r} is not a year or a range of years like 1980-2100") from None
    if not years:
        raise ValueError(f"empty year range {spec!r}")
    return years


def make_periods(
    names: Iterable[str] = PERIOD_KINDS,
    ranges: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[Period, ...]:
    """The periods called ``names``, with default target years unless ``ranges`` gives others."""
    defaults = {period.name: period for period in DEFAULT_PERIODS}
    ranges = ranges or {}
    periods = []
    for name in names:
        if name not in defaults:
            raise ValueError(f"unknown period {name!r}; periods are {', '.join(PERIOD_KINDS)}")
        first, last = ranges.get(name, (defaults[name].first_target, defaults[name].last_target))
        periods.append(Period(name, int(first), int(last)))
    return tuple(periods)


def format_years(years: Iterable[int], separator: str = ",") -> str:
    """Years as compact ranges: ``[1980, 1981, 1982, 1985]`` is ``"1980-1982,1985"``.

    ``separator`` goes between ranges (``", "`` for messages).
    """
    ordered = sorted(set(years))
    runs: list[list[int]] = []
    for year in ordered:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return separator.join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
