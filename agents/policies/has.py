"""HAS (AgentFounder): branches of a successful planner trajectory that take another action
at one step and still reach the answer.

At each hop of the parent, two kinds of alternative are tried:

- `rephrase`: another phrasing of the hop's search (the planner's own phrasings, and
  broader ones) that puts the useful page at a *different rank* than in the parent; the
  SFT probe (FACTS.md) learned to always take result 1 when the gold sat first in 83% of
  trajectories, so varied ranks are the point;
- `distractor`: visit another result of the parent's search first (the top one when the
  useful page was lower, else the next one), see that it does not state the fact, then
  visit the useful page.

Each alternative is screened through the same tool runner first (a rephrasing must find the
useful page at a new rank; a distractor must really lack the fact), so only promising
branches are run. A branch is an episode of `BranchActor`: it replays the parent's turns
verbatim up to the branch step — the planner behind it writes the same text, and the tools
are deterministic, so the observations must match the parent's step for step; both are
checked, and on a mismatch the actor falls back to writing live turns and the branch is
marked (`notes["replay"]`) and not kept. From the branch step on, the planner continues
with the alternative. A branch is kept when the replay held, the alternative was taken, the
planner recorded no failure, the answer is correct, and the alternative did what it was
screened for. Branching needs no change to the shared episode loop.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.episode import MODEL_KINDS, Episode, Message, Transcript
from agents.format import Termination, ToolCall
from agents.paradigms.base import EpisodeLimits, Paradigm, run_episode
from agents.policies import phrasing
from agents.policies.plan import Hop, context_forms
from agents.policies.planner import PlannerActor, PlannerPolicy, Variation
from agents.policies.reading import SearchResult, find_fact, rank_of, search_results
from agents.policy import EpisodeTask, ModelTurn, Purpose, TokenCounter
from agents.tool_runner import ToolRunner
from agents.trajectory_rows import score_answer

HAS_VERSION = "has-1"
REPHRASE = "rephrase"
DISTRACTOR = "distractor"
DEFAULT_MAX_BRANCHES = 3  # per parent trajectory
DEFAULT_PER_SEARCH = 2  # alternative phrasings kept per search (each at another rank)


@dataclass(frozen=True)
class BranchPoint:
    """Where a branch leaves its parent and what it does there."""

    step: int  # the parent's transcript step (a model turn) the branch replaces
    hop: int
    kind: str  # REPHRASE or DISTRACTOR
    variation: Variation
    parent_rank: int | None  # rank of the useful page in the parent's search at this hop
    screened_rank: int | None  # rephrase: the rank the screening search gave it
    detail: str  # the query, or the distractor's URL

    def record(self) -> dict[str, Any]:
        """The branch point as notes for the trajectory row."""
        return {
            "step": self.step,
            "hop": self.hop,
            "kind": self.kind,
            "parent_rank": self.parent_rank,
            "screened_rank": self.screened_rank,
            "detail": self.detail,
        }


@dataclass
class Branch:
    """One branch run: its point, episode, actor notes and whether it is kept."""

    point: BranchPoint
    parent_trajectory_id: str
    episode: Episode
    notes: dict[str, Any]
    kept: bool
    reason: str


class BranchActor:
    """Replays the parent's turns up to the branch step, then continues as the planner
    with the alternative (module docstring). `notes` are the planner's plus the branch's."""

    def __init__(self, inner: PlannerActor, parent: Transcript, point: BranchPoint) -> None:
        self.inner = inner
        self.parent = parent
        self.point = point
        self.replay = "ok"
        self.taken = False
        self._checked = 0

    @property
    def notes(self) -> dict[str, Any]:
        """The planner's notes plus the branch point, the replay state and whether the
        alternative was taken (what the runner stores with the branch)."""
        return {
            **self.inner.notes,
            "branch": self.point.record(),
            "replay": self.replay,
            "branch_taken": self.taken,
        }

    def _prefix_matches(self, transcript: Transcript) -> bool:
        """Whether every step written so far equals the parent's step at that index."""
        for index in range(self._checked, len(transcript.steps)):
            mine, theirs = transcript.steps[index], self.parent.steps[index]
            if (mine.role, mine.kind, mine.content) != (theirs.role, theirs.kind, theirs.content):
                self.replay = f"observation_mismatch_at_{index}"
                return False
        self._checked = len(transcript.steps)
        return True

    async def turn(
        self, messages: list[Message], purpose: Purpose, transcript: Transcript
    ) -> ModelTurn:
        """The parent's turn while replaying, the planner's own from the branch step on."""
        position = len(transcript.steps)
        replaying = self.replay == "ok" and position <= self.point.step
        if replaying and position < len(self.parent.steps):
            replaying = self._prefix_matches(transcript)
        turn = await self.inner.turn(messages, purpose, transcript)
        if replaying and position < self.point.step:
            theirs = self.parent.steps[position]
            if theirs.kind not in MODEL_KINDS or theirs.raw_text != turn.text:
                self.replay = f"turn_mismatch_at_{position}"
                return turn  # fall back: the live planner's turn
            return ModelTurn(
                text=theirs.raw_text or "",
                token_ids=theirs.token_ids,
                logprobs=theirs.logprobs,
                finish_reason=theirs.finish_reason,
            )
        if replaying and position == self.point.step:
            self.taken = turn.text != self.parent.steps[position].raw_text
        return turn


@dataclass
class HasExplorer:
    """Finds, runs and judges the branches of planner trajectories."""

    planner: PlannerPolicy
    runner: ToolRunner
    max_branches: int = DEFAULT_MAX_BRANCHES
    per_search: int = DEFAULT_PER_SEARCH
    name: str = field(default="has", init=False)

    async def _search(self, query: str) -> list[SearchResult]:
        outcome = await self.runner.run(ToolCall("search", {"query": [query]}))
        blocks = search_results(outcome.text)
        return blocks[0] if blocks else []

    async def _lacks_fact(self, hop: Hop, url: str, goal: str) -> bool:
        outcome = await self.runner.run(ToolCall("visit", {"url": url, "goal": goal}))
        graph = self.planner.graph
        return any(
            find_fact(outcome.text, t.forms, context_forms(t, graph)) is None for t in hop.targets
        )

    async def _alternatives(
        self, hop: Hop, used: set[str], parent_rank: int | None
    ) -> list[tuple[str, int]]:
        """Phrasings that find the hop's useful page at ranks other than the parent's, one
        per rank, ranks below the top first, at most `per_search`."""
        urls = self.planner.sources.urls(hop.docs)
        found: dict[int, str] = {}
        for query in phrasing.alternative_queries(hop, self.planner.graph):
            if query in used:
                continue
            result = rank_of(await self._search(query), urls)
            if result is not None and result.rank != parent_rank:
                found.setdefault(result.rank, query)
        ranked = sorted(found.items(), key=lambda item: (item[0] == 1, item[0]))
        return [(query, rank) for rank, query in ranked[: self.per_search]]

    async def branch_points(self, task: EpisodeTask, parent: Episode) -> list[BranchPoint]:
        """The screened alternatives of a successful parent, at most `max_branches`.

        Rephrasings first: branch `i` takes, from the first hop that has one, the `i`-th
        alternative phrasing at that hop and at every later hop that has one, so one branch
        moves the useful page at every search it can. Then distractor visits, one per hop.
        """
        plan = self.planner.plan(task.row)
        notes = parent.extra
        searches: list[dict[str, Any]] = notes.get("searches", [])
        visits: list[dict[str, Any]] = notes.get("visits", [])
        final = plan.phrases.get(plan.answer_entities[0]) if plan.answer_entities else None
        options: dict[int, list[tuple[str, int]]] = {}
        distracted: list[BranchPoint] = []
        first_search: dict[int, dict[str, Any]] = {}
        for hop in plan.hops:
            own = [s for s in searches if s["hop"] == hop.index]
            if not own:
                continue  # a page the question gives is not searched for
            first_search[hop.index] = own[0]
            found = own[-1]
            used = {s["query"] for s in own}
            alternatives = await self._alternatives(hop, used, found["gold_rank"])
            if alternatives:
                options[hop.index] = alternatives
            goal = phrasing.goal(hop, self.planner.graph, final, plan.phrases)
            urls = self.planner.sources.urls(hop.docs)
            point = await self._distractor_point(hop, parent, found, visits, urls, goal)
            if point is not None:
                distracted.append(point)
        rephrased: list[BranchPoint] = []
        for choice in range(self.per_search):
            hops = [h for h in sorted(options) if len(options[h]) > choice]
            if not hops:
                break
            start = hops[0]
            queries = tuple((h, options[h][choice][0]) for h in hops)
            parent_rank = [s for s in searches if s["hop"] == start][-1]
            rephrased.append(
                BranchPoint(
                    step=first_search[start]["step"],
                    hop=start,
                    kind=REPHRASE,
                    variation=Variation(hop=start, queries=queries),
                    parent_rank=parent_rank["gold_rank"],
                    screened_rank=options[start][choice][1],
                    detail=options[start][choice][0],
                )
            )
        return (rephrased + distracted)[: self.max_branches]

    async def _distractor_point(
        self,
        hop: Hop,
        parent: Episode,
        found: dict[str, Any],
        visits: Sequence[dict[str, Any]],
        urls: list[str],
        goal: str,
    ) -> BranchPoint | None:
        visit = next((v for v in visits if v["hop"] == hop.index), None)
        if visit is None or found["step"] + 1 >= len(parent.transcript.steps):
            return None
        blocks = search_results(parent.transcript.steps[found["step"] + 1].content)
        results = blocks[0] if blocks else []
        rank = found["gold_rank"]
        others = [r for r in results if rank_of([r], urls) is None and r.rank != rank]
        above = [r for r in others if rank is not None and r.rank < rank]
        below = [r for r in others if rank is not None and r.rank == rank + 1]
        choice = (above or below or [None])[0]
        if choice is None:
            return None
        if not await self._lacks_fact(hop, choice.url, goal):
            return None
        return BranchPoint(
            step=visit["step"],
            hop=hop.index,
            kind=DISTRACTOR,
            variation=Variation(hop=hop.index, distractor=choice.rank),
            parent_rank=rank,
            screened_rank=None,
            detail=choice.url,
        )

    def actor(
        self, task: EpisodeTask, parent: Episode, point: BranchPoint, sample: int = 0
    ) -> BranchActor:
        """The actor of one branch (the parent's sample number keeps its seed)."""
        inner = self.planner.actor(task, sample, point.variation)
        return BranchActor(inner, parent.transcript, point)

    def judge(self, task: EpisodeTask, actor: BranchActor, episode: Episode) -> tuple[bool, str]:
        """Whether a branch is kept, and why (or why not)."""
        notes = actor.notes
        row = task.row
        if actor.replay != "ok":
            return False, f"replay diverged ({actor.replay})"
        if not actor.taken:
            return False, "the alternative was not taken"
        if notes.get("failure"):
            return False, f"the branch failed ({notes['failure']})"
        if episode.termination is not Termination.ANSWER:
            return False, f"no answer ({episode.termination})"
        judged = score_answer(episode.answer, row)
        if not judged.correct:
            return False, f"wrong answer ({judged.reason})"
        point = actor.point
        if point.kind == REPHRASE:
            ranks = [
                s["gold_rank"]
                for s in notes.get("searches", [])
                if s["hop"] == point.hop and s["query"] == point.detail
            ]
            if not ranks or ranks[0] == point.parent_rank:
                return False, "the rephrasing did not move the useful page"
        if point.kind == DISTRACTOR and not notes.get("distractor_lacked_fact"):
            return False, "the distractor stated the fact after all"
        return True, "reaches the answer"

    async def explore(
        self,
        task: EpisodeTask,
        parent: Episode,
        parent_trajectory_id: str,
        paradigm: Paradigm,
        counter: TokenCounter,
        limits: EpisodeLimits,
        sample: int = 0,
    ) -> list[Branch]:
        """Every screened branch of a successful parent, run and judged (kept or not)."""
        branches = []
        for point in await self.branch_points(task, parent):
            actor = self.actor(task, parent, point, sample)
            episode = await run_episode(task, actor, paradigm, self.runner, counter, limits)
            notes = actor.notes
            episode.extra.update(notes)
            kept, reason = self.judge(task, actor, episode)
            episode.extra["has_kept"] = kept
            episode.extra["has_reason"] = reason
            branches.append(Branch(point, parent_trajectory_id, episode, notes, kept, reason))
        return branches


class HasPolicy:
    """The Policy view of one parent's branches, for runners that make one episode per
    (policy, sample): sample `i` is branch point `i`."""

    name = "has"

    def __init__(
        self,
        explorer: HasExplorer,
        parent: Episode,
        points: Sequence[BranchPoint],
        parent_sample: int = 0,
    ) -> None:
        self.explorer = explorer
        self.parent = parent
        self.points = list(points)
        self.parent_sample = parent_sample
        self.model = explorer.planner.model
        self.sampling = {**explorer.planner.sampling, "has": HAS_VERSION}

    def actor(self, task: EpisodeTask, sample: int) -> BranchActor:
        """The branch actor of point `sample`."""
        return self.explorer.actor(task, self.parent, self.points[sample], self.parent_sample)
