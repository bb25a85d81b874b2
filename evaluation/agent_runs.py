"""LLM-policy episodes on held-out tasks: the "base model" row, and rollout throughput.

`python -m evaluation.agent_runs` runs a model (the embedded base checkpoint by default)
with each paradigm on N tasks of a split through the real tools and prints, per paradigm,
the valid tool-call rate, accuracy, answered share, average turns and terminations. Every
episode is kept (trajectory and step rows, Parquet, under `<root>/reports/agent_runs/`) and
the run is journaled: a killed run resumes where it stopped.

`--sweep 1,4,16` instead runs the same episodes at each concurrency and reports aggregate
generated tokens/s and the speed-up over one rollout at a time, and the harness overhead:
the share of episode wall time spent outside model calls and tools (measured at
concurrency 1, where the shares are not blurred by overlap).
"""

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from agents.backends.base import Backend, SamplingParams
from agents.backends.launch import BACKEND_KINDS, open_backend
from agents.checkpoints import EMBEDDED_DIR_NAME
from agents.generation import EpisodeJob, GenerationContext, settings_hash
from agents.paradigms import PARADIGMS, EpisodeLimits
from agents.policy import LLMPolicy, TokenCounter, agent_sampling
from agents.trajectory_rows import valid_call_rate
from agents.trajectory_run import (
    RunTables,
    generation_context,
    run_generation,
)
from lakehouse.store import Lakehouse
from lakehouse.tables import QA_TASKS

REPORT_DIR = "reports/agent_runs"


@dataclass(frozen=True)
class RunSettings:
    """One evaluation run: which tasks, which paradigms, how to sample, what budgets."""

    split: str = "test"
    tasks: int = 100
    seed: int = 0
    paradigms: tuple[str, ...] = ("react", "resum", "iterresearch", "agentfold")
    samples: int = 1
    temperature: float = 0.6  # the reference agent's sampling
    top_p: float = 0.95
    turn_tokens: int = 512
    max_turns: int = 12
    max_context_tokens: int = 4096
    concurrency: int = 16


def held_out_tasks(store: Lakehouse, split: str, count: int, seed: int) -> pl.DataFrame:
    """`count` answerable tasks of `split` in a seeded order (the same for every paradigm;
    a larger count extends a smaller one, so a resumed run can grow its sample)."""
    tasks = store.read(QA_TASKS.name).filter(
        (pl.col("split") == split) & pl.col("answerable").fill_null(True)
    )
    if tasks.is_empty():
        raise ValueError(f"qa_tasks has no answerable tasks in split {split!r}")
    order = pl.concat_str(pl.lit(f"{seed}:"), pl.col("task_id")).hash(seed=0)
    return tasks.with_columns(order.alias("_order")).sort("_order").head(count).drop("_order")


def llm_jobs(
    tasks: pl.DataFrame,
    policy: LLMPolicy,
    paradigms: Sequence[str],
    samples: int,
    context: GenerationContext,
    collection: str,
) -> list[EpisodeJob]:
    """One job per task, paradigm and sample."""
    return [
        EpisodeJob(row, policy, paradigm, sample, "llm_sampling", context)
        for paradigm in paradigms
        for row in tasks.iter_rows(named=True)
        for sample in range(samples)
    ]


def run_context(
    store: Lakehouse, tasks: pl.DataFrame, counter: TokenCounter, settings: RunSettings, name: str
) -> GenerationContext:
    """The shared tools, counter and limits of a run over `tasks`."""
    limits = EpisodeLimits(
        max_turns=settings.max_turns,
        max_context_tokens=settings.max_context_tokens,
        turn_tokens=settings.turn_tokens,
    )
    return generation_context(store, tasks, counter, limits, name, episode_settings_hash(settings))


def episode_settings_hash(settings: RunSettings) -> str:
    """The hash of what each episode depends on (sampling, budgets, split, seed), not of
    which tasks and paradigms a run covers: a run grown or narrowed later reuses episodes."""
    per_episode = {
        key: value
        for key, value in settings.__dict__.items()
        if key not in ("tasks", "paradigms", "concurrency")
    }
    return settings_hash(sorted(per_episode.items()))


def sampling(settings: RunSettings) -> SamplingParams:
    return agent_sampling(settings.temperature, settings.top_p, settings.turn_tokens, settings.seed)


def paradigm_summary(trajectories: pl.DataFrame) -> pl.DataFrame:
    """Per paradigm: episodes, valid tool-call rate, accuracy, answered share, turns."""
    return (
        trajectories.group_by("paradigm")
        .agg(
            pl.len().alias("episodes"),
            valid_call_rate().alias("valid_tool_call_rate"),
            pl.col("correct").mean().round(4).alias("accuracy"),
            (pl.col("termination") == "answer").mean().round(4).alias("answered"),
            pl.col("turns").mean().round(2).alias("avg_turns"),
            pl.col("tokens_out").mean().round(1).alias("avg_tokens_out"),
        )
        .join(termination_counts(trajectories), on="paradigm", how="left")
        .sort("paradigm")
    )


def termination_counts(trajectories: pl.DataFrame) -> pl.DataFrame:
    """Per paradigm, the terminations as one text: "answer:40, max_turns:60"."""
    counts = trajectories.group_by("paradigm", "termination").len().sort("paradigm", "termination")
    return counts.group_by("paradigm").agg(
        pl.format("{}:{}", "termination", "len").str.join(", ").alias("terminations")
    )


def harness_share(trajectories: pl.DataFrame) -> dict[str, float]:
    """Shares of summed episode wall time in model calls, tools, and the harness itself."""
    wall = trajectories.get_column("wall_s").sum() or 1.0
    model = trajectories.get_column("model_s").sum()
    tools = trajectories.get_column("tool_s").sum()
    return {
        "model": round(model / wall, 4),
        "tools": round(tools / wall, 4),
        "harness": round(max(wall - model - tools, 0.0) / wall, 4),
        "outside_model": round(max(wall - model, 0.0) / wall, 4),
    }


def run(
    store: Lakehouse, backend: Backend, counter: TokenCounter, settings: RunSettings, name: str
) -> RunTables:
    """The journaled episodes of `settings` with `backend`."""
    tasks = held_out_tasks(store, settings.split, settings.tasks, settings.seed)
    context = run_context(store, tasks, counter, settings, name)
    policy = LLMPolicy(backend, sampling(settings))
    jobs = llm_jobs(tasks, policy, settings.paradigms, settings.samples, context, name)
    console = Console(stderr=True)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done == total or done % max(total // 20, 1) == 0:
            console.log(f"{name}: {done}/{total} episodes ({time.perf_counter() - started:.0f} s)")

    return run_generation(
        store,
        "agent_runs",
        f"{name}-{episode_settings_hash(settings)}-{settings_hash(policy.model)}",
        jobs,
        concurrency=settings.concurrency,
        progress=progress,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None, help="lakehouse root (default $SAILYARD_HOME)")
    parser.add_argument("--backend", choices=BACKEND_KINDS, default="vllm")
    parser.add_argument("--checkpoint", default=None, help="HF checkpoint (default: embedded)")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--split", default="test")
    parser.add_argument("--paradigms", default=",".join(RunSettings.paradigms))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--sweep", default=None, help="e.g. 1,4,16 or 1:16,16:64 (concurrency:episodes)"
    )
    parser.add_argument("--max-turns", type=int, default=12)
    parser.add_argument("--name", default="base")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    store = Lakehouse(args.root)
    checkpoint = Path(args.checkpoint or store.root / "models" / EMBEDDED_DIR_NAME)
    paradigms = tuple(p for p in args.paradigms.split(",") if p)
    unknown = [p for p in paradigms if p not in PARADIGMS]
    if unknown:
        parser.error(f"unknown paradigm(s) {unknown}; known: {sorted(PARADIGMS)}")
    settings = RunSettings(
        split=args.split,
        tasks=args.tasks,
        paradigms=paradigms,
        concurrency=args.concurrency,
        max_turns=args.max_turns,
    )
    counter = (
        TokenCounter.for_checkpoint(checkpoint) if args.backend != "endpoint" else TokenCounter()
    )
    console = Console()
    from agents.vllm_server import ServerSettings

    server = ServerSettings(max_model_len=settings.max_context_tokens)
    with open_backend(
        args.backend,
        checkpoint,
        endpoint=args.endpoint,
        model=args.model,
        max_concurrency=max(settings.concurrency, 16),
        server_settings=server,
    ) as backend:
        if args.sweep:
            sweep(store, backend, counter, settings, args.name, args.sweep, console)
            return
        tables = run(store, backend, counter, settings, args.name)
    save(store, tables, args.name)
    show(console, tables.trajectories, f"{args.name}: {backend.model_id} on {settings.split}")


def sweep(
    store: Lakehouse,
    backend: Backend,
    counter: TokenCounter,
    settings: RunSettings,
    name: str,
    levels: str,
    console: Console,
) -> None:
    """The same episodes at each concurrency: aggregate tokens/s and speed-up."""
    table = Table(title="rollout throughput (level:episodes)")
    for column in ("concurrency", "episodes", "seconds", "tokens out", "tokens/s", "speed-up"):
        table.add_column(column, justify="right")
    base_rate = None
    for part in levels.split(","):
        level_text, _, count = part.partition(":")  # "16:64": 64 episodes at concurrency 16
        level = int(level_text)
        level_settings = RunSettings(
            **{**settings.__dict__, "concurrency": level, "tasks": int(count or settings.tasks)}
        )
        started = time.perf_counter()
        tables = run(store, backend, counter, level_settings, f"{name}-c{level}")
        seconds = time.perf_counter() - started
        tokens = int(tables.trajectories.get_column("tokens_out").sum())
        rate = tokens / seconds
        base_rate = base_rate or rate
        table.add_row(
            str(level),
            str(tables.trajectories.height),
            f"{seconds:.1f}",
            str(tokens),
            f"{rate:.1f}",
            f"{rate / base_rate:.2f}x",
        )
        if level == 1:
            console.print(f"harness shares at concurrency 1: {harness_share(tables.trajectories)}")
    console.print(table)


def save(store: Lakehouse, tables: RunTables, name: str) -> Path:
    directory = store.root / REPORT_DIR / name
    directory.mkdir(parents=True, exist_ok=True)
    tables.trajectories.write_parquet(directory / "trajectories.parquet")
    tables.steps.write_parquet(directory / "trajectory_steps.parquet")
    return directory


def show(console: Console, trajectories: pl.DataFrame, title: str) -> None:
    summary = paradigm_summary(trajectories)
    table = Table(title=title)
    for column in summary.columns:
        table.add_column(column)
    for row in summary.iter_rows():
        table.add_row(*(str(value) for value in row))
    console.print(table)
    console.print(f"time shares: {harness_share(trajectories)}")


if __name__ == "__main__":
    main()
