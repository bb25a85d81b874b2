import pytest

from lakehouse.synthesis import spec as S
from lakehouse.synthesis.tasks import (
    DATE,
    ENTITY,
    NUMBER,
    SET,
    Rejected,
    TaskDraft,
    finalize,
    literal_answer,
)
from tests.lakehouse.synthesis.europe import europe


def _draft(spec, answer_type, expected, question="Which country?", **extra):
    return TaskDraft(
        generator="test",
        generator_version="test-1",
        kind=extra.pop("kind", "factual"),
        question=question,
        spec=spec,
        answer_type=answer_type,
        expected=expected,
        seed=0,
        template="t",
        **extra,
    )


@pytest.fixture(scope="module")
def graph():
    return europe()


def test_finalize_computes_answer_gold_entities_and_evidence(graph):
    spec = S.edge("capital", S.edge("borders", S.entity("pt")), "objects")
    task = finalize(_draft(spec, ENTITY, frozenset(["madrid"])), graph)
    assert task.answer == "Madrid"
    assert task.answer_entity_ids == ["madrid"]
    assert task.gold_entity_ids == ["pt", "es", "madrid"]  # anchor, hop, answer
    assert task.evidence_relation_ids == ["rel_bor_es_pt", "rel_cap_es"]
    assert task.evidence_doc_ids == ["doc_es"]
    assert task.hops == 2
    assert task.task_id.startswith("qa_")
    assert task.task_id == finalize(_draft(spec, ENTITY, frozenset(["madrid"])), graph).task_id


def test_finalize_refuses_a_draft_whose_spec_says_otherwise(graph):
    neighbours = S.edge("borders", S.entity("fr"))
    with pytest.raises(Rejected, match="not unique: 4 entities"):
        finalize(_draft(neighbours, ENTITY, frozenset(["es"])), graph)
    with pytest.raises(Rejected, match="differ from the expected"):
        finalize(_draft(neighbours, SET, frozenset(["es", "be"])), graph)
    with pytest.raises(Rejected, match="the draft expected '60000000 people'"):
        finalize(_draft(S.value("population", S.entity("it")), NUMBER, "60000000 people"), graph)
    with pytest.raises(Rejected, match="answer type 'colour'"):
        finalize(_draft(neighbours, "colour", frozenset()), graph)


def test_a_set_task_keeps_the_full_gold_set(graph):
    task = finalize(
        _draft(S.edge("borders", S.entity("fr")), SET, frozenset(["es", "be", "de", "it"])), graph
    )
    assert task.answer == "Belgium; Germany; Italy; Spain"
    assert task.answer_entity_ids == ["be", "de", "es", "it"]
    assert task.answer_aliases == []


def test_literal_answers_and_their_aliases():
    assert literal_answer("68374591 people", NUMBER) == (
        "68,374,591",
        ["68374591", "68.4 million", "68374591 people"],
    )
    assert literal_answer("4.22757e+06 people", NUMBER, 4_227_570.0)[0] == "4,227,570"
    assert literal_answer("640 sq km", NUMBER) == ("640 sq km", ["640"])
    assert literal_answer("1958-05-09", DATE) == ("9 May 1958", ["1958-05-09", "May 9, 1958"])
    assert literal_answer("1815", DATE) == ("1815", [])


def test_difficulty_grows_with_hops_and_obfuscations(graph):
    one = finalize(_draft(S.edge("capital", S.entity("paris")), ENTITY, frozenset(["fr"])), graph)
    chain = S.edge("capital", S.edge("borders", S.entity("pt")), "objects")
    hidden = [{"kind": "name_to_type"}, {"kind": "partial_name"}]
    two = finalize(_draft(chain, ENTITY, frozenset(["madrid"]), obfuscations=hidden), graph)
    assert 0 < one.difficulty < two.difficulty < 1
