"""A benchmark report: measured rows, each compared with a baseline measured in the same run."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rich.console import RenderableType
from rich.table import Table

Result = TypeVar("Result")


def best_of(repeat: int, work: Callable[[], Result]) -> tuple[Result, float]:
    """(the last run's result, the best wall seconds) over `repeat` runs of `work`."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return result, best


@dataclass(frozen=True)
class Measurement:
    """One timed workload: `items` processed in `seconds` (best of the repetitions)."""

    name: str
    items: int
    seconds: float
    unit: str  # what an item is: records, documents, queries…
    baseline_of: str | None = None  # for a baseline: the measurement it is the baseline of

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class BenchReport:
    stage: str
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measurement: Measurement) -> Measurement:
        self.measurements.append(measurement)
        return self.measurements[-1]

    def ratio(self, name: str) -> float | None:
        """rate(name) / rate(its baseline), or None when it has no baseline."""
        subject = next(m for m in self.measurements if m.name == name)
        baseline = next((m for m in self.measurements if m.baseline_of == name), None)
        return subject.rate / baseline.rate if baseline else None

    def table(self) -> Table:
        table = Table(title=f"sailyard bench {self.stage}", title_justify="left")
        for column in ("workload", "items", "seconds", "rate", "vs baseline"):
            table.add_column(column, justify="left" if column == "workload" else "right")
        shown_baselines: set[tuple[str, int, float]] = set()
        for m in self.measurements:
            if m.baseline_of is not None:
                # one baseline measured once may serve several subjects: print it once
                if (m.name, m.items, m.seconds) in shown_baselines:
                    continue
                shown_baselines.add((m.name, m.items, m.seconds))
            ratio = self.ratio(m.name) if m.baseline_of is None else None
            table.add_row(
                m.name if m.baseline_of is None else f"  baseline: {m.name}",
                f"{m.items:,}",
                f"{m.seconds:.3f}",
                f"{m.rate:,.0f} {m.unit}/s",
                f"{ratio:.2f}×" if ratio is not None else "",
            )
        if self.notes:
            table.caption = "\n".join(self.notes)
            table.caption_justify = "left"
        return table

    def renderables(self) -> list[RenderableType]:
        """What `sailyard bench` prints: the table (reports with more to show add theirs)."""
        return [self.table()]
