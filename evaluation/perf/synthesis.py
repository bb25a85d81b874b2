"""`sailyard bench synthesis`: the synthesis stage's throughput on a lakehouse's graph.

Reads `entities` and `relations` (and, for verification, `documents`, `passages` and the
search index) from the lakehouse root given (default: $SAILYARD_HOME, as `bench search`),
and measures, best of `repeat` each:

1. The graph: `KnowledgeGraph.from_tables` on the two frames, against DuckDB deriving the
   same indexes as tables from the same frames (evaluation/spec_sql.py, the baseline of 3).
2. Generation, template questions, default `SynthesisSettings` (the `qa_tasks` asset's):
   per generator, `generate` (drafts/s; open_world's includes the `finalize` it runs on each
   candidate) and `finalize` of its drafts (tasks/s), with what bounds its count (its limit,
   or the graph running out); then `generate_tasks` as a whole. The target (≥ 10,000 tasks in
   ≤ 2 minutes on 2 cores) is checked on the first run that makes 10,000 tasks: when the
   default limits make fewer, the limits are doubled until they do (or the graph gives no
   more, or MAX_LIMIT_FACTOR).
3. Spec execution: every finalized task's stored spec (canonical JSON) parsed and run by
   `spec.execute`, against the same specs translated to SQL and run on DuckDB (`SpecSql`),
   parse and translation included. The answers must agree: the share that does, by
   generator, and the first disagreements with their specs are printed (each one is a bug of
   the executor, the graph or the translator). Ops with no SQL are counted, not compared.
4. Verification: `task_rows` without search (re-execution, leakage, near duplicates,
   evidence passages, splits), tasks/s; and the answerability search (`verify.answerability`
   with the lakehouse's `SearchIndex`, hybrid, k from the settings) on a seeded sample of
   ANSWERABILITY_SAMPLE tasks, queries/s, from which the full check's time is estimated.
"""

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial

from rich.console import Console, RenderableType
from rich.table import Table

from evaluation.perf.report import BenchReport, Measurement, best_of
from evaluation.perf.search import Target
from evaluation.spec_sql import Answer, SpecSql, Untranslatable, answer_of, to_sql
from lakehouse import Lakehouse, paths
from lakehouse.errors import SailyardError
from lakehouse.index.search_index import SearchIndex
from lakehouse.synthesis import build, open_world, verify
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import canonical, execute
from lakehouse.synthesis.tasks import Rejected, Task, TaskDraft, finalize
from lakehouse.workers import default_workers

# The issue's target: 10,000 template-mode tasks from generate_tasks in 2 minutes, 2 cores.
TARGET_TASKS = 10_000
TARGET_SECONDS = 120.0
MAX_LIMIT_FACTOR = 8  # limits are doubled up to ×8 to reach TARGET_TASKS
PER_KIND_LIMITS = frozenset({open_world.GENERATOR})  # generators whose limit is per kind
ANSWERABILITY_SAMPLE = 500
SAMPLE_SEED = 0
EXAMPLES = 5  # disagreements shown
SPEC_CHARS = 600  # of a disagreement's spec JSON shown
ANSWER_CHARS = 160
INDEX_TABLE = "passages"  # the search index's table (assets.index.SEARCH_TABLE)


@dataclass(frozen=True)
class GeneratorRun:
    """One generator at its limit: drafts made, tasks finalized, and the time of each."""

    name: str
    limit: int
    drafts_by_kind: dict[str, int]
    tasks: int  # distinct finalized tasks (same spec and question: one)
    rejected: int
    generate_seconds: float
    finalize_seconds: float

    @property
    def drafts(self) -> int:
        return sum(self.drafts_by_kind.values())

    def bound(self) -> str:
        """What limits the count: the limit, or the graph (fewer drafts than the limit)."""
        if self.name not in PER_KIND_LIMITS:
            return "limit" if self.drafts >= self.limit else "graph"
        at_limit = [kind for kind, n in self.drafts_by_kind.items() if n >= self.limit]
        short = [f"{kind} {n:,}" for kind, n in self.drafts_by_kind.items() if n < self.limit]
        parts = [f"limit ({', '.join(at_limit)})"] if at_limit else []
        parts += [f"graph ({', '.join(short)})"] if short else []
        return "; ".join(parts)


@dataclass(frozen=True)
class GenerationRun:
    """One `generate_tasks` call: its limits (the defaults × factor), tasks and wall time."""

    factor: int
    tasks: int
    seconds: float

    @property
    def label(self) -> str:
        return "default limits" if self.factor == 1 else f"limits ×{self.factor}"


@dataclass(frozen=True)
class Disagreement:
    """A spec whose executor answer differs from its SQL answer."""

    task_id: str
    generator: str
    spec: str  # canonical JSON
    executed: str
    sql: str


@dataclass(frozen=True)
class Agreement:
    """Executor vs SQL on one generator's specs."""

    specs: int
    compared: int  # translated to SQL
    agreed: int


@dataclass
class SynthesisBenchReport(BenchReport):
    """The synthesis bench report: throughput rows plus generators, agreement and targets."""

    generators: list[GeneratorRun] = field(default_factory=list)
    runs: list[GenerationRun] = field(default_factory=list)
    agreement: dict[str, Agreement] = field(default_factory=dict)  # generator → agreement
    untranslated: Counter = field(default_factory=Counter)  # op → specs not compared
    disagreements: list[Disagreement] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    @property
    def agreed_share(self) -> float:
        compared = sum(a.compared for a in self.agreement.values())
        return sum(a.agreed for a in self.agreement.values()) / compared if compared else 0.0

    def renderables(self) -> list[RenderableType]:
        """Throughput vs baselines, generators, executor-vs-SQL agreement, targets."""
        generators = Table(title="generators (default limits)", title_justify="left")
        for column in ("generator", "limit", "drafts", "rejected", "tasks", "bounded by"):
            generators.add_column(column, justify="left" if column[0] in "gb" else "right")
        for run in self.generators:
            generators.add_row(
                run.name,
                f"{run.limit:,}" + (" per kind" if run.name in PER_KIND_LIMITS else ""),
                f"{run.drafts:,}",
                f"{run.rejected:,}",
                f"{run.tasks:,}",
                run.bound(),
            )
        agreement = Table(title="spec.execute vs DuckDB SQL: answers", title_justify="left")
        for column in ("generator", "specs", "compared", "agreed", "share"):
            agreement.add_column(column, justify="left" if column == "generator" else "right")
        for name, counts in self.agreement.items():
            share = counts.agreed / counts.compared if counts.compared else 0.0
            agreement.add_row(
                name,
                f"{counts.specs:,}",
                f"{counts.compared:,}",
                f"{counts.agreed:,}",
                f"{share:.4f}",
            )
        tables: list[RenderableType] = [self.table(), generators, agreement]
        if self.disagreements:
            examples = Table(title="disagreements (first ones)", title_justify="left")
            for column in ("task", "generator", "spec", "execute", "SQL"):
                examples.add_column(column, overflow="fold")
            for item in self.disagreements:
                examples.add_row(item.task_id, item.generator, item.spec, item.executed, item.sql)
            tables.append(examples)
        targets = Table(title="targets", title_justify="left")
        for column in ("goal", "measured", "met"):
            targets.add_column(column)
        for target in self.targets:
            targets.add_row(
                target.goal, target.measured, "[green]yes[/]" if target.met else "[red]no[/]"
            )
        return [*tables, targets]


# -- generation ----------------------------------------------------------------------------


def _finalize_all(drafts: list[TaskDraft], graph: KnowledgeGraph) -> tuple[int, int]:
    """(distinct tasks, rejected drafts), as generate_tasks counts them."""
    tasks: set[str] = set()
    rejected = 0
    for draft in drafts:
        try:
            tasks.add(finalize(draft, graph).task_id)
        except Rejected:
            rejected += 1
    return len(tasks), rejected


def generator_runs(
    graph: KnowledgeGraph, settings: build.SynthesisSettings, repeat: int, console: Console
) -> list[GeneratorRun]:
    """Each enabled generator's drafts and their finalization, timed apart."""
    runs = []
    for name in sorted(settings.limits):
        generate, _version = build.GENERATORS[name]
        limit = settings.limits[name]
        console.print(f"generator {name} (limit {limit:,})")
        drafts, generate_seconds = best_of(repeat, partial(generate, graph, settings.seed, limit))
        (tasks, rejected), finalize_seconds = best_of(repeat, partial(_finalize_all, drafts, graph))
        runs.append(
            GeneratorRun(
                name,
                limit,
                dict(Counter(draft.kind for draft in drafts)),
                tasks,
                rejected,
                generate_seconds,
                finalize_seconds,
            )
        )
    return runs


def _generate(graph: KnowledgeGraph, settings: build.SynthesisSettings) -> list[Task]:
    return build.generate_tasks(graph, settings, build.SynthesisReport())


def generation_runs(
    graph: KnowledgeGraph, settings: build.SynthesisSettings, repeat: int, console: Console
) -> tuple[list[Task], list[GenerationRun]]:
    """The default run's tasks, and every run: the default one, then doubled limits until
    TARGET_TASKS tasks (or no more from the graph, or MAX_LIMIT_FACTOR)."""
    console.print("generate_tasks, default limits")
    tasks, seconds = best_of(repeat, partial(_generate, graph, settings))
    runs = [GenerationRun(1, len(tasks), seconds)]
    factor = 1
    while runs[-1].tasks < TARGET_TASKS and factor < MAX_LIMIT_FACTOR:
        factor *= 2
        limits = {name: limit * factor for name, limit in settings.limits.items()}
        console.print(f"generate_tasks, limits ×{factor} (for {TARGET_TASKS:,} tasks)")
        raised, seconds = best_of(
            repeat, partial(_generate, graph, replace(settings, limits=limits))
        )
        runs.append(GenerationRun(factor, len(raised), seconds))
        if runs[-1].tasks <= runs[-2].tasks:
            break  # the graph gives no more
    return tasks, runs


def target_of(runs: list[GenerationRun]) -> Target:
    """The target, on the first run that made TARGET_TASKS tasks; when none did, whether
    the graph ran out (the last doubling added nothing) or the limits stopped at the cap."""
    goal = f"≥ {TARGET_TASKS:,} tasks in ≤ {TARGET_SECONDS:.0f} s (generate_tasks, templates)"
    reached = next((run for run in runs if run.tasks >= TARGET_TASKS), None)
    if reached is not None:
        return Target(
            goal,
            f"{reached.tasks:,} tasks in {reached.seconds:.1f} s ({reached.label})",
            reached.seconds <= TARGET_SECONDS,
        )
    most = max(runs, key=lambda run: run.tasks)
    ran_out = len(runs) > 1 and runs[-1].tasks <= runs[-2].tasks
    why = "the graph gives at most" if ran_out else "the largest limits tried give"
    return Target(
        goal,
        f"not reached: {why} {most.tasks:,} tasks ({most.label}, {most.seconds:.1f} s)",
        False,
    )


# -- spec execution ------------------------------------------------------------------------


def _shown(answer: Answer) -> str:
    if isinstance(answer, frozenset):
        text = f"{len(answer)}: " + ", ".join(sorted(answer))
    else:
        text = repr(answer)
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"


def _executed(specs: list[str], graph: KnowledgeGraph) -> list[Answer]:
    return [answer_of(execute(json.loads(text), graph)) for text in specs]


def _queried(specs: list[str], sql: SpecSql) -> list[Answer]:
    return [sql.answer(json.loads(text)) for text in specs]


def measure_specs(
    report: SynthesisBenchReport,
    tasks: list[Task],
    graph: KnowledgeGraph,
    sql: SpecSql,
    repeat: int,
    console: Console,
) -> None:
    """Every stored spec by spec.execute and by DuckDB; answers compared."""
    stored = [(task, canonical(task.draft.spec)) for task in tasks]
    compared: list[tuple[Task, str]] = []
    for task, text in stored:
        try:
            to_sql(json.loads(text))
        except Untranslatable as error:
            report.untranslated[str(error.op)] += 1
            continue
        compared.append((task, text))
    specs = [text for _task, text in compared]
    console.print(f"{len(specs):,} stored specs: spec.execute, then DuckDB SQL")
    ours, ours_seconds = best_of(repeat, partial(_executed, specs, graph))
    theirs, theirs_seconds = best_of(repeat, partial(_queried, specs, sql))
    name = "spec.execute (stored JSON)"
    report.add(Measurement(name, len(specs), ours_seconds, "specs"))
    report.add(
        Measurement("DuckDB SQL (translated spec)", len(specs), theirs_seconds, "specs", name)
    )
    if len(specs) < len(stored):
        every = [text for _task, text in stored]
        _answers, seconds = best_of(repeat, partial(_executed, every, graph))
        report.add(Measurement("spec.execute, every stored spec", len(every), seconds, "specs"))
    counts: dict[str, list[int]] = {}
    for task, _text in stored:
        counts.setdefault(task.draft.generator, [0, 0, 0])[0] += 1
    for (task, text), executed, queried in zip(compared, ours, theirs, strict=True):
        tally = counts[task.draft.generator]
        tally[1] += 1
        if executed == queried:
            tally[2] += 1
        elif len(report.disagreements) < EXAMPLES:
            report.disagreements.append(
                Disagreement(
                    task.task_id,
                    task.draft.generator,
                    text[:SPEC_CHARS],
                    _shown(executed),
                    _shown(queried),
                )
            )
    report.agreement = {name: Agreement(*tally) for name, tally in sorted(counts.items())}


# -- verification --------------------------------------------------------------------------


def measure_verification(
    report: SynthesisBenchReport,
    tasks: list[Task],
    graph: KnowledgeGraph,
    store: Lakehouse,
    settings: build.SynthesisSettings,
    repeat: int,
    console: Console,
) -> None:
    """task_rows without search; answerability searches on a sample, extrapolated."""
    missing = [table for table in ("documents", "passages") if not store.has_data(table)]
    if missing:
        report.notes.append(f"verification skipped: no {' or '.join(missing)} table")
        return
    documents, passages = store.read("documents"), store.read("passages")
    console.print(f"task_rows without search on {len(tasks):,} tasks")
    rows, verify_seconds = best_of(
        repeat,
        partial(
            build.task_rows, tasks, graph, documents, passages, settings, build.SynthesisReport()
        ),
    )
    report.add(
        Measurement(
            "task_rows without search (checks, splits)", len(tasks), verify_seconds, "tasks"
        )
    )
    report.notes.append(
        f"verify: spec_verified {rows['spec_verified'].mean():.4f}, answer not in question "
        f"{rows['answer_not_in_question'].mean():.4f}, near duplicates "
        f"{rows['duplicate_of'].is_not_null().sum():,}, split {rows['split'].is_not_null().sum():,}"
    )
    index_dir = paths.lancedb_dir(store.root)
    if not (index_dir / f"{INDEX_TABLE}.lance").exists():
        report.notes.append(f"answerability skipped: no search index in {index_dir}")
        return
    sample = random.Random(SAMPLE_SEED).sample(tasks, min(ANSWERABILITY_SAMPLE, len(tasks)))
    locator = verify.PassageLocator.build(
        documents, passages, {doc for task in sample for doc in task.evidence_doc_ids}
    )
    evidence = {task.task_id: verify.evidence_passages(task, graph, locator) for task in sample}
    index = SearchIndex(index_dir, INDEX_TABLE)
    try:
        console.print(f"answerability searches for {len(sample)} sampled tasks")
        found, queries, seconds = _answerability(sample, evidence, graph, index, settings, repeat)
    finally:
        index.close()
    name = f"answerability search, {len(sample)} sampled tasks (hybrid, k={settings.search_k})"
    report.add(Measurement(name, queries, seconds, "queries"))
    answerable = sum(wanted > 0 and reached == wanted for reached, wanted in found.values())
    per_task = queries / len(sample)
    full_seconds = seconds * len(tasks) / len(sample)
    report.notes.append(
        f"answerability: {len(sample)} sampled tasks (seed {SAMPLE_SEED}) → {queries:,} "
        f"queries ({per_task:.2f} per task), {answerable / len(sample):.3f} answerable; all "
        f"{len(tasks):,} tasks ≈ {per_task * len(tasks):,.0f} queries ≈ {full_seconds:.0f} s; "
        f"the full check (task_rows with search) ≈ {verify_seconds + full_seconds:.0f} s"
    )


def _answerability(
    sample: list[Task],
    evidence: dict[str, list[str]],
    graph: KnowledgeGraph,
    index: SearchIndex,
    settings: build.SynthesisSettings,
    repeat: int,
) -> tuple[dict[str, tuple[int, int]], int, float]:
    """verify.answerability on the sample: (its result, queries searched, best seconds)."""
    index.search(["warm-up"], k=settings.search_k)  # loads the embedder and the hit columns
    searched: list[int] = []

    def search(queries: list[str], k: int) -> list[list[str]]:
        searched.append(len(queries))
        return [[hit.passage_id for hit in hits] for hits in index.search(queries, k=k)]

    def check() -> dict[str, tuple[int, int]]:
        searched.clear()
        return verify.answerability(sample, evidence, graph, search, settings.search_k)

    found, seconds = best_of(repeat, check)
    return found, sum(searched), seconds


# -- the run -------------------------------------------------------------------------------


def measure_synthesis(
    store: Lakehouse,
    repeat: int,
    console: Console,
    settings: build.SynthesisSettings | None = None,
) -> SynthesisBenchReport:
    """The whole benchmark on one lakehouse (see the module docstring); `settings` default
    to the `qa_tasks` asset's."""
    missing = [table for table in ("entities", "relations") if not store.has_data(table)]
    if missing:
        raise SailyardError(
            f"no {' or '.join(missing)} table under {store.root}: materialize the knowledge "
            "group first (sailyard materialize --profile smoke)"
        )
    started = time.perf_counter()
    report = SynthesisBenchReport(stage="synthesis")
    entities, relations = store.read("entities"), store.read("relations")
    console.print(f"graph of {entities.height:,} entities and {relations.height:,} relations")
    graph, graph_seconds = best_of(repeat, partial(KnowledgeGraph.from_tables, entities, relations))
    threads = default_workers()
    sql, sql_seconds = best_of(repeat, partial(SpecSql, entities, relations, threads=threads))
    name = "KnowledgeGraph.from_tables"
    report.add(Measurement(name, relations.height, graph_seconds, "relations"))
    report.add(
        Measurement(
            "DuckDB: known/edges/facts/links tables",
            relations.height,
            sql_seconds,
            "relations",
            name,
        )
    )
    edges = sum(len(objects) for objects in graph.objects.values())
    unambiguous = sum(graph.fact(*key) is not None for key in graph.facts)
    report.notes.append(
        f"graph: {len(graph.names):,} entities, {edges:,} edges, {len(graph.facts):,} "
        f"attributes ({unambiguous:,} unambiguous), "
        f"{sum(len(t) for t in graph.links.values()):,} links; DuckDB: "
        f"{sql.count('edges'):,} edges, {sql.count('facts'):,} unambiguous attributes, "
        f"{sql.count('links'):,} links ({threads} threads)"
    )

    settings = settings or build.SynthesisSettings()
    report.generators = generator_runs(graph, settings, repeat, console)
    for run in report.generators:
        report.add(Measurement(f"{run.name}: generate", run.drafts, run.generate_seconds, "drafts"))
        report.add(Measurement(f"{run.name}: finalize", run.tasks, run.finalize_seconds, "tasks"))
    tasks, report.runs = generation_runs(graph, settings, repeat, console)
    for run in report.runs:
        report.add(Measurement(f"generate_tasks, {run.label}", run.tasks, run.seconds, "tasks"))
    report.targets.append(target_of(report.runs))
    default = report.runs[0]
    bounds = "; ".join(f"{run.name}: {run.bound()}" for run in report.generators)
    report.notes.append(
        f"generation: {default.tasks:,} tasks at the default limits in {default.seconds:.1f} s "
        f"(+ {graph_seconds:.2f} s graph build); the count is bounded by {bounds}"
    )
    if not tasks:
        report.notes.append("no task generated: spec execution and verification not measured")
        sql.close()
        return report

    measure_specs(report, tasks, graph, sql, repeat, console)
    sql.close()
    compared = sum(a.compared for a in report.agreement.values())
    agreed = sum(a.agreed for a in report.agreement.values())
    skipped = ", ".join(f"{op} {n:,}" for op, n in report.untranslated.most_common()) or "none"
    report.notes.append(
        f"execute vs SQL: {agreed:,}/{compared:,} answers agree ({report.agreed_share:.4f}); "
        f"specs not translated (op: count): {skipped}"
    )
    report.targets.append(
        Target(
            "spec.execute and DuckDB SQL agree on every compared answer",
            f"{agreed:,}/{compared:,}",
            compared > 0 and agreed == compared,
        )
    )
    measure_verification(report, tasks, graph, store, settings, repeat, console)
    report.notes.append(
        f"lakehouse {store.root}; best of {repeat}; {default_workers()} cores; "
        f"whole benchmark {time.perf_counter() - started:.0f} s wall"
    )
    return report


def run_synthesis_benchmark(
    repeat: int, console: Console, root: str | None = None
) -> SynthesisBenchReport:
    """Measure the synthesis stage on the lakehouse at `root` (default: the configured one)."""
    return measure_synthesis(Lakehouse(root), repeat, console)
