import random

import pytest

from lakehouse.synthesis import spec as S
from lakehouse.synthesis import webshaper
from lakehouse.synthesis.tasks import finalize
from tests.lakehouse.synthesis.europe import europe


@pytest.fixture(scope="module")
def graph():
    return europe()


def test_identify_intersects_projections_until_one_entity_is_left(graph):
    spec = webshaper.identify(graph, "be", random.Random(0), exclude={"be"})
    assert S.execute(spec, graph).entities == {"be"}
    # Every clue is a projection from a neighbour (France, Germany, Brussels), never Belgium.
    clues = spec["of"] if spec["op"] == "and" else [spec]
    assert all(clue["op"] == "edge" for clue in clues)
    assert "be" not in S.constants(spec)


def test_identify_never_uses_an_excluded_entity(graph):
    rng = random.Random(0)
    for _ in range(20):
        spec = webshaper.identify(graph, "es", rng, exclude={"es", "madrid"})
        if spec is not None:
            assert "madrid" not in S.constants(spec)
            assert S.execute(spec, graph).unique() == "es"


def test_expansion_adds_hops_and_keeps_the_answer_unique(graph):
    rng = random.Random(4)
    expanded = webshaper.expand(graph, S.edge("borders", S.entity("pt")), "es", rng, layers=1)
    assert S.execute(expanded, graph).unique() == "es"
    assert S.hops(expanded) >= 2  # Portugal replaced by a spec that identifies it
    assert "pt" not in S.constants(expanded)


def test_generated_tasks_execute_to_their_answers_and_hide_them(graph):
    drafts = webshaper.generate(graph, seed=0, limit=30)
    assert drafts
    hops = set()
    for draft in drafts:
        task = finalize(draft, graph)
        (answer,) = task.answer_entity_ids
        assert answer not in S.constants(draft.spec)
        assert graph.name(answer) not in draft.question
        assert draft.question.startswith("Which ")
        assert draft.question.endswith("?")
        hops.add(task.hops)
    assert max(hops) >= 2
    assert [d.question for d in webshaper.generate(graph, seed=0, limit=30)] == [
        d.question for d in drafts
    ]
