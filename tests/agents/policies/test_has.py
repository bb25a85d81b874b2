import asyncio
import json

import pytest

from agents.episode import StepKind
from agents.generation import GenerationContext, PlannerJob
from agents.paradigms import PromptSettings, ReAct
from agents.policies import phrasing
from agents.policies.has import DISTRACTOR, REPHRASE, HasExplorer, HasPolicy
from agents.policies.plan import Sources
from agents.policies.planner import PlannerPolicy
from agents.policy import EpisodeTask, TokenCounter
from agents.prompts import NO_FEW_SHOT
from agents.tool_runner import ToolRunner
from lakehouse.synthesis import spec as S
from tests.agents.policies import world


@pytest.fixture(scope="module")
def graph():
    return world.graph()


@pytest.fixture(scope="module")
def sources(graph):
    return Sources.from_tables(graph, world.documents_frame(), world.relations_frame())


def capital_task(graph):
    spec = S.edge("capital", S.entity("e_fr"), direction="objects")
    return world.task_row(
        graph, spec, "factual", "Which city is the capital of France?", "entity", {"e_pa"}
    )


def setup(graph, sources, tools):
    """A successful parent (useful page first for the planner's own phrasings, third for
    the broad ones) and an explorer over the same tools."""
    planner = PlannerPolicy(graph, sources, seed=0)
    task = capital_task(graph)
    episode_task = EpisodeTask("t", task["question"], task)
    parent = world.run(task, planner.actor(episode_task, 0), tools)
    assert parent.extra["failure"] is None
    assert parent.extra["gold_rank"] == [1]
    explorer = HasExplorer(planner, ToolRunner(tools), max_branches=4)
    return planner, episode_task, parent, explorer


def rankings(planner, graph):
    task = capital_task(graph)
    (hop,) = planner.plan(task).hops
    own = phrasing.hop_queries(hop, graph, 0)
    ranking = {q: ["d_fr_fb", "d_fr", "d_pa"] for q in phrasing.alternative_queries(hop, graph)}
    ranking.update({q: ["d_fr_fb", "d_fr", "d_pa"] for q in own})
    broad = [q for q in phrasing.alternative_queries(hop, graph) if q not in own]
    ranking[broad[0]] = ["d_fr", "d_pa", "d_fr_fb"]  # the useful page third
    ranking[broad[1]] = ["d_pa", "d_fr_fb"]  # second
    return ranking, broad


def explore(explorer, task, parent):
    paradigm = ReAct(PromptSettings(few_shot=NO_FEW_SHOT))
    return asyncio.run(
        explorer.explore(task, parent, "traj_parent", paradigm, TokenCounter(), world.LIMITS)
    )


def test_branches_move_the_useful_page_and_still_answer(graph, sources):
    planner = PlannerPolicy(graph, sources)
    ranking, _ = rankings(planner, graph)
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    _, task, parent, explorer = setup(graph, sources, tools)
    branches = explore(explorer, task, parent)
    by_kind = {b.point.kind: [] for b in branches}
    for branch in branches:
        by_kind[branch.point.kind].append(branch)
    rephrased = by_kind[REPHRASE]
    assert {b.point.screened_rank for b in rephrased} == {3, 2}  # ranks below the top first
    for branch in rephrased:
        assert branch.kept, branch.reason
        assert branch.parent_trajectory_id == "traj_parent"
        search_step = parent.extra["searches"][0]["step"]
        assert branch.point.step == search_step
        steps = branch.episode.transcript.steps
        # Verbatim up to the branch step, another query at it.
        for mine, theirs in zip(steps[:search_step], parent.transcript.steps, strict=False):
            assert (mine.kind, mine.content) == (theirs.kind, theirs.content)
        assert steps[search_step].tool_arguments["query"] == [branch.point.detail]
        assert branch.notes["gold_rank"][0] == branch.point.screened_rank
        assert branch.notes["replay"] == "ok"
        assert branch.notes["branch"]["hop"] == 0
        assert branch.episode.answer == "Paris"
    (distractor,) = by_kind[DISTRACTOR]
    assert distractor.kept, distractor.reason
    visits = [s for s in distractor.episode.transcript.steps if s.tool_name == "visit"]
    assert visits[0].kind is StepKind.TURN
    assert visits[0].tool_arguments["url"] == f"{world.WP}France"
    assert visits[-1].tool_arguments["url"] == f"{world.FB}france/"
    assert "does not state" in [s for s in distractor.episode.transcript.turns][-2].think


def test_a_changed_observation_stops_the_replay_and_drops_the_branch(graph, sources):
    planner = PlannerPolicy(graph, sources)
    ranking, _ = rankings(planner, graph)
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    _, task, parent, explorer = setup(graph, sources, tools)
    points = asyncio.run(explorer.branch_points(task, parent))
    later = next(p for p in points if p.kind == DISTRACTOR)  # branches after the search
    noisy = world.PageTools(world.documents_frame(), rankings=ranking, noisy=True)
    explorer = HasExplorer(planner, ToolRunner(noisy))
    actor = explorer.actor(task, parent, later)
    episode = world.run(task.row, actor, noisy)
    kept, reason = explorer.judge(task, actor, episode)
    assert actor.replay.startswith("observation_mismatch_at_")
    assert not kept
    assert "replay diverged" in reason
    assert episode.answer == "Paris"  # the fallback still finishes the episode live


def test_has_policy_hands_out_one_branch_per_sample(graph, sources):
    planner = PlannerPolicy(graph, sources)
    ranking, _ = rankings(planner, graph)
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    _, task, parent, explorer = setup(graph, sources, tools)
    points = asyncio.run(explorer.branch_points(task, parent))
    policy = HasPolicy(explorer, parent, points)
    assert policy.name == "has"
    assert policy.model == planner.model
    assert [policy.actor(task, i).point for i in range(len(points))] == points


def test_planner_job_stores_the_parent_and_its_kept_branches(graph, sources):
    planner = PlannerPolicy(graph, sources)
    ranking, _ = rankings(planner, graph)
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    runner = ToolRunner(tools)
    context = GenerationContext(
        "synthesis",
        runner,
        TokenCounter(),
        world.LIMITS,
        "cfg",
        PromptSettings(few_shot=NO_FEW_SHOT),
    )
    task = {**capital_task(graph), "split": "train"}
    job = PlannerJob(task, planner, "react", 0, context, HasExplorer(planner, runner))
    rows = asyncio.run(job.run())
    parent, *branches = rows["trajectories"]
    assert parent["policy"] == "planner"
    assert parent["correct"]
    assert parent["failure"] is None
    assert len(branches) == 3  # two rephrasings and a distractor, all reaching the answer
    for branch in branches:
        assert branch["policy"] == "has"
        assert branch["method"] == "has_branch"
        assert branch["parent_trajectory_id"] == parent["trajectory_id"]
        assert branch["correct"]
    assert json.loads(parent["notes"])["has"]["kept"] == 3
