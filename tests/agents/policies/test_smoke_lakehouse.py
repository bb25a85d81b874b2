"""The planner, HAS and the reasoning policy on the smoke lakehouse that `make run` builds
(./.sailyard, or $SAILYARD_HOME), through the real search index and documents; skipped when
the lakehouse has no qa_tasks. Loading the index and the embedder takes most of the ~30 s."""

import asyncio
import os
from pathlib import Path

import polars as pl
import pytest

from agents.paradigms import EpisodeLimits, ReAct, run_episode
from agents.policies.has import HasExplorer
from agents.policies.plan import Sources
from agents.policies.planner import PlannerPolicy
from agents.policies.reasoning import ReasoningPolicy, passages_by_id, run_reasoning
from agents.policy import EpisodeTask, TokenCounter
from agents.tool_runner import ToolRunner
from evaluation.scoring import verdict
from lakehouse import Lakehouse, paths

ROOT = Path(os.environ.get("SAILYARD_HOME", Path(__file__).parents[3] / ".sailyard"))
FAILURES = {"search_miss", "visit_miss", "extraction_miss", "compute_error", "unplannable"}
# Kinds the smoke report (evaluation/planner_report.py) solves in 100% of 15 sampled tasks.
RELIABLE_KINDS = ("analytical", "formal", "multi_hop", "set_basic", "set_union", "traversal")


def _has_tasks() -> bool:
    return (ROOT / "tables" / "qa_tasks").exists() and (ROOT / "lancedb").exists()


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _has_tasks(), reason=f"no smoke lakehouse with qa_tasks at {ROOT}"),
]


def test_planner_has_and_reasoning_on_the_smoke_lakehouse():
    import torch

    from lakehouse.index.search_index import SearchIndex
    from lakehouse.index.tools import LocalTools
    from lakehouse.synthesis.graph import KnowledgeGraph

    torch.set_num_threads(1)
    store = Lakehouse(ROOT)
    relations, documents = store.read("relations"), store.read("documents")
    graph = KnowledgeGraph.from_tables(store.read("entities"), relations)
    sources = Sources.from_tables(graph, documents, relations)
    runner = ToolRunner(
        LocalTools(SearchIndex(paths.lancedb_dir(store.root), "passages"), documents)
    )
    planner = PlannerPolicy(graph, sources)
    tasks = store.read("qa_tasks")
    rows = [
        tasks.filter(pl.col("kind") == kind).sort("task_id").row(0, named=True)
        for kind in sorted(tasks["kind"].unique())
    ]
    limits = EpisodeLimits(max_turns=60, max_context_tokens=1_000_000, turn_tokens=1024)

    async def episodes():
        done = []
        for row in rows:
            task = EpisodeTask(row["task_id"], row["question"], row)
            actor = planner.actor(task, 0)
            episode = await run_episode(task, actor, ReAct(), runner, TokenCounter(), limits)
            episode.extra.update(actor.notes)
            done.append((row, task, episode))
        return done

    results = asyncio.run(episodes())
    solved = 0
    for row, _, episode in results:
        failure = episode.extra["failure"]
        assert failure is None or failure in FAILURES, failure
        correct = verdict(episode.answer, row["answer"], row["answer_aliases"], row["answer_type"])
        if failure is None:
            assert correct.correct, (row["question"], episode.answer)
            solved += 1
            assert all(rank is not None for rank in episode.extra["gold_rank"][-1:])
        if row["kind"] in RELIABLE_KINDS:
            assert failure is None, (row["question"], episode.extra.get("failure_detail"))
    assert solved >= len(RELIABLE_KINDS)

    row, task, parent = next(r for r in results if r[2].extra["failure"] is None)
    explorer = HasExplorer(planner, runner, max_branches=2)
    branches = asyncio.run(
        explorer.explore(task, parent, "parent", ReAct(), TokenCounter(), limits)
    )
    for branch in branches:
        assert branch.notes["replay"] == "ok"  # the real tools are deterministic
        assert branch.kept == (branch.reason == "reaches the answer")

    reasoner = ReasoningPolicy(graph, sources, passages_by_id(store.read("passages")))
    episode, _ = asyncio.run(run_reasoning(task, reasoner, TokenCounter()))
    if episode.extra["failure"] is None:
        assert verdict(
            episode.answer, row["answer"], row["answer_aliases"], row["answer_type"]
        ).correct
