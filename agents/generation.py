"""Episode jobs: one task, one policy, one paradigm, one sample → stored rows.

What the trajectories asset (and later RL and evaluation) hands to `rollouts.run_jobs`. A
`GenerationContext` holds what every job of a run shares (tools, token counter, limits, the
gold entity names for the coverage reward, the URL → document map for lineage), so a job
is only what differs: the task, the policy, the paradigm and the sample number.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agents.episode import Episode
from agents.format import Termination
from agents.paradigms import EpisodeLimits, PromptSettings, make_paradigm, run_episode
from agents.policy import EpisodeTask, Policy, TokenCounter
from agents.rollouts import RetryableJobError, Rows
from agents.tool_runner import ToolRunner
from agents.trajectory_rows import TrajectoryMeta, trajectory_rows
from lakehouse.ids import stable_id


@dataclass
class GenerationContext:
    """What all jobs of one generation run share."""

    collection: str
    runner: ToolRunner
    counter: TokenCounter
    limits: EpisodeLimits
    settings_hash: str
    prompt: PromptSettings | None = None  # None: each paradigm's own default prompt
    gold_names: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict)
    doc_of_url: Callable[[str], str | None] = lambda url: None


def episode_task(row: Mapping[str, Any]) -> EpisodeTask:
    """The episode view of a qa_tasks row."""
    return EpisodeTask(task_id=row["task_id"], question=row["question"], row=dict(row))


@dataclass
class EpisodeJob:
    """One episode of `policy` with `paradigm` on `task`, sample number `sample`."""

    task: dict[str, Any]
    policy: Policy
    paradigm: str
    sample: int
    method: str
    context: GenerationContext
    checkpoint_id: str | None = None
    rl_step: int | None = None
    group_id: str | None = None
    episode: Episode | None = None  # set once run, for callers that branch from it

    @property
    def meta(self) -> TrajectoryMeta:
        paradigm = make_paradigm(self.paradigm, self.context.prompt)
        seed = self.policy.sampling.get("seed")
        return TrajectoryMeta(
            collection=self.context.collection,
            task=self.task,
            policy=self.policy.name,
            model=self.policy.model,
            paradigm=paradigm.name,
            paradigm_version=paradigm.version,
            method=self.method,
            sample=self.sample,
            prompt_hash=paradigm.prompt_hash(),
            sampling=self.policy.sampling,
            settings_hash=self.context.settings_hash,
            seed=None if seed is None else int(seed) + self.sample,
            checkpoint_id=self.checkpoint_id,
            rl_step=self.rl_step,
            group_id=self.group_id,
        )

    @property
    def key(self) -> str:
        return self.meta.trajectory_id

    async def run(self) -> Rows:
        context = self.context
        paradigm = make_paradigm(self.paradigm, context.prompt)
        task = episode_task(self.task)
        actor = self.policy.actor(task, self.sample)
        episode = await run_episode(
            task, actor, paradigm, context.runner, context.counter, context.limits
        )
        if episode.termination is Termination.ERROR:  # the backend failed beyond its retries
            raise RetryableJobError(f"task {self.task['task_id']}: {episode.error}")
        episode.extra.update(getattr(actor, "notes", {}))
        self.episode = episode
        return trajectory_rows(
            episode,
            self.meta,
            context.gold_names.get(self.task["task_id"], ()),
            context.doc_of_url,
            failure=episode.extra.get("failure"),
        )


def settings_hash(*parts: object) -> str:
    """A short hash of a run's settings, part of every trajectory id."""
    return stable_id("cfg", *(repr(part) for part in parts)).removeprefix("cfg_")


@dataclass
class PlannerJob:
    """A planner trajectory (FAS planning-action) of `task` and, when it reached the
    answer, its HAS branches: one job, so a resumed run never has a parent without its
    branches or branches without their parent."""

    task: dict[str, Any]
    planner: Policy
    paradigm: str
    sample: int
    context: GenerationContext
    explorer: Any | None = None  # a HasExplorer (agents/policies/has.py), or None: no HAS

    def parent_job(self) -> EpisodeJob:
        return EpisodeJob(
            self.task, self.planner, self.paradigm, self.sample, "fas_planning", self.context
        )

    @property
    def key(self) -> str:
        return self.parent_job().key

    async def run(self) -> Rows:
        parent_job = self.parent_job()
        rows = await parent_job.run()
        (parent_row,) = rows["trajectories"]
        if self.explorer is None or not parent_row["correct"] or parent_row["failure"]:
            return rows
        context = self.context
        branches = await self.explorer.explore(
            episode_task(self.task),
            parent_job.episode,
            parent_row["trajectory_id"],
            make_paradigm(self.paradigm, context.prompt),
            context.counter,
            context.limits,
            self.sample,
        )
        trajectories, steps = list(rows["trajectories"]), list(rows["trajectory_steps"])
        discarded: dict[str, int] = {}
        for number, branch in enumerate(branches):
            if not branch.kept:
                discarded[branch.reason] = discarded.get(branch.reason, 0) + 1
                continue
            meta = replace(
                parent_job.meta,
                policy=self.explorer.name,
                method="has_branch",
                sample=number,
                parent_trajectory_id=parent_row["trajectory_id"],
                branch_step=branch.point.step,
            )
            made = trajectory_rows(
                branch.episode,
                meta,
                context.gold_names.get(self.task["task_id"], ()),
                context.doc_of_url,
            )
            trajectories += made["trajectories"]
            steps += made["trajectory_steps"]
        notes = json.loads(parent_row["notes"])
        notes["has"] = {
            "branches": len(branches),
            "kept": len(trajectories) - 1,
            "discarded": discarded,
        }
        parent_row["notes"] = json.dumps(notes, ensure_ascii=False, sort_keys=True, default=str)
        return {"trajectories": trajectories, "trajectory_steps": steps}


@dataclass
class ReasoningJob:
    """A reasoning-action trajectory (FAS): the question with all its evidence passages,
    one reasoning turn, the answer (agents/policies/reasoning.py)."""

    task: dict[str, Any]
    policy: Any  # a ReasoningPolicy
    sample: int
    context: GenerationContext

    @property
    def meta(self) -> TrajectoryMeta:
        from agents.policies import reasoning

        return TrajectoryMeta(
            collection=self.context.collection,
            task=self.task,
            policy=self.policy.name,
            model=self.policy.model,
            paradigm="single_turn",
            paradigm_version=reasoning.REASONING_VERSION,
            method="fas_reasoning",
            sample=self.sample,
            prompt_hash=reasoning.prompt_hash(),
            sampling=self.policy.sampling,
            settings_hash=self.context.settings_hash,
            seed=self.policy.seed + self.sample,
        )

    @property
    def key(self) -> str:
        return self.meta.trajectory_id

    async def run(self) -> Rows:
        from agents.policies.reasoning import run_reasoning

        episode, actor = await run_reasoning(
            episode_task(self.task), self.policy, self.context.counter, self.sample
        )
        episode.extra.update(actor.notes)
        return trajectory_rows(
            episode,
            self.meta,
            self.context.gold_names.get(self.task["task_id"], ()),
            self.context.doc_of_url,
            failure=episode.extra.get("failure"),
        )
