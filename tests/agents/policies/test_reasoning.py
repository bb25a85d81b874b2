import asyncio

import pytest

from agents.episode import StepKind
from agents.format import Termination
from agents.policies.plan import Sources
from agents.policies.planner import NOT_FOUND_ANSWER
from agents.policies.reasoning import Passage, ReasoningPolicy, run_reasoning
from agents.policy import EpisodeTask, TokenCounter
from lakehouse.synthesis import spec as S
from tests.agents.policies import world


@pytest.fixture(scope="module")
def graph():
    return world.graph()


@pytest.fixture(scope="module")
def sources(graph):
    return Sources.from_tables(graph, world.documents_frame(), world.relations_frame())


PASSAGES = {
    f"p_{doc}": Passage(f"p_{doc}", title, url, text) for doc, url, title, text in world.DOCUMENTS
}


def multi_hop_task(graph, passages):
    spec = S.value("population", S.edge("capital", S.entity("e_ma"), direction="subjects"))
    task = world.task_row(
        graph,
        spec,
        "multi_hop",
        "What is the population of the country that has Madrid as its capital?",
        "number",
        "47280433 people",
    )
    task["evidence_passage_ids"] = passages
    return task


def reason(policy, task):
    return asyncio.run(
        run_reasoning(EpisodeTask(task["task_id"], task["question"], task), policy, TokenCounter())
    )


def test_one_turn_walks_through_the_passages_to_the_answer(graph, sources):
    policy = ReasoningPolicy(graph, sources, PASSAGES)
    task = multi_hop_task(graph, ["p_d_fr_fb", "p_d_es_fb", "p_d_ma"])
    episode, actor = reason(policy, task)
    kinds = [step.kind for step in episode.transcript.steps]
    assert kinds == [StepKind.SYSTEM, StepKind.QUESTION, StepKind.TURN]
    question = episode.transcript.steps[1].content
    assert question.startswith(task["question"])
    assert "Passages:\n[1] " in question
    assert question.count("\n[") == 3  # every evidence passage, numbered
    assert episode.termination is Termination.ANSWER
    assert episode.answer == "47,280,433"
    think = episode.transcript.steps[2].think
    number = [p.passage_id for p in policy.shown_passages(task, 0)].index("p_d_es_fb") + 1
    assert f'Passage [{number}] says "The capital of Spain is Madrid."' in think
    assert "Spain has a population of 47,280,433" in think
    assert episode.extra["failure"] is None
    assert actor.notes["reasoning"] == policy.model


def test_passage_order_is_shuffled_by_seed(graph, sources):
    task = multi_hop_task(graph, sorted(PASSAGES))
    orders = {
        tuple(
            p.passage_id
            for p in ReasoningPolicy(graph, sources, PASSAGES, seed).shown_passages(task, 0)
        )
        for seed in range(6)
    }
    assert len(orders) > 1


def test_a_fact_in_no_passage_is_an_extraction_miss(graph, sources):
    policy = ReasoningPolicy(graph, sources, PASSAGES)
    task = multi_hop_task(graph, ["p_d_fr_fb", "p_d_ma"])  # Spain's profile is missing
    episode, _ = reason(policy, task)
    assert episode.extra["failure"] == "extraction_miss"
    assert episode.answer == NOT_FOUND_ANSWER
    assert "No passage states" in episode.transcript.steps[2].think


def test_a_count_is_done_in_words(graph, sources):
    policy = ReasoningPolicy(graph, sources, PASSAGES)
    spec = S.count(S.edge("borders", S.entity("e_fr"), direction="objects"))
    task = world.task_row(
        graph, spec, "analytical", "How many countries border France?", "number", "2"
    )
    task["evidence_passage_ids"] = ["p_d_fr_fb"]
    episode, _ = reason(policy, task)
    assert episode.answer == "2"
    assert "Counting them: Germany and Spain make 2." in episode.transcript.steps[2].think
