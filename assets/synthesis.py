"""The synthesis group: `qa_tasks`, verified questions with lineage (and the `qa_stats` view).

Thin wiring: the work is in lakehouse.synthesis. The asset builds the graph from the
knowledge group, runs the generators, verifies every task (spec re-execution, uniqueness,
leakage, near duplicates, answerability through the index's search), assigns entity-disjoint
splits, and reports pass rates as asset checks.
"""

import json

import dagster as dg
import polars as pl

from assets.index import SEARCH_INDEX_KEY, SEARCH_TABLE
from assets.knowledge import ENTITIES_KEY, RELATIONS_KEY
from assets.metadata import content_data_version, png_markdown, progress_logger, table_metadata
from assets.web import DOCUMENTS_KEY
from dagster_project.resources import LakehouseResource
from lakehouse import paths
from lakehouse.index.search_index import SearchIndex
from lakehouse.lineage import RunStamp, stamp
from lakehouse.plots import bar_png
from lakehouse.synthesis import build, llm_verbalize, splits
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.tables import DOCUMENTS, ENTITIES, PASSAGES, QA_TASKS, RELATIONS

QA_TASKS_KEY = dg.AssetKey(QA_TASKS.name)
# An asset check fails below these shares of tasks passing.
MIN_SPEC_VERIFIED = 1.0
MIN_ANSWERABLE = 0.5
MIN_ANSWER_HIDDEN = 0.95


class QaTasksConfig(dg.Config):
    """How many tasks of each generator, the checks' settings, the optional LLM rewriter."""

    seed: int = 0
    open_world_per_kind: int = 1500
    webshaper: int = 2000
    sailorfog: int = 1500
    webleaper: int = 1500
    webwalker: int = 1000
    check_answerability: bool = True
    search_k: int = 10
    test_share: float = 0.05
    dev_share: float = 0.03
    llm_endpoint: str | None = None  # e.g. http://127.0.0.1:8000/v1 (key: $SAILYARD_LLM_API_KEY)
    llm_model: str = ""
    llm_max_questions: int = 200

    def settings(self) -> build.SynthesisSettings:
        limits = {
            "open_world": self.open_world_per_kind,
            "webshaper": self.webshaper,
            "sailorfog": self.sailorfog,
            "webleaper": self.webleaper,
            "webwalker": self.webwalker,
        }
        return build.SynthesisSettings(
            seed=self.seed,
            limits={name: limit for name, limit in limits.items() if limit > 0},
            search_k=self.search_k,
            test_share=self.test_share,
            dev_share=self.dev_share,
        )


def _share(frame: pl.DataFrame, column: str) -> float:
    return round(frame.get_column(column).mean() or 0.0, 4) if frame.height else 0.0


@dg.asset(
    key=QA_TASKS_KEY,
    deps=[ENTITIES_KEY, RELATIONS_KEY, DOCUMENTS_KEY, dg.AssetKey(PASSAGES.name), SEARCH_INDEX_KEY],
    group_name="synthesis",
    code_version=build.code_version(),
    kinds={"parquet", "polars", "lancedb"},
    check_specs=[
        dg.AssetCheckSpec("specs_reexecute", asset=QA_TASKS_KEY),
        dg.AssetCheckSpec("answers_not_in_questions", asset=QA_TASKS_KEY),
        dg.AssetCheckSpec("splits_disjoint_by_entity", asset=QA_TASKS_KEY),
        dg.AssetCheckSpec("answerable_through_search", asset=QA_TASKS_KEY),
    ],
)
def qa_tasks(
    context: dg.AssetExecutionContext, config: QaTasksConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Questions of graded difficulty whose answers are computed by executing their specs."""
    store = lakehouse.open()
    graph = KnowledgeGraph.from_tables(store.read(ENTITIES.name), store.read(RELATIONS.name))
    settings = config.settings()
    report = build.SynthesisReport()
    tasks = build.generate_tasks(graph, settings, report)
    context.log.info(f"{len(tasks)} tasks from {dict(report.drafts)} drafts")
    rewrite = None
    if config.llm_endpoint:
        rewrite = llm_verbalize.VerbalizerSettings(
            endpoint=config.llm_endpoint,
            model=config.llm_model,
            max_questions=config.llm_max_questions,
        )
        report.rewrite = llm_verbalize.rewrite_questions(tasks, graph, rewrite)
    search = None
    if config.check_answerability:
        index = SearchIndex(paths.lancedb_dir(store.root), SEARCH_TABLE)

        def search(queries: list[str], k: int) -> list[list[str]]:
            return [[hit.passage_id for hit in hits] for hits in index.search(queries, k=k)]

    frame = build.task_rows(
        tasks,
        graph,
        store.read(DOCUMENTS.name),
        store.read(PASSAGES.name),
        settings,
        report,
        search=search,
        progress=progress_logger(context, "answerability queries searched"),
    )
    frame = stamp(frame, RunStamp.now(context.run.run_id, settings.version()))
    path = store.write(QA_TASKS.name, frame)

    by_kind = frame.group_by("kind").len().sort("kind")
    by_split = dict(frame.group_by("split").len().sort("split").rows())
    by_hops = dict(frame.group_by("hops").len().sort("hops").rows())
    leak_rows = splits.leaks(
        [
            splits.SplitTask(t, k, frozenset(g))
            for t, k, g in frame.select("task_id", "kind", "gold_entity_ids").iter_rows()
        ],
        dict(frame.select("task_id", "split").iter_rows()),
    )
    answerable = frame.filter(pl.col("answerable").is_not_null())
    pass_rates = (
        frame.group_by("generator")
        .agg(
            pl.len().alias("tasks"),
            pl.col("spec_verified").mean().round(4),
            pl.col("answer_not_in_question").mean().round(4),
            pl.col("duplicate_of").is_null().mean().round(4).alias("not_duplicate"),
            pl.col("answerable").mean().round(4),
        )
        .sort("generator")
    )
    counts_png = bar_png(
        [f"{kind}" for kind in by_kind.get_column("kind")],
        by_kind.get_column("len").to_list(),
        "qa_tasks by kind",
        "tasks",
    )
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                QA_TASKS,
                frame,
                str(path),
                ["kind", "question", "answer", "hops", "split"],
                column_lineage={
                    "gold_entity_ids": [("entities", "entity_id")],
                    "evidence_relation_ids": [("relations", "relation_id")],
                    "evidence_passage_ids": [("passages", "passage_id")],
                },
            ),
            "by_kind": dg.MetadataValue.json(dict(by_kind.rows())),
            "by_hops": dg.MetadataValue.json({str(k): v for k, v in by_hops.items()}),
            "by_split": dg.MetadataValue.json({str(k): v for k, v in by_split.items()}),
            "drafts": dg.MetadataValue.json(dict(report.drafts)),
            "rejected_drafts": dg.MetadataValue.json(dict(report.rejected)),
            "seconds": dg.MetadataValue.json(report.seconds),
            "pass_rates": dg.MetadataValue.md(
                "| generator | tasks | spec verified | answer not in question | not duplicate "
                "| answerable |\n|---|---|---|---|---|---|\n"
                + "".join(
                    f"| {g} | {n} | {v} | {a} | {d} | {s} |\n"
                    for g, n, v, a, d, s in pass_rates.rows()
                )
            ),
            "answerable_share": _share(answerable, "answerable"),
            "llm_verbalizer": dg.MetadataValue.json(
                {**llm_verbalize.settings_record(rewrite), "outcomes": report.rewrite}
                if rewrite
                else {"enabled": False}
            ),
            "plot": png_markdown(counts_png, "tasks by kind"),
            "qa_stats": dg.MetadataValue.text('sailyard sql "SELECT * FROM qa_stats"'),
        },
        data_version=content_data_version(frame, QA_TASKS),
        check_results=[
            dg.AssetCheckResult(
                check_name="specs_reexecute",
                passed=_share(frame, "spec_verified") >= MIN_SPEC_VERIFIED,
                metadata={"share": _share(frame, "spec_verified")},
            ),
            dg.AssetCheckResult(
                check_name="answers_not_in_questions",
                passed=_share(frame, "answer_not_in_question") >= MIN_ANSWER_HIDDEN,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "share_clean": _share(frame, "answer_not_in_question"),
                    "note": "tasks that name their answer are kept, marked, with no split",
                },
            ),
            dg.AssetCheckResult(
                check_name="splits_disjoint_by_entity",
                passed=not leak_rows,
                metadata={"leaks": len(leak_rows), "examples": json.dumps(leak_rows[:5])},
            ),
            dg.AssetCheckResult(
                check_name="answerable_through_search",
                passed=not answerable.height or _share(answerable, "answerable") >= MIN_ANSWERABLE,
                metadata={
                    "share": _share(answerable, "answerable"),
                    "checked": answerable.height,
                    "k": settings.search_k,
                },
            ),
        ],
    )
