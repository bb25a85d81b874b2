"""`sailyard bench STAGE`: throughput of each pipeline stage against a same-run baseline."""

from collections.abc import Callable

from rich.console import Console

from evaluation.perf.report import BenchReport, Measurement
from lakehouse.errors import SailyardError

__all__ = ["BENCHMARKS", "BenchReport", "Measurement", "run_benchmark"]


def _web(repeat: int, console: Console) -> BenchReport:
    from evaluation.perf.web import run_web_benchmark

    return run_web_benchmark(repeat=repeat, console=console)


def _near_dup(repeat: int, console: Console) -> BenchReport:
    from evaluation.perf.near_dup import run_near_dup_benchmark

    return run_near_dup_benchmark(repeat=repeat, console=console)


BENCHMARKS: dict[str, Callable[[int, Console], BenchReport]] = {
    "web": _web,
    "near_dup": _near_dup,
}


def run_benchmark(stage: str, repeat: int, console: Console) -> BenchReport:
    """Run the benchmark of one stage; an unknown stage is an error listing the known ones."""
    if stage not in BENCHMARKS:
        raise SailyardError(f"no benchmark for stage {stage!r}; stages: {', '.join(BENCHMARKS)}")
    if repeat < 1:
        raise SailyardError(f"--repeat must be at least 1, got {repeat}")
    return BENCHMARKS[stage](repeat, console)
