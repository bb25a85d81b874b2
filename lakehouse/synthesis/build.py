"""The `qa_tasks` table: generate, execute, verify, check answerability, split.

1. The graph from `entities` and `relations` (`KnowledgeGraph`).
2. Drafts from every enabled generator (`GENERATORS`), each up to its limit.
3. `finalize` executes each draft's spec; a draft whose execution does not give its answer
   is counted as rejected and dropped (it is not a task).
4. Optionally, the LLM verbalizer rewrites questions (`llm_verbalize`).
5. Per-row checks (`verify`): the stored spec re-executes, the answer is unique and not in
   the question, near duplicates point at the task they repeat, and, when a search function
   is given, which evidence passages the search tool reaches.
6. Splits disjoint by entity over the tasks that pass every check (`splits`); a task that
   fails one is kept, marked, with no split.
"""

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from lakehouse.synthesis import (
    open_world,
    sailorfog,
    splits,
    verify,
    webleaper,
    webshaper,
    webwalker,
)
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import canonical
from lakehouse.synthesis.tasks import Rejected, Task, TaskDraft, finalize
from lakehouse.tables import QA_TASKS

log = logging.getLogger("sailyard.synthesis")

CODE_VERSION = "qa-tasks-1"
QA_ROW_SCHEMA = {**QA_TASKS.columns, "parent_ids": pl.List(pl.String)}
Generate = Callable[[KnowledgeGraph, int, int], list[TaskDraft]]
# name → (generate(graph, seed, limit), version). open_world's limit is per kind.
GENERATORS: dict[str, tuple[Generate, str]] = {
    open_world.GENERATOR: (open_world.generate, open_world.VERSION),
    webshaper.GENERATOR: (webshaper.generate, webshaper.VERSION),
    sailorfog.GENERATOR: (sailorfog.generate, sailorfog.VERSION),
    webleaper.GENERATOR: (webleaper.generate, webleaper.VERSION),
    webwalker.GENERATOR: (webwalker.generate, webwalker.VERSION),
}


def code_version() -> str:
    """The version of qa_tasks' code: the builder's and every generator's (with templates),
    so that changing any generator makes the asset stale."""
    return "+".join([CODE_VERSION, *(version for _make, version in GENERATORS.values())])


@dataclass(frozen=True)
class SynthesisSettings:
    """What to generate and how to check it."""

    seed: int = 0
    limits: dict[str, int] = field(
        default_factory=lambda: {
            "open_world": 1500,
            "webshaper": 2000,
            "sailorfog": 1500,
            "webleaper": 1500,
            "webwalker": 1000,
        }
    )
    search_k: int = 10  # answerability: evidence must be in the top k of a task query
    # Shares of each kind held out (the region growth in `splits` may add more test tasks).
    test_share: float = 0.05
    dev_share: float = 0.03

    def version(self) -> str:
        """The code version of a run: the builder's and every enabled generator's."""
        parts = [CODE_VERSION] + [GENERATORS[name][1] for name in sorted(self.limits)]
        return "+".join(parts)


@dataclass
class SynthesisReport:
    """Counts and timings of one build, for the asset's metadata."""

    drafts: Counter = field(default_factory=Counter)  # generator → drafts made
    rejected: Counter = field(default_factory=Counter)  # generator → failed finalize
    rejection_reasons: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # stage → wall seconds
    rewrite: dict[str, int] = field(default_factory=dict)  # llm verbalizer outcomes


def generate_tasks(
    graph: KnowledgeGraph, settings: SynthesisSettings, report: SynthesisReport
) -> list[Task]:
    """Every generator's drafts, finalized; rejected drafts counted, duplicates (same spec
    and question) kept once."""
    tasks: dict[str, Task] = {}
    for name in sorted(settings.limits):
        generate, _version = GENERATORS[name]
        started = time.perf_counter()
        drafts = generate(graph, settings.seed, settings.limits[name])
        report.drafts[name] = len(drafts)
        for draft in drafts:
            try:
                task = finalize(draft, graph)
            except Rejected as error:
                report.rejected[name] += 1
                report.rejection_reasons[str(error).split(":")[0]] += 1
                continue
            tasks.setdefault(task.task_id, task)
        report.seconds[f"generate/{name}"] = round(time.perf_counter() - started, 3)
        log.info("%s: %d drafts, %d rejected", name, len(drafts), report.rejected[name])
    return sorted(tasks.values(), key=lambda t: t.task_id)


def task_rows(
    tasks: list[Task],
    graph: KnowledgeGraph,
    documents: pl.DataFrame,
    passages: pl.DataFrame,
    settings: SynthesisSettings,
    report: SynthesisReport,
    search: verify.SearchPassages | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """`qa_tasks` rows (without run stamps) for finalized tasks, checks and splits included."""
    started = time.perf_counter()
    doc_ids = {d for task in tasks for d in task.evidence_doc_ids}
    locator = verify.PassageLocator.build(documents, passages, doc_ids)
    evidence = {t.task_id: verify.evidence_passages(t, graph, locator) for t in tasks}
    checks = {t.task_id: verify.respec_matches(t, graph) for t in tasks}
    leaked = {t.task_id for t in tasks if verify.mentions_answer(t.draft.question, t, graph)}
    duplicates = verify.near_duplicates(tasks)
    report.seconds["verify"] = round(time.perf_counter() - started, 3)
    found: dict[str, tuple[int, int]] = {}
    if search is not None:
        started = time.perf_counter()
        found = verify.answerability(
            tasks, evidence, graph, search, settings.search_k, progress=progress
        )
        report.seconds["answerability"] = round(time.perf_counter() - started, 3)

    def passes(task: Task) -> bool:
        verified, unique = checks[task.task_id]
        reached, wanted = found.get(task.task_id, (0, 0))
        answerable = search is None or (wanted > 0 and reached == wanted)
        return (
            verified
            and unique
            and task.task_id not in leaked
            and task.task_id not in duplicates
            and answerable
        )

    started = time.perf_counter()
    eligible = [
        splits.SplitTask(t.task_id, t.draft.kind, frozenset(t.gold_entity_ids))
        for t in tasks
        if passes(t)
    ]
    split_of = splits.assign_splits(
        eligible, settings.test_share, settings.dev_share, settings.seed
    )
    report.seconds["splits"] = round(time.perf_counter() - started, 3)
    rows = []
    for task in tasks:
        draft = task.draft
        verified, unique = checks[task.task_id]
        reached, wanted = found.get(task.task_id, (0, 0))
        rows.append(
            {
                "task_id": task.task_id,
                "question": draft.question,
                "answer": task.answer,
                "answer_aliases": task.answer_aliases,
                "answer_type": draft.answer_type,
                "answer_entity_ids": task.answer_entity_ids,
                "kind": draft.kind,
                "generator": draft.generator,
                "generator_version": draft.generator_version,
                "template": draft.template,
                "spec": canonical(draft.spec),
                "hops": task.hops,
                "obfuscations": json.dumps(draft.obfuscations, ensure_ascii=False),
                "gold_entity_ids": task.gold_entity_ids,
                "gold_path": draft.gold_path,
                "evidence_relation_ids": task.evidence_relation_ids,
                "evidence_doc_ids": task.evidence_doc_ids,
                "evidence_passage_ids": evidence[task.task_id],
                "seed": draft.seed,
                "difficulty": task.difficulty,
                "split": split_of.get(task.task_id),
                "spec_verified": verified,
                "answer_unique": unique,
                "answer_not_in_question": task.task_id not in leaked,
                "duplicate_of": duplicates.get(task.task_id),
                "evidence_found": reached if search is not None else None,
                "answerable": (wanted > 0 and reached == wanted) if search is not None else None,
                "verbalizer": draft.verbalizer,
                "verbalizer_model": draft.verbalizer_model,
                "prompt_hash": draft.prompt_hash,
                "sampling": draft.sampling,
                "parent_ids": list(
                    dict.fromkeys(
                        [
                            *task.evidence_relation_ids,
                            *evidence[task.task_id],
                            *task.gold_entity_ids,
                        ]
                    )
                ),
            }
        )
    return pl.DataFrame(rows, schema=QA_ROW_SCHEMA).sort("task_id")
