"""The trajectories group: `trajectories` and `trajectory_steps`, agents answering qa_tasks.

Thin wiring: the work is in agents/. One run generates, through the real `search`, `visit`
and `python` tools over this lakehouse's index:
- planner trajectories (FAS planning-action synthesis) for the selected tasks, each followed
  by its HAS branches when it succeeded;
- reasoning-action trajectories (FAS: question + evidence passages → reasoning → answer);
- LLM-policy samples (k per task, each configured paradigm) from the base model, through a
  local vLLM server by default (`backend: transformers` runs it in-process instead).
Every trajectory is stored with its verdict, failures too; `sft_trajectories` is the
rejection-sampled selection. The run is journaled: a killed materialization resumes without
redoing finished trajectories, and its rows are written once.
"""

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace

import dagster as dg
import polars as pl
from pydantic import Field

from agents.backends.base import SamplingParams
from agents.backends.launch import BACKEND_KINDS, open_backend
from agents.episode import MODEL_KINDS
from agents.generation import (
    EpisodeJob,
    GenerationContext,
    PlannerJob,
    ReasoningJob,
    settings_hash,
)
from agents.paradigms import PARADIGMS, EpisodeLimits
from agents.policies.has import HasExplorer
from agents.policies.plan import Sources
from agents.policies.planner import PlannerPolicy
from agents.policies.reasoning import ReasoningPolicy, passages_by_id
from agents.policy import LLMPolicy, TokenCounter, agent_sampling
from agents.rollouts import Job
from agents.trajectory_rows import judge_trajectories, valid_call_rate
from agents.trajectory_run import (
    clear_journal,
    generation_context,
    run_generation,
)
from assets.index import SEARCH_INDEX_KEY
from assets.knowledge import ENTITIES_KEY, RELATIONS_KEY
from assets.metadata import content_data_version, png_markdown, progress_logger, table_metadata
from assets.models import BASE_MODEL_KEY, base_model_path
from assets.synthesis import QA_TASKS_KEY
from assets.web import DOCUMENTS_KEY
from dagster_project.resources import LakehouseResource, VllmServerResource
from evaluation.judge import JudgeSettings
from lakehouse.lineage import RunStamp, stamp
from lakehouse.plots import bar_png
from lakehouse.store import Lakehouse
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.tables import (
    DOCUMENTS,
    ENTITIES,
    PASSAGES,
    QA_TASKS,
    RELATIONS,
    TRAJECTORIES,
    TRAJECTORY_STEPS,
)

TRAJECTORIES_KEY = dg.AssetKey(TRAJECTORIES.name)
TRAJECTORY_STEPS_KEY = dg.AssetKey(TRAJECTORY_STEPS.name)
COLLECTION = "synthesis"
CODE_VERSION = "trajectories-1"


class TrajectoriesConfig(dg.Config):
    """Which tasks, which policies, and the budgets of every episode."""

    seed: int = 0
    splits: list[str] = Field(default_factory=lambda: ["train", "dev", "test"])
    # FAS planning-action trajectories (and HAS branches of the successful ones), and
    # reasoning-action trajectories, on a seeded sample of the tasks in `splits`.
    planner_tasks: int = 5000
    planner_paradigms: list[str] = Field(default_factory=lambda: ["react"])
    has: bool = True
    has_max_branches: int = 3
    reasoning_tasks: int = 5000
    # The planner's episodes are training data for the policy model: they may use its whole
    # window (SmolLM2-135M: 8,192 positions), longer than a vLLM server's max_model_len, and
    # their own turn budget (successful plans took up to 40 turns on the smoke lakehouse).
    planner_max_context_tokens: int = 8192
    planner_max_turns: int = 48
    # LLM-policy samples: k per task, each paradigm, on `llm_tasks` tasks of `llm_split`
    # (max_turns, max_context_tokens and turn_tokens below are their episode budgets).
    llm_tasks: int = 200
    llm_samples: int = 2
    llm_split: str = "train"
    llm_paradigms: list[str] = Field(default_factory=lambda: ["react"])
    backend: str = "vllm"  # vllm | transformers | endpoint
    endpoint: str | None = None  # backend endpoint: an OpenAI-compatible /v1 URL
    model: str | None = None  # backend endpoint: the served model name
    temperature: float = 0.7
    top_p: float = 0.95
    max_turns: int = 12
    max_context_tokens: int = 4096
    turn_tokens: int = 512
    concurrency: int = 16
    flush_every: int = 16
    # An LLM judge (any OpenAI-compatible endpoint) for answers the rules call wrong.
    judge_endpoint: str | None = None
    judge_model: str = ""

    def limits(self) -> EpisodeLimits:
        return EpisodeLimits(
            max_turns=self.max_turns,
            max_context_tokens=self.max_context_tokens,
            turn_tokens=self.turn_tokens,
        )

    def sampling(self) -> SamplingParams:
        return agent_sampling(self.temperature, self.top_p, self.turn_tokens, self.seed)

    def check(self) -> None:
        """Reject a config that cannot run, naming the setting."""
        if self.backend not in BACKEND_KINDS:
            raise dg.Failure(f"backend must be one of {BACKEND_KINDS}, got {self.backend!r}")
        for field_name in ("llm_paradigms", "planner_paradigms"):
            unknown = [p for p in getattr(self, field_name) if p not in PARADIGMS]
            if unknown:
                raise dg.Failure(f"{field_name}: unknown {unknown}; known: {sorted(PARADIGMS)}")
        if self.backend == "endpoint" and not (self.endpoint and self.model):
            raise dg.Failure("backend endpoint needs `endpoint` and `model`")


def _tasks(store: Lakehouse, config: TrajectoriesConfig) -> pl.DataFrame:
    """The tasks that passed every check, in the configured splits."""
    tasks = store.read(QA_TASKS.name)
    return tasks.filter(pl.col("split").is_in(config.splits)).sort("task_id")


def _sample(tasks: pl.DataFrame, count: int, seed: int) -> pl.DataFrame:
    return tasks.sample(min(count, tasks.height), seed=seed, shuffle=True)


def _synthesis_jobs(
    store: Lakehouse,
    tasks: pl.DataFrame,
    config: TrajectoriesConfig,
    generation: GenerationContext,
) -> list[Job]:
    """Planner (+ HAS) and reasoning-action jobs on seeded samples of `tasks`."""
    if config.planner_tasks <= 0 and config.reasoning_tasks <= 0:
        return []
    relations = store.read(RELATIONS.name)
    graph = KnowledgeGraph.from_tables(store.read(ENTITIES.name), relations)
    sources = Sources.from_tables(graph, store.read(DOCUMENTS.name), relations)
    jobs: list[Job] = []
    if config.planner_tasks > 0:
        planner_generation = replace(
            generation,
            limits=replace(
                generation.limits,
                max_context_tokens=config.planner_max_context_tokens,
                max_turns=config.planner_max_turns,
            ),
        )
        planner = PlannerPolicy(graph, sources, seed=config.seed)
        explorer = (
            HasExplorer(planner, planner_generation.runner, max_branches=config.has_max_branches)
            if config.has
            else None
        )
        chosen = _sample(tasks, config.planner_tasks, config.seed)
        jobs += [
            PlannerJob(row, planner, paradigm, 0, planner_generation, explorer)
            for paradigm in config.planner_paradigms
            for row in chosen.iter_rows(named=True)
        ]
    if config.reasoning_tasks > 0:
        documents = store.read(DOCUMENTS.name).select("url", "description")
        passages = passages_by_id(store.read(PASSAGES.name), dict(documents.rows()))
        reasoner = ReasoningPolicy(graph, sources, passages, seed=config.seed)
        chosen = _sample(tasks, config.reasoning_tasks, config.seed)
        jobs += [ReasoningJob(row, reasoner, 0, generation) for row in chosen.iter_rows(named=True)]
    return jobs


def _llm_tasks(tasks: pl.DataFrame, config: TrajectoriesConfig) -> pl.DataFrame:
    chosen = tasks.filter(pl.col("split") == config.llm_split)
    return _sample(chosen, config.llm_tasks, config.seed)


@dg.multi_asset(
    name="trajectories",
    specs=[
        dg.AssetSpec(
            TRAJECTORIES_KEY,
            deps=[
                QA_TASKS_KEY,
                SEARCH_INDEX_KEY,
                DOCUMENTS_KEY,
                dg.AssetKey(PASSAGES.name),
                ENTITIES_KEY,
                RELATIONS_KEY,
                BASE_MODEL_KEY,
            ],
            group_name="trajectories",
            code_version=CODE_VERSION,
            kinds={"parquet", "polars"},
            description="One agent run on one task: policy, paradigm, outcome, verdict, rewards.",
        ),
        dg.AssetSpec(
            TRAJECTORY_STEPS_KEY,
            deps=[QA_TASKS_KEY],
            group_name="trajectories",
            code_version=CODE_VERSION,
            kinds={"parquet", "polars"},
            description="One message of a trajectory, with the sampled token ids of model turns.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("one_row_per_trajectory", asset=TRAJECTORIES_KEY),
        dg.AssetCheckSpec("steps_belong_to_trajectories", asset=TRAJECTORY_STEPS_KEY),
        dg.AssetCheckSpec("model_turns_keep_token_ids", asset=TRAJECTORY_STEPS_KEY),
    ],
)
def trajectories(
    context: dg.AssetExecutionContext,
    config: TrajectoriesConfig,
    lakehouse: LakehouseResource,
    vllm: VllmServerResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Planner, reasoning-action, HAS and LLM-policy trajectories with verdicts and lineage."""
    config.check()
    store = lakehouse.open()
    tasks = _tasks(store, config)
    checkpoint = base_model_path(context, store)
    generation = generation_context(
        store,
        tasks,
        TokenCounter.for_checkpoint(checkpoint),
        config.limits(),
        COLLECTION,
        settings_hash(CODE_VERSION, config.model_dump_json()),
    )
    inputs = tasks.get_column("_run_id").unique().sort().to_list()
    fingerprint = settings_hash(CODE_VERSION, config.model_dump_json(), inputs, str(checkpoint))
    llm_tasks = _llm_tasks(tasks, config) if config.llm_tasks > 0 else tasks.clear()
    with ExitStack() as stack:
        jobs = _synthesis_jobs(store, tasks, config, generation)
        if llm_tasks.height:
            if config.backend == "vllm" and config.max_context_tokens > vllm.max_model_len:
                raise dg.Failure(
                    f"max_context_tokens ({config.max_context_tokens}) exceeds the vLLM "
                    f"resource's max_model_len ({vllm.max_model_len}): raise max_model_len"
                )
            backend = stack.enter_context(
                open_backend(
                    config.backend,
                    checkpoint,
                    endpoint=config.endpoint,
                    model=config.model,
                    max_concurrency=config.concurrency,
                    server=vllm.server(checkpoint) if config.backend == "vllm" else None,
                )
            )
            policy = LLMPolicy(backend, config.sampling())
            jobs += [
                EpisodeJob(row, policy, paradigm, sample, "llm_sampling", generation)
                for paradigm in config.llm_paradigms
                for row in llm_tasks.iter_rows(named=True)
                for sample in range(config.llm_samples)
            ]
        context.log.info(f"{len(jobs)} trajectory jobs ({llm_tasks.height} tasks for the LLM)")
        tables = run_generation(
            store,
            COLLECTION,
            fingerprint,
            jobs,
            concurrency=config.concurrency,
            flush_every=config.flush_every,
            progress=progress_logger(context, "trajectory jobs done"),
        )
    context.log.info(
        f"ran {tables.summary.ran} jobs, {tables.summary.skipped} already journaled "
        f"(resumed), {tables.trajectories.height} trajectories"
    )
    judged = tables.trajectories
    if config.judge_endpoint:
        judge = JudgeSettings(endpoint=config.judge_endpoint, model=config.judge_model)
        judged = judge_trajectories(judged, tasks, judge)
        context.log.info(f"judge {config.judge_model} at {config.judge_endpoint} re-scored answers")
    run = RunStamp.now(context.run.run_id, CODE_VERSION)
    trajectory_frame = stamp(judged, run)
    step_frame = stamp(tables.steps, run)
    steps_path = store.write(TRAJECTORY_STEPS.name, step_frame, COLLECTION)
    path = store.write(TRAJECTORIES.name, trajectory_frame, COLLECTION)
    clear_journal(store, COLLECTION, fingerprint)
    # The SFT selection has one definition, the catalog's view: count through it.
    sft_selected = store.sql(
        "SELECT count(*) FROM sft_trajectories WHERE collection = ?", [COLLECTION]
    ).item()
    yield from _results(trajectory_frame, step_frame, str(path), str(steps_path), sft_selected)


def _planner_success(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """Planner trajectories' success rate and failure classes by `by` (kind or hops)."""
    planner = frame.filter(pl.col("policy") == "planner")
    return (
        planner.group_by(by)
        .agg(
            pl.len().alias("tasks"),
            pl.col("correct").mean().round(4).alias("success"),
            pl.col("failure").drop_nulls().value_counts(sort=True).alias("failures"),
        )
        .with_columns(
            pl.col("failures").map_elements(
                lambda counts: ", ".join(f"{c['failure']}:{c['count']}" for c in counts),
                return_dtype=pl.String,
            )
        )
        .sort(by)
    )


def _gold_ranks(frame: pl.DataFrame) -> list[int]:
    """The rank of the useful result in every search of correct planner and HAS
    trajectories (what SFT data teaches about reading results, not taking the first)."""
    ranks: list[int] = []
    chosen = frame.filter(pl.col("policy").is_in(["planner", "has"]) & pl.col("correct"))
    for notes in chosen.get_column("notes"):
        for search in json.loads(notes).get("searches", []):
            if search.get("gold_rank"):
                ranks.append(int(search["gold_rank"]))
    return ranks


def _summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Per policy, method and paradigm: counts, accuracy, valid tool-call rate, turns."""
    return (
        frame.group_by("policy", "method", "paradigm")
        .agg(
            pl.len().alias("trajectories"),
            pl.col("correct").mean().round(4).alias("accuracy"),
            valid_call_rate().alias("valid_tool_call_rate"),
            pl.col("turns").mean().round(2).alias("avg_turns"),
        )
        .sort("policy", "method", "paradigm")
    )


def _results(
    frame: pl.DataFrame, steps: pl.DataFrame, path: str, steps_path: str, sft_selected: int
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    summary = _summary(frame)
    ranks = _gold_ranks(frame)
    by_termination = dict(frame.group_by("termination").len().sort("termination").rows())
    failures = dict(
        frame.filter(pl.col("failure").is_not_null())
        .group_by("failure")
        .len()
        .sort("failure")
        .rows()
    )
    model_turns = steps.filter(pl.col("kind").is_in([str(kind) for kind in MODEL_KINDS]))
    llm_turns = model_turns.join(
        frame.filter(pl.col("policy") == "llm").select("trajectory_id"), on="trajectory_id"
    )
    plot = bar_png(
        [f"{p}/{m}" for p, m, _ in summary.select("policy", "method", "paradigm").rows()]
        or ["none"],
        summary.get_column("trajectories").to_list() or [0],
        "trajectories by policy",
        "trajectories",
    )
    yield dg.MaterializeResult(
        asset_key=TRAJECTORIES_KEY,
        metadata={
            **table_metadata(
                TRAJECTORIES,
                frame,
                path,
                ["policy", "paradigm", "kind", "turns", "termination", "correct", "answer"],
                column_lineage={"task_id": [("qa_tasks", "task_id")]},
            ),
            "summary": dg.MetadataValue.md(_markdown(summary)),
            "terminations": dg.MetadataValue.json(by_termination),
            "planner_failures": dg.MetadataValue.json(failures),
            "sft_selected": sft_selected,
            "planner_by_kind": dg.MetadataValue.md(_markdown(_planner_success(frame, "kind"))),
            "planner_by_hops": dg.MetadataValue.md(_markdown(_planner_success(frame, "hops"))),
            "gold_rank_counts": dg.MetadataValue.json(
                {str(rank): count for rank, count in sorted(Counter(ranks).items())}
            ),
            "gold_rank_plot": png_markdown(
                bar_png(
                    [str(rank) for rank in sorted(Counter(ranks))] or ["none"],
                    [Counter(ranks)[rank] for rank in sorted(Counter(ranks))] or [0],
                    "rank of the useful result (correct planner + HAS searches)",
                    "rank",
                ),
                "gold ranks",
            ),
            "plot": png_markdown(plot, "trajectories by policy"),
            "stats": dg.MetadataValue.text('sailyard sql "SELECT * FROM trajectory_stats"'),
        },
        data_version=content_data_version(frame, TRAJECTORIES),
    )
    yield dg.MaterializeResult(
        asset_key=TRAJECTORY_STEPS_KEY,
        metadata={
            **table_metadata(
                TRAJECTORY_STEPS,
                steps,
                steps_path,
                ["trajectory_id", "step", "role", "kind", "tool_name", "content"],
                column_lineage={"trajectory_id": [("trajectories", "trajectory_id")]},
            ),
            "model_turns": model_turns.height,
        },
        data_version=content_data_version(steps, TRAJECTORY_STEPS),
    )
    ids = frame.get_column("trajectory_id")
    yield dg.AssetCheckResult(
        asset_key=TRAJECTORIES_KEY,
        check_name="one_row_per_trajectory",
        passed=ids.n_unique() == frame.height,
        metadata={"rows": frame.height, "unique_ids": ids.n_unique()},
    )
    orphans = steps.join(frame.select("trajectory_id"), on="trajectory_id", how="anti").height
    yield dg.AssetCheckResult(
        asset_key=TRAJECTORY_STEPS_KEY,
        check_name="steps_belong_to_trajectories",
        passed=orphans == 0,
        metadata={"orphan_steps": orphans},
    )
    missing_ids = llm_turns.filter(pl.col("token_ids").is_null()).height
    yield dg.AssetCheckResult(
        asset_key=TRAJECTORY_STEPS_KEY,
        check_name="model_turns_keep_token_ids",
        passed=missing_ids == 0,
        metadata={
            "llm_model_turns": llm_turns.height,
            "without_token_ids": missing_ids,
            "note": "LLM turns must keep their sampled ids (token-in/token-out)",
        },
    )


def _markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return header + "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.rows())
