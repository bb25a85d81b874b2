"""How well the synthesis policies do on a lakehouse: `python -m evaluation.planner_report`.

Runs the planner (agents/policies/planner.py) on every qa_tasks row (all splits) with ReAct
and the real tools in-process (LocalTools over the lakehouse's search index and documents),
HAS on every successful planner trajectory, and the reasoning-action policy on every task,
then reports:

- planner success (no failure recorded and a correct verdict) overall, by kind, by hops;
- failure classes with counts and a few examples each, explained from the trajectory's
  notes (the queries tried and what the results held, or what the page lacked);
- HAS branches tried and kept per successful trajectory, and why branches were dropped;
- the rank of the useful result in every search of the kept trajectories, planner alone
  and planner + HAS (the SFT probe learned "take result 1" when 83% of gold sat first), and
  the share of kept trajectories that never needed more than result 1;
- reasoning-action success.

Nothing is written to the lakehouse; `--json` saves the figures, `--jsonl` one line per task
(failure, ranks, queries, branches) for further analysis. Torch runs on one thread
(the embedder of the search index; the machine has 2 cores and other work runs).
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from agents.episode import Episode
from agents.format import ToolCall
from agents.paradigms import EpisodeLimits, ReAct, run_episode
from agents.policies.has import HasExplorer
from agents.policies.plan import Sources
from agents.policies.planner import PlannerPolicy
from agents.policies.reading import search_results
from agents.policies.reasoning import ReasoningPolicy, passages_by_id, run_reasoning
from agents.policy import EpisodeTask, TokenCounter
from agents.tool_runner import ToolOutcome, ToolRunner
from evaluation.scoring import verdict
from lakehouse import Lakehouse, paths
from lakehouse.index.search_index import SearchIndex
from lakehouse.index.tools import LocalTools
from lakehouse.synthesis.graph import KnowledgeGraph

SEARCH_TABLE = "passages"  # assets.index.SEARCH_TABLE (not imported: assets import Dagster)
# Generous budgets: the report measures the planner, not the paradigm's limits (a count
# over 14 neighbours with one look-up each takes ~32 turns).
LIMITS = EpisodeLimits(max_turns=80, max_context_tokens=1_000_000, turn_tokens=1024)
MAX_RANK_SHOWN = 10


class CachedToolRunner(ToolRunner):
    """A tool runner that answers a repeated call from memory. The tools are deterministic
    (HAS checks this on every replayed step), and a HAS branch repeats its parent's calls
    up to its branch step, so the report runs each distinct call once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[str, ToolOutcome] = {}

    async def run(self, call: ToolCall) -> ToolOutcome:
        """The call's outcome, run once per distinct call."""
        key = json.dumps([call.name, call.arguments], sort_keys=True, ensure_ascii=False)
        if key not in self._memo:
            self._memo[key] = await super().run(call)
        return self._memo[key]


@dataclass
class Outcome:
    """One task's planner trajectory, its HAS branches and its reasoning trajectory."""

    row: dict[str, Any]
    episode: Episode
    correct: bool
    failure: str | None
    branches: list[dict[str, Any]] = field(default_factory=list)
    reasoning_correct: bool = False
    reasoning_failure: str | None = None

    @property
    def success(self) -> bool:
        """No failure recorded and a correct verdict."""
        return self.failure is None and self.correct


def _ranks(notes: dict[str, Any]) -> list[int | None]:
    return [search["gold_rank"] for search in notes.get("searches", [])]


def _distractor_visits(notes: dict[str, Any]) -> int:
    return sum(bool(visit.get("distractor")) for visit in notes.get("visits", []))


def _top_only(ranks: Sequence[int | None], distractors: int) -> bool:
    """A trajectory that never needed more than result 1: every search found the useful
    page first, and no other result was visited (what teaches "always take result 1")."""
    return distractors == 0 and all(rank == 1 for rank in ranks)


def outcome_record(outcome: "Outcome") -> dict[str, Any]:
    """One task's outcome as a JSON line (for analyses the report does not print)."""
    notes = outcome.episode.extra
    return {
        "task_id": outcome.row["task_id"],
        "kind": outcome.row["kind"],
        "hops": outcome.row["hops"],
        "split": outcome.row["split"],
        "question": outcome.row["question"],
        "answer": outcome.row["answer"],
        "given": outcome.episode.answer,
        "correct": outcome.correct,
        "failure": outcome.failure,
        "failure_hop": notes.get("hop"),
        "failure_detail": notes.get("failure_detail"),
        "turns": outcome.episode.turns,
        "ranks": _ranks(notes),
        "queries": [search["query"] for search in notes.get("searches", [])],
        "branches": outcome.branches,
        "reasoning_correct": outcome.reasoning_correct,
        "reasoning_failure": outcome.reasoning_failure,
    }


async def _run_task(
    row: dict[str, Any],
    planner: PlannerPolicy,
    explorer: HasExplorer,
    reasoner: ReasoningPolicy,
    runner: ToolRunner,
    counter: TokenCounter,
    with_has: bool,
) -> Outcome:
    task = EpisodeTask(row["task_id"], row["question"], row)
    actor = planner.actor(task, 0)
    paradigm = ReAct()
    episode = await run_episode(task, actor, paradigm, runner, counter, LIMITS)
    episode.extra.update(actor.notes)
    judged = verdict(episode.answer, row["answer"], row["answer_aliases"], row["answer_type"])
    failure = episode.extra.get("failure")
    if failure is None and episode.termination.value != "answer":
        failure = episode.termination.value
    outcome = Outcome(row, episode, judged.correct, failure)
    if with_has and outcome.success:
        branches = await explorer.explore(task, episode, row["task_id"], paradigm, counter, LIMITS)
        outcome.branches = [
            {
                "kind": b.point.kind,
                "hop": b.point.hop,
                "kept": b.kept,
                "reason": b.reason,
                "ranks": _ranks(b.notes),
                "distractor_visits": _distractor_visits(b.notes),
                "parent_rank": b.point.parent_rank,
                "screened_rank": b.point.screened_rank,
            }
            for b in branches
        ]
    reasoning, _ = await run_reasoning(task, reasoner, counter)
    outcome.reasoning_correct = verdict(
        reasoning.answer, row["answer"], row["answer_aliases"], row["answer_type"]
    ).correct
    outcome.reasoning_failure = reasoning.extra.get("failure")
    return outcome


def _explain(outcome: Outcome) -> str:
    """A failure in words, from the trajectory's notes and tool responses."""
    notes = outcome.episode.extra
    steps = outcome.episode.transcript.steps
    detail = notes.get("failure_detail") or ""
    hop = notes.get("hop")
    text = f"{outcome.failure} at hop {hop}: {detail}" if hop else f"{outcome.failure}: {detail}"
    if outcome.failure == "search_miss":
        tried = [s for s in notes.get("searches", []) if s["hop"] + 1 == hop]
        for search in tried:
            response = steps[search["step"] + 1].content if search["step"] + 1 < len(steps) else ""
            blocks = search_results(response)
            titles = [r.title for r in (blocks[0] if blocks else [])[:3]]
            text += f"\n    - query {search['query']!r} → top results {titles}"
    return text


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"


def _rank_table(ranks: Sequence[int | None]) -> list[tuple[str, int, str]]:
    found = [r for r in ranks if r is not None]
    counts = Counter(found)
    rows = [(str(rank), counts[rank], _share(counts[rank], len(found))) for rank in sorted(counts)]
    return rows


def report(outcomes: list[Outcome], seconds: float, examples: int) -> tuple[str, dict[str, Any]]:
    """The markdown report and its figures."""
    lines: list[str] = []
    figures: dict[str, Any] = {"tasks": len(outcomes), "seconds": round(seconds, 1)}
    successes = [o for o in outcomes if o.success]
    lines.append(f"# Planner report: {len(outcomes)} tasks in {seconds:.0f} s\n")
    lines.append(f"Planner success: {_share(len(successes), len(outcomes))}\n")
    figures["planner_success"] = len(successes) / max(len(outcomes), 1)
    for key in ("kind", "hops"):
        groups: dict[Any, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            groups[outcome.row[key]].append(outcome)
        lines.append(
            f"\n## Success by {key}\n\n| {key} | tasks | success | failures |\n|---|---|---|---|"
        )
        figures[f"by_{key}"] = {}
        for value in sorted(groups):
            members = groups[value]
            won = sum(o.success for o in members)
            fails = Counter(
                o.failure or ("wrong_answer" if not o.correct else "ok") for o in members
            )
            fails.pop("ok", None)
            listed = ", ".join(f"{k} {v}" for k, v in fails.most_common())
            lines.append(f"| {value} | {len(members)} | {_share(won, len(members))} | {listed} |")
            figures[f"by_{key}"][str(value)] = {"tasks": len(members), "success": won, **fails}
    failures: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if not outcome.success:
            failures[outcome.failure or "wrong_answer"].append(outcome)
    lines.append("\n## Failure classes\n")
    figures["failures"] = {}
    for name, members in sorted(failures.items(), key=lambda item: -len(item[1])):
        lines.append(f"### {name}: {len(members)}\n")
        figures["failures"][name] = len(members)
        by_kind = Counter(o.row["kind"] for o in members)
        lines.append("by kind: " + ", ".join(f"{k} {v}" for k, v in by_kind.most_common()) + "\n")
        seen_kinds: set[str] = set()
        shown = 0
        for outcome in members:  # spread the examples over kinds
            if shown >= examples or outcome.row["kind"] in seen_kinds:
                continue
            seen_kinds.add(outcome.row["kind"])
            shown += 1
            lines.append(f"- [{outcome.row['kind']}] {outcome.row['question']}")
            lines.append(f"  answer {outcome.row['answer']!r}, gave {outcome.episode.answer!r}")
            lines.append(f"  {_explain(outcome)}")
        lines.append("")
    tried = [b for o in successes for b in o.branches]
    kept = [b for b in tried if b["kept"]]
    per_parent = [sum(b["kept"] for b in o.branches) for o in successes]
    lines.append("## HAS\n")
    lines.append(
        f"Branches tried {len(tried)}, kept {len(kept)} ({_share(len(kept), len(tried))}); "
        f"kept per successful trajectory: mean {statistics.fmean(per_parent or [0]):.2f}, "
        f"distribution {dict(sorted(Counter(per_parent).items()))}"
    )
    by_kind_kept = Counter(b["kind"] for b in kept)
    lines.append(f"kept by kind: {dict(by_kind_kept)}")
    dropped = Counter(b["reason"].split(" (")[0] for b in tried if not b["kept"])
    lines.append(f"dropped because: {dict(dropped.most_common())}\n")
    figures["has"] = {
        "tried": len(tried),
        "kept": len(kept),
        "kept_per_success_mean": statistics.fmean(per_parent or [0]),
        "kept_per_success": dict(Counter(per_parent)),
        "kept_by_kind": dict(by_kind_kept),
        "dropped": dict(dropped),
    }
    planner_ranks = [r for o in successes for r in _ranks(o.episode.extra)]
    has_ranks = [r for b in kept for r in b["ranks"]]
    lines.append("## Rank of the useful result, per search of the kept trajectories\n")
    lines.append("| rank | planner | planner + HAS |\n|---|---|---|")
    planner_table = {rank: (n, s) for rank, n, s in _rank_table(planner_ranks)}
    both_table = {rank: (n, s) for rank, n, s in _rank_table(planner_ranks + has_ranks)}
    for rank in sorted(set(planner_table) | set(both_table), key=int):
        p = planner_table.get(rank, (0, "0"))
        b = both_table.get(rank, (0, "0"))
        lines.append(f"| {rank} | {p[1]} | {b[1]} |")
    misses = sum(r is None for r in planner_ranks + has_ranks)
    lines.append(f"\nsearches that missed (then reformulated) in kept trajectories: {misses}")
    parents_top = sum(_top_only(_ranks(o.episode.extra), 0) for o in successes)
    branches_top = sum(_top_only(b["ranks"], b["distractor_visits"]) for b in kept)
    kept_all = len(successes) + len(kept)
    lines.append(
        "trajectories that never needed more than result 1 (all useful pages first, no other "
        f"result visited): planner {_share(parents_top, len(successes))}; planner + HAS "
        f"{_share(parents_top + branches_top, kept_all)}"
    )
    figures["top_only"] = {
        "planner": [parents_top, len(successes)],
        "planner_has": [parents_top + branches_top, kept_all],
    }
    figures["gold_rank"] = {
        "planner": dict(Counter(r for r in planner_ranks if r is not None)),
        "planner_has": dict(Counter(r for r in planner_ranks + has_ranks if r is not None)),
    }
    reasoning = sum(o.reasoning_correct and not o.reasoning_failure for o in outcomes)
    reasons = Counter(o.reasoning_failure for o in outcomes if o.reasoning_failure)
    lines.append("\n## Reasoning-action\n")
    lines.append(f"success {_share(reasoning, len(outcomes))}; failures {dict(reasons)}")
    figures["reasoning_success"] = reasoning / max(len(outcomes), 1)
    figures["reasoning_failures"] = dict(reasons)
    return "\n".join(lines), figures


def _select(
    tasks: pl.DataFrame, limit: int | None, per_kind: int | None, seed: int
) -> pl.DataFrame:
    if per_kind:
        parts = [
            group.sample(min(per_kind, group.height), seed=seed)
            for _, group in tasks.group_by("kind", maintain_order=True)
        ]
        tasks = pl.concat(parts)
    if limit:
        tasks = tasks.sample(min(limit, tasks.height), seed=seed)
    return tasks.sort("task_id")


async def _run_all(
    rows: list[dict[str, Any]], concurrency: int, with_has: bool, **parts: Any
) -> list[Outcome]:
    semaphore = asyncio.Semaphore(concurrency)
    done = 0

    async def one(row: dict[str, Any]) -> Outcome:
        nonlocal done
        async with semaphore:
            outcome = await _run_task(row, with_has=with_has, **parts)
        done += 1
        if done % 250 == 0:
            print(f"  {done}/{len(rows)} tasks", file=sys.stderr, flush=True)
        return outcome

    return list(await asyncio.gather(*(one(row) for row in rows)))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the policies on a lakehouse's tasks and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", default=None, help="lakehouse root (default $SAILYARD_HOME or ./.sailyard)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="a seeded sample of this many tasks"
    )
    parser.add_argument(
        "--per-kind", type=int, default=None, help="at most this many tasks per kind"
    )
    parser.add_argument("--seed", type=int, default=0, help="the planner's seed (and the sample's)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-branches", type=int, default=3, help="HAS branches per trajectory")
    parser.add_argument("--no-has", action="store_true", help="skip HAS")
    parser.add_argument("--examples", type=int, default=3, help="examples per failure class")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--jsonl", type=Path, default=None, help="write one line per task here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    store = Lakehouse(args.root)
    relations = store.read("relations")
    documents = store.read("documents")
    graph = KnowledgeGraph.from_tables(store.read("entities"), relations)
    sources = Sources.from_tables(graph, documents, relations)
    index = SearchIndex(paths.lancedb_dir(store.root), SEARCH_TABLE)
    runner = CachedToolRunner(LocalTools(index, documents))
    planner = PlannerPolicy(graph, sources, seed=args.seed)
    explorer = HasExplorer(planner, runner, max_branches=args.max_branches)
    descriptions = dict(documents.select("url", "description").rows())
    reasoner = ReasoningPolicy(
        graph, sources, passages_by_id(store.read("passages"), descriptions), args.seed
    )
    tasks = _select(store.read("qa_tasks"), args.limit, args.per_kind, args.seed)
    print(f"{tasks.height} tasks from {store.root}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    outcomes = asyncio.run(
        _run_all(
            tasks.to_dicts(),
            args.concurrency,
            not args.no_has,
            planner=planner,
            explorer=explorer,
            reasoner=reasoner,
            runner=runner,
            counter=TokenCounter(),
        )
    )
    text, figures = report(outcomes, time.perf_counter() - started, args.examples)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True, default=str))
    if args.jsonl:
        with args.jsonl.open("w") as out:
            for outcome in outcomes:
                out.write(json.dumps(outcome_record(outcome), ensure_ascii=False, default=str))
                out.write("\n")


if __name__ == "__main__":
    main()
