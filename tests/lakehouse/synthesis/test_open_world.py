from collections import Counter

import pytest

from lakehouse.synthesis import open_world
from lakehouse.synthesis.tasks import finalize
from tests.lakehouse.synthesis.europe import europe


@pytest.fixture(scope="module")
def graph():
    return europe()


@pytest.fixture(scope="module")
def drafts(graph):
    return open_world.generate(graph, seed=0, limit=50)


def _by_question(drafts):
    return {d.question: d for d in drafts}


def test_all_four_kinds_are_generated_and_every_draft_finalizes(graph, drafts):
    assert set(Counter(d.kind for d in drafts)) == set(open_world.KINDS)
    assert all(finalize(d, graph) for d in drafts)
    assert {d.generator for d in drafts} == {"open_world"}
    assert len({d.question for d in drafts}) == len(drafts)


def test_factual_questions_have_the_graphs_answers(graph, drafts):
    questions = _by_question(drafts)
    born = questions["In which year was Ada Lovelace born?"]
    assert (born.expected, born.answer_type) == ("1815", "date")
    capital = questions["Which city is the capital of Italy?"]
    assert capital.expected == {"rome"}
    area = finalize(questions["What is the total area in square kilometres of Belgium?"], graph)
    assert area.answer == "30,528 sq km"


def test_comparatives_skip_near_ties_and_pick_the_right_side(graph, drafts):
    comparatives = [d for d in drafts if d.kind == "comparative"]
    assert comparatives
    for draft in comparatives:
        task = finalize(draft, graph)
        (a, b) = draft.spec["of"]["of"]
        attribute = draft.spec["attribute"]
        values = {e["id"]: graph.number(e["id"], attribute) for e in (a, b)}
        best = (
            max(values, key=values.get)
            if draft.spec["op"] == "argmax"
            else min(values, key=values.get)
        )
        assert task.answer_entity_ids == [best]
        gap = abs(values[a["id"]] - values[b["id"]]) / max(values.values())
        assert attribute.endswith("_year") or gap >= open_world.MIN_RELATIVE_GAP


def test_multi_hop_chains_and_analytical_aggregates(graph, drafts):
    questions = _by_question(drafts)
    chain = questions["What is the population of the country that has Lisbon as its capital?"]
    assert chain.expected == "10400000 people"
    assert finalize(chain, graph).hops == 2
    count = questions["How many countries border France?"]
    assert count.expected == "4"
    analytical = [d for d in drafts if d.kind == "analytical" and d.spec["op"] != "count"]
    assert analytical
    for draft in analytical:
        assert draft.question.startswith("Of the countries that border France")


def test_generation_is_deterministic_for_a_seed(graph, drafts):
    again = open_world.generate(graph, seed=0, limit=50)
    assert [d.question for d in again] == [d.question for d in drafts]
    other = open_world.generate(graph, seed=1, limit=50)
    assert [d.question for d in other] != [d.question for d in drafts]
