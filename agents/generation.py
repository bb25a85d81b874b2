"""Episode jobs: one task, one policy, one paradigm, one sample → stored rows.

What the trajectories asset (and later RL and evaluation) hands to `rollouts.run_jobs`. A
`GenerationContext` holds what every job of a run shares (tools, token counter, limits, the
gold entity names for the coverage reward, the URL → document map for lineage), so a job
is only what differs: the task, the policy, the paradigm and the sample number.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.episode import Episode
from agents.paradigms import EpisodeLimits, PromptSettings, make_paradigm, run_episode
from agents.policy import EpisodeTask, Policy, TokenCounter
from agents.rollouts import Rows
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
