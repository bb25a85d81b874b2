import polars as pl
import pytest

from lakehouse.knowledge.mentions import sentence_id
from lakehouse.synthesis import spec as S
from lakehouse.synthesis import verify
from lakehouse.synthesis.graph import Evidence
from lakehouse.synthesis.tasks import ENTITY, NUMBER, TaskDraft, finalize
from tests.lakehouse.synthesis.europe import europe


@pytest.fixture(scope="module")
def graph():
    return europe()


def _task(graph, spec, answer_type, expected, question):
    draft = TaskDraft("test", "t-1", "factual", question, spec, answer_type, expected, 0, "t")
    return finalize(draft, graph)


def test_the_stored_spec_re_executes_to_the_stored_answer(graph):
    task = _task(graph, S.edge("capital", S.entity("paris")), ENTITY, frozenset(["fr"]), "Q?")
    assert verify.respec_matches(task, graph) == (True, True)
    task.answer_entity_ids = ["es"]  # a tampered row
    assert verify.respec_matches(task, graph) == (False, True)
    count = _task(graph, S.count(S.edge("borders", S.entity("fr"))), NUMBER, "4", "How many?")
    assert verify.respec_matches(count, graph) == (True, True)


@pytest.mark.parametrize(
    ("question", "leaks"),
    [
        ("Which country has Paris as its capital?", False),
        ("Is France the country whose capital is Paris?", True),
        ("Which country (france?) has Paris as its capital?", True),  # case and punctuation
        ("Which country, Frances, has Paris as capital?", False),  # whole words only
    ],
)
def test_mentions_answer(graph, question, leaks):
    task = _task(graph, S.edge("capital", S.entity("paris")), ENTITY, frozenset(["fr"]), question)
    assert verify.mentions_answer(question, task, graph) is leaks


def test_near_duplicates_point_at_the_earlier_task(graph):
    spec = S.edge("capital", S.entity("paris"))
    first = _task(
        graph, spec, ENTITY, frozenset(["fr"]), "Which country has Paris as its capital city?"
    )
    again = _task(
        graph, spec, ENTITY, frozenset(["fr"]), "Which country has Paris as its capital city ?"
    )
    other = _task(graph, spec, ENTITY, frozenset(["fr"]), "Name the nation governed from Paris.")
    found = verify.near_duplicates([first, again, other])
    earlier, later = sorted([first.task_id, again.task_id])
    assert found == {later: earlier}


def test_evidence_passages_are_the_passages_holding_the_evidence_sentences():
    graph = europe()  # its evidence is changed below
    text = "France is in Europe. The capital of France is Paris. It borders Spain."
    start = text.index("The capital")
    documents = pl.DataFrame({"doc_id": ["doc_fr"], "text": [text]})
    passages = pl.DataFrame(
        {
            "passage_id": ["psg_a", "psg_b"],
            "doc_id": ["doc_fr", "doc_fr"],
            "start_char": [0, start],
            "end_char": [start + 5, len(text)],
        }
    )
    locator = verify.PassageLocator.build(documents, passages, {"doc_fr"})
    assert locator.passage_of("doc_fr", sentence_id("doc_fr", start)) == "psg_b"
    assert locator.passage_of("doc_fr", None) == "psg_a"
    assert locator.passage_of("doc_xx", None) is None
    graph.evidence["rel_cap_fr"] = Evidence("doc_fr", sentence_id("doc_fr", start), "factbook")
    task = _task(graph, S.edge("capital", S.entity("paris")), ENTITY, frozenset(["fr"]), "Q?")
    assert verify.evidence_passages(task, graph, locator) == ["psg_b"]


def test_answerability_needs_every_evidence_passage_in_some_querys_top_k(graph):
    task = _task(
        graph,
        S.edge("capital", S.edge("borders", S.entity("pt")), "objects"),
        ENTITY,
        frozenset(["madrid"]),
        "Which city is the capital of the country that borders Portugal?",
    )
    queries = verify.task_queries(task, graph)
    assert queries == ["Spain borders Portugal", "Spain capital"]  # never the answer
    index = {
        task.draft.question: ["psg_borders"],
        "Spain borders Portugal": ["psg_borders"],
        "Spain capital": ["psg_other"],
    }
    seen = []

    def search(batch, k):
        seen.append((tuple(batch), k))
        return [index.get(query, []) for query in batch]

    evidence = {task.task_id: ["psg_borders", "psg_capital"]}
    assert verify.answerability([task], evidence, graph, search, k=5) == {task.task_id: (1, 2)}
    # The question first; the hop queries only because it did not reach everything.
    assert seen == [((task.draft.question,), 5), (tuple(sorted(queries)), 5)]
    index["Spain capital"] = ["psg_capital"]
    seen.clear()
    assert verify.answerability([task], evidence, graph, search, k=5) == {task.task_id: (2, 2)}
    evidence_in_question = {task.task_id: ["psg_borders"]}
    seen.clear()
    assert verify.answerability([task], evidence_in_question, graph, search) == {
        task.task_id: (1, 1)
    }
    assert len(seen) == 1  # no second round needed


def test_a_choice_names_its_answer_among_the_options_without_leaking(graph):
    choice = S.extreme("area", S.either(S.entity("fr"), S.entity("es")))
    question = "Which has the larger area: France or Spain?"
    task = _task(graph, choice, ENTITY, frozenset(["fr"]), question)
    assert not verify.mentions_answer(question, task, graph)
    lookup = _task(graph, S.edge("capital", S.entity("paris")), ENTITY, frozenset(["fr"]), "Q?")
    assert verify.mentions_answer("Is it France?", lookup, graph)
