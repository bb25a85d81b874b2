"""From a finished episode to `trajectories` and `trajectory_steps` rows, verdict included.

Every episode is stored, failures too: the verdict (evaluation/scoring.py: normalized exact,
alias, numeric and date match; item F1 for set answers) and the reward components are
columns, so rejection sampling for SFT is a query, not a filter that throws rows away. The
trajectory id is a hash of what defines the run (task, policy, model, paradigm, method,
sample, parent and branch step, settings), so regenerating with the same settings gives the
same ids and a journaled rerun never duplicates rows.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from agents.episode import Episode, Step, StepKind
from evaluation.scoring import Verdict, entity_mention_coverage, verdict
from lakehouse.ids import stable_id

# Text the entity-coverage reward reads: what the model thought and what it asked the tools.
COVERAGE_KINDS = frozenset({StepKind.TURN})


@dataclass(frozen=True)
class TrajectoryMeta:
    """Who made a trajectory and how: everything but the episode itself."""

    collection: str
    task: dict[str, Any]  # the qa_tasks row
    policy: str
    model: str
    paradigm: str
    paradigm_version: str
    method: str
    sample: int
    prompt_hash: str
    sampling: dict[str, Any] = field(default_factory=dict)
    settings_hash: str = ""
    seed: int | None = None
    parent_trajectory_id: str | None = None
    branch_step: int | None = None
    checkpoint_id: str | None = None
    rl_step: int | None = None
    group_id: str | None = None

    @property
    def trajectory_id(self) -> str:
        return stable_id(
            "traj",
            self.collection,
            self.task["task_id"],
            self.policy,
            self.model,
            self.paradigm,
            self.method,
            str(self.sample),
            self.parent_trajectory_id or "",
            "" if self.branch_step is None else str(self.branch_step),
            self.checkpoint_id or "",
            "" if self.rl_step is None else str(self.rl_step),
            self.settings_hash,
        )


def score_answer(answer: str | None, task: dict[str, Any]) -> Verdict:
    """The verdict of an answer against a task's gold answer and aliases."""
    return verdict(answer, task["answer"], task.get("answer_aliases") or [], task["answer_type"])


def visited_urls(episode: Episode) -> list[str]:
    """The URLs of the episode's valid visit calls, in order, each once."""
    urls: list[str] = []
    for step in episode.transcript.steps:
        if (
            step.kind is StepKind.TOOL_RESPONSE
            and step.tool_name == "visit"
            and not step.tool_error
        ):
            value = (step.tool_arguments or {}).get("url")
            urls.extend([value] if isinstance(value, str) else list(value or []))
    return list(dict.fromkeys(urls))


def coverage_text(episode: Episode) -> str:
    """The model's own turns (thinking, calls, answers) as one text."""
    return "\n".join(
        step.content for step in episode.transcript.steps if step.kind in COVERAGE_KINDS
    )


def trajectory_rows(
    episode: Episode,
    meta: TrajectoryMeta,
    gold_names: Sequence[Sequence[str]],
    doc_of_url: Callable[[str], str | None] = lambda url: None,
    failure: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The episode's trajectory row and step rows, keyed by table name."""
    trajectory_id = meta.trajectory_id
    task = meta.task
    result = score_answer(episode.answer, task)
    urls = visited_urls(episode)
    pages = [doc for doc in (doc_of_url(url) for url in urls) if doc]
    parents = [task["task_id"], *([meta.parent_trajectory_id] if meta.parent_trajectory_id else [])]
    row = {
        "trajectory_id": trajectory_id,
        "collection": meta.collection,
        "task_id": task["task_id"],
        "split": task.get("split"),
        "kind": task.get("kind"),
        "hops": task.get("hops"),
        "policy": meta.policy,
        "model": meta.model,
        "paradigm": meta.paradigm,
        "paradigm_version": meta.paradigm_version,
        "method": meta.method,
        "sample": meta.sample,
        "seed": meta.seed,
        "parent_trajectory_id": meta.parent_trajectory_id,
        "branch_step": meta.branch_step,
        "checkpoint_id": meta.checkpoint_id,
        "rl_step": meta.rl_step,
        "group_id": meta.group_id,
        "turns": episode.turns,
        "tool_calls_valid": episode.tool_calls_valid,
        "tool_calls_invalid": episode.tool_calls_invalid,
        "tool_failures": episode.tool_failures,
        "violations": episode.violations,
        "tokens_in": episode.tokens_in,
        "tokens_out": episode.tokens_out,
        "wall_s": round(episode.wall_s, 4),
        "model_s": round(episode.model_s, 4),
        "tool_s": round(episode.tool_s, 4),
        "termination": str(episode.termination),
        "answer": episode.answer,
        "correct": result.correct,
        "verdict_method": result.method,
        "verdict_reason": result.reason,
        "answer_f1": result.f1,
        "reward_correctness": result.score,
        "reward_entity_coverage": entity_mention_coverage(coverage_text(episode), gold_names),
        "reward_turns": episode.turns,
        "failure": failure,
        "visited_urls": urls,
        "notes": json.dumps(episode.extra, ensure_ascii=False, sort_keys=True, default=str),
        "error": episode.error,
        "prompt_hash": meta.prompt_hash,
        "sampling": json.dumps(meta.sampling, sort_keys=True),
        "parent_ids": list(dict.fromkeys([*parents, *pages])),
    }
    steps = [step_row(step, trajectory_id, meta.collection) for step in episode.transcript.steps]
    return {"trajectories": [row], "trajectory_steps": steps}


def valid_call_rate() -> pl.Expr:
    """Aggregation over trajectory rows: valid tool calls over all action attempts (valid
    and invalid calls, and turns with no action); null where nothing was attempted."""
    attempts = pl.col("tool_calls_valid").sum() + pl.col("tool_calls_invalid").sum()
    return pl.when(attempts > 0).then((pl.col("tool_calls_valid").sum() / attempts).round(4))


def step_row(step: Step, trajectory_id: str, collection: str) -> dict[str, Any]:
    """One `trajectory_steps` row."""
    return {
        "step_id": stable_id("step", trajectory_id, str(step.index)),
        "trajectory_id": trajectory_id,
        "collection": collection,
        "step": step.index,
        "role": step.role,
        "kind": str(step.kind),
        "content": step.content,
        "think": step.think,
        "tool_name": step.tool_name,
        "tool_arguments": step.arguments_json(),
        "tool_error": step.tool_error,
        "format_error": step.format_error,
        "step_violations": list(step.violations),
        "answer": step.answer,
        "context_steps": list(step.context_steps),
        "token_ids": list(step.token_ids) if step.token_ids is not None else None,
        "logprobs": list(step.logprobs) if step.logprobs is not None else None,
        "raw_text": step.raw_text,
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "content_tokens": step.content_tokens,
        "latency_s": round(step.latency_s, 4),
        "finish_reason": step.finish_reason,
        "parent_ids": [trajectory_id],
    }


def judge_trajectories(
    trajectories: pl.DataFrame, tasks: pl.DataFrame, settings: Any
) -> pl.DataFrame:
    """`trajectories` with an LLM judge's verdict on every answer the rules called wrong.

    Rule verdicts (exact, alias, numeric, date, set F1) stand where they say correct; an
    answered trajectory they reject is sent to the judge (evaluation/judge.py, `settings` a
    JudgeSettings), and the judge's verdict replaces the rule's, with method "judge", the
    judge's reason, and the judge's hash in `verdict_reason` so a row says which judge
    decided. Set answers keep their F1 as the correctness reward unless the judge accepts.
    """
    from evaluation.judge import JudgeItem, judge_batch, judge_hash

    questions = dict(tasks.select("task_id", "question").iter_rows())
    answers = {
        row["task_id"]: row
        for row in tasks.select("task_id", "answer", "answer_aliases").iter_rows(named=True)
    }
    doubtful = trajectories.filter(~pl.col("correct") & pl.col("answer").is_not_null())
    if doubtful.is_empty():
        return trajectories
    items = [
        JudgeItem(
            question=questions[task_id],
            prediction=answer,
            answer=answers[task_id]["answer"],
            aliases=tuple(answers[task_id]["answer_aliases"] or ()),
        )
        for task_id, answer in doubtful.select("task_id", "answer").iter_rows()
    ]
    verdicts = judge_batch(items, settings)
    tag = judge_hash(settings)[:12]
    judged = pl.DataFrame(
        {
            "trajectory_id": doubtful.get_column("trajectory_id"),
            "_correct": [v.correct for v in verdicts],
            "_reason": [f"judge {tag}: {v.reason}" for v in verdicts],
        }
    )
    return (
        trajectories.join(judged, on="trajectory_id", how="left")
        .with_columns(
            pl.when(pl.col("_correct").is_not_null())
            .then(pl.col("_correct"))
            .otherwise(pl.col("correct"))
            .alias("correct"),
            pl.when(pl.col("_correct").is_not_null())
            .then(pl.lit("judge"))
            .otherwise(pl.col("verdict_method"))
            .alias("verdict_method"),
            pl.coalesce("_reason", "verdict_reason").alias("verdict_reason"),
            pl.when(pl.col("_correct").fill_null(False))
            .then(pl.lit(1.0))
            .otherwise(pl.col("reward_correctness"))
            .alias("reward_correctness"),
        )
        .drop("_correct", "_reason")
    )
