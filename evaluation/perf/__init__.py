"""`sailyard bench STAGE`: throughput of each pipeline stage against a same-run baseline.

`web` runs the whole web group's benchmarks: `web_replay` (recorded crawl ingest, documents
asset vs a plain loop), `web_crawl` (a live crawl of the Python docs on loopback, extraction
vs raw trafilatura) and `near_dup` (100,000 documents vs raw datasketch). `search` measures
the index group: bm25/dense/hybrid latency and batching on the corpus and on 100k passages
against bm25s and exact numpy search, the HTTP tool service, embedding throughput and
retrieval quality (evaluation/perf/search.py). `linking` crawls the Python docs on loopback
and scores entity linking (`build_mentions`) against the site's own hyperlinks, with a
no-context baseline on the same matches (evaluation/perf/linking.py). `synthesis` reads a
lakehouse's graph and times the graph build, each generator and `generate_tasks` (against the
10,000-tasks-in-2-minutes target), re-execution of every stored spec against DuckDB SQL
computing the same answers (agreement checked: a cross-check of the executor), verification
and the answerability search on a sample (evaluation/perf/synthesis.py). `generation` serves
the embedded checkpoint with vLLM (or takes `--endpoint`) and measures completion tokens/s at
concurrency 1, 4 and 16 against in-process transformers (evaluation/perf/generation.py).
"""

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from evaluation.perf.report import BenchReport, Measurement
from lakehouse.errors import SailyardError

__all__ = ["BENCHMARKS", "BenchReport", "Measurement", "run_benchmark"]


@dataclass(frozen=True)
class Benchmark:
    run: Callable[..., BenchReport]  # (repeat, console, **options)
    default_repeat: int  # the slow ones default to one repetition
    description: str
    options: frozenset[str] = frozenset()  # the keyword options `run` takes


def _web_replay(repeat: int, console: Console) -> BenchReport:
    from evaluation.perf.web import run_web_benchmark

    return run_web_benchmark(repeat=repeat, console=console)


def _near_dup(repeat: int, console: Console) -> BenchReport:
    from evaluation.perf.near_dup import run_near_dup_benchmark

    return run_near_dup_benchmark(repeat=repeat, console=console)


def _web_crawl(repeat: int, console: Console) -> BenchReport:
    from evaluation.perf.web_crawl import run_crawl_benchmark

    return run_crawl_benchmark(repeat=repeat, console=console)


def _linking(repeat: int, console: Console) -> BenchReport:
    from evaluation.perf.linking import run_linking_benchmark

    return run_linking_benchmark(repeat=repeat, console=console)


def _synthesis(repeat: int, console: Console, **options: object) -> BenchReport:
    from evaluation.perf.synthesis import run_synthesis_benchmark

    return run_synthesis_benchmark(repeat=repeat, console=console, **options)


def _generation(repeat: int, console: Console, **options: object) -> BenchReport:
    from evaluation.perf.generation import run_generation_benchmark

    return run_generation_benchmark(repeat=repeat, console=console, **options)


def _search(repeat: int, console: Console, **options: object) -> BenchReport:
    from evaluation.perf.search import run_search_benchmark

    return run_search_benchmark(repeat=repeat, console=console, **options)


BENCHMARKS: dict[str, Benchmark] = {
    "web_replay": Benchmark(_web_replay, 3, "replay ingest; documents asset vs plain loop"),
    "web_crawl": Benchmark(_web_crawl, 1, "crawl the Python docs; extraction vs trafilatura"),
    "near_dup": Benchmark(_near_dup, 3, "near-dup dedup of 100k documents vs datasketch"),
    "search": Benchmark(
        _search,
        1,
        "search latency, batching, HTTP service, embedding and retrieval quality vs "
        "bm25s and exact numpy search",
        frozenset({"root", "benchmark_file", "size"}),
    ),
    "linking": Benchmark(
        _linking, 1, "entity linking P/R against the Python docs' links vs a no-context linker"
    ),
    "synthesis": Benchmark(
        _synthesis,
        1,
        "graph build, generation, spec execution vs DuckDB SQL, verification and "
        "answerability search on the lakehouse's graph",
        frozenset({"root"}),
    ),
    "generation": Benchmark(
        _generation,
        1,
        "vLLM completion tokens/s at concurrency 1/4/16 vs in-process transformers",
        frozenset({"root", "endpoint"}),
    ),
}
GROUPS = {"web": ("web_replay", "web_crawl", "near_dup")}


def _combined(stage: str, reports: list[BenchReport]) -> BenchReport:
    combined = BenchReport(stage=stage)
    for report in reports:
        combined.measurements.extend(report.measurements)
        combined.notes.extend(f"{report.stage}: {note}" for note in report.notes)
    return combined


def run_benchmark(
    stage: str,
    repeat: int | None,
    console: Console,
    root: str | None = None,
    **options: object,
) -> BenchReport:
    """Run one stage's benchmark (or a group's, one after the other).

    `repeat=None` uses each benchmark's default; an unknown stage is an error listing them.
    `options` (None: not given) go to the benchmarks that take them; giving one to a stage
    that does not is an error. `root` is the lakehouse root, for benchmarks that cache there.
    """
    if stage not in BENCHMARKS and stage not in GROUPS:
        known = ", ".join([*GROUPS, *BENCHMARKS])
        raise SailyardError(f"no benchmark for stage {stage!r}; stages: {known}")
    if repeat is not None and repeat < 1:
        raise SailyardError(f"--repeat must be at least 1, got {repeat}")
    names = GROUPS.get(stage, (stage,))
    given = {name: value for name, value in options.items() if value is not None}
    for name in names:
        unknown = sorted(set(given) - BENCHMARKS[name].options)
        if unknown:
            flags = ", ".join(
                "--" + option.replace("_file", "").replace("_", "-") for option in unknown
            )
            takers = [key for key, b in BENCHMARKS.items() if set(unknown) <= b.options]
            raise SailyardError(
                f"{flags} does not apply to stage {stage!r} (only to: {', '.join(takers)})"
            )
    reports = []
    for name in names:
        benchmark = BENCHMARKS[name]
        console.print(f"[bold]bench {name}[/]: {benchmark.description}")
        extra = dict(given)
        if "root" in benchmark.options:
            extra["root"] = root
        reports.append(benchmark.run(repeat or benchmark.default_repeat, console, **extra))
    return reports[0] if len(reports) == 1 else _combined(stage, reports)
