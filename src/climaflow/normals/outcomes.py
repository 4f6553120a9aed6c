"""What happened to each target year of a normals run, and the run's warnings."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from climaflow.normals.compute import MissingYearsWarning, UndeclaredFillWarning, warn_at_caller
from climaflow.normals.periods import format_years
from climaflow.normals.plan import TargetJob


class Status(StrEnum):
    """What happened to one target year's output."""

    WRITTEN = "written"
    SKIPPED_VALID = "skipped_valid"
    RECOMPUTED = "recomputed"
    TOO_FEW_YEARS = "too_few_years"
    FAILED = "failed"


@dataclass(frozen=True)
class TargetOutcome:
    """What happened to one target year, with the years used and any skipped ones.

    ``left_out`` lists ``(source scenario, year, reason)`` of window years not used;
    ``masked_fills`` lists ``(input, count)`` of window inputs holding undeclared fill values.
    """

    model: str
    variable: str
    region: str
    scenario: str
    target_year: int
    status: Status
    path: Path
    source_years: tuple[int, ...] = ()
    left_out: tuple[tuple[str, int, str], ...] = ()
    masked_fills: tuple[tuple[str, int], ...] = ()
    message: str = ""


@dataclass
class NormalsSummary:
    """All outcomes of a run, with counts by status, and the (model, variable) pairs left out
    for want of inputs (``(model, variable, reason)``)."""

    outcomes: list[TargetOutcome] = field(default_factory=list)
    left_out_models: list[tuple[str, str, str]] = field(default_factory=list)
    #: Where the run record was written.
    record: str | None = None

    def counts(self) -> dict[Status, int]:
        counted = Counter(outcome.status for outcome in self.outcomes)
        return {status: counted.get(status, 0) for status in Status}

    @property
    def failed(self) -> int:
        return self.counts()[Status.FAILED]

    def table(self) -> str:
        """A text table: one row per (variable, region, scenario), one column per status."""
        rows: dict[tuple[str, str, str, str], Counter[Status]] = defaultdict(Counter)
        for o in self.outcomes:
            rows[(o.model, o.variable, o.region, o.scenario)][o.status] += 1
        header = ["model", "variable", "region", "scenario", *Status]
        body = [[*key, *(str(rows[key][status]) for status in Status)] for key in sorted(rows)]
        body.append(["total", "", "", "", *(str(count) for count in self.counts().values())])
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [header, *body]
        ]
        return "\n".join(line.rstrip() for line in lines)


def outcome_of(
    job: TargetJob,
    status: Status,
    *,
    source_years: tuple[int, ...] = (),
    left_out: tuple[tuple[str, int, str], ...] = (),
    masked_fills: tuple[tuple[str, int], ...] = (),
    message: str = "",
) -> TargetOutcome:
    return TargetOutcome(
        model=job.model,
        variable=job.variable,
        region=job.region.name,
        scenario=job.scenario,
        target_year=job.target_year,
        status=status,
        path=job.path,
        source_years=source_years,
        left_out=left_out,
        masked_fills=masked_fills,
        message=message,
    )


def missing_inputs(job: TargetJob) -> tuple[tuple[str, int, str], ...]:
    return tuple((source, year, "no input file") for source, year in job.missing)


def warn_left_out_years(outcomes: Iterable[TargetOutcome]) -> None:
    """One short warning naming, per model, variable and source, the years left out, with
    one line per file that was read but not used (unreadable or incomplete) and why."""
    left_out: dict[tuple[str, str, str], dict[str, set[int]]] = defaultdict(
        lambda: defaultdict(set)
    )
    reasons: dict[tuple[str, str, str, int], str] = {}
    for outcome in outcomes:
        for source, year, reason in outcome.left_out:
            kind = "no input file" if reason == "no input file" else "unreadable"
            if reason.startswith("incomplete"):
                kind = "incomplete"
            left_out[(outcome.model, outcome.variable, source)][kind].add(year)
            if kind != "no input file":
                reasons[(outcome.model, outcome.variable, source, year)] = reason
    if not left_out:
        return
    lines = []
    for (model, variable, source), by_kind in sorted(left_out.items()):
        kinds = "; ".join(
            f"{kind} {format_years(years, ', ')}" for kind, years in sorted(by_kind.items())
        )
        lines.append(f"  {model} {variable} {source}: {kinds}")
        lines.extend(
            f"    {year}: {reason}"
            for (m, v, s, year), reason in sorted(reasons.items())
            if (m, v, s) == (model, variable, source)
        )
    message = "years left out of windows (the other years are used):\n" + "\n".join(lines)
    warn_at_caller(message, MissingYearsWarning)


def warn_masked_fills(outcomes: Iterable[TargetOutcome]) -> None:
    """One warning per input holding undeclared fill values, with the count per region."""
    found: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for outcome in outcomes:
        for location, count in outcome.masked_fills:
            found[(location, outcome.variable)][outcome.region] = count
    for (location, variable), by_region in sorted(found.items()):
        counts = ", ".join(f"{region} {count}" for region, count in sorted(by_region.items()))
        message = (
            f"{location}: values of {variable} that are non-finite or |x| >= 1e20 without a "
            f"declared fill value were treated as missing ({counts})"
        )
        warn_at_caller(message, UndeclaredFillWarning)
