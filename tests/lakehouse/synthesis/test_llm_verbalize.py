"""The LLM rewriter against a scripted OpenAI-compatible server on loopback."""

import json

import pytest

from lakehouse.synthesis import llm_verbalize as lv
from lakehouse.synthesis import spec as S
from lakehouse.synthesis.tasks import ENTITY, TaskDraft, finalize
from tests.lakehouse.synthesis.europe import europe
from tests.loopback import QuietHandler, serve

REWRITES = {
    "Which country has Paris as its capital?": "Paris is the capital of which country?",
    "Which country has Madrid as its capital?": "Which country is governed from its capital?",
    "Which country has Rome as its capital?": "Is Italy the one with Rome as its capital?",
    "Which country has Lisbon as its capital?": "Lisbon is the capital. Name the country.",
}


class _Rewriter(QuietHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = body["messages"][1]["content"].removeprefix("Question: ")
        self.send_json(200, {"choices": [{"message": {"content": REWRITES[question]}}]})


@pytest.fixture
def endpoint():
    with serve(_Rewriter) as base_url:
        yield f"{base_url}/v1"


def _task(graph, capital, country):
    spec = S.edge("capital", S.entity(capital))
    question = f"Which country has {graph.name(capital)} as its capital?"
    draft = TaskDraft("t", "t-1", "factual", question, spec, ENTITY, frozenset([country]), 0, "t")
    return finalize(draft, graph)


def test_only_faithful_rewrites_replace_the_templated_question(endpoint):
    graph = europe()
    tasks = [
        _task(graph, c, k)
        for c, k in (("paris", "fr"), ("madrid", "es"), ("rome", "it"), ("lisbon", "pt"))
    ]
    settings = lv.VerbalizerSettings(endpoint=endpoint, model="scripted", concurrency=2)
    outcomes = lv.rewrite_questions(tasks, graph, settings)
    assert outcomes == {
        "accepted": 1,
        "dropped_a_name": 1,  # Madrid is gone
        "names_the_answer": 1,  # "Is Italy ..."
        "not_one_question": 1,  # a statement and an order
    }
    rewritten, *kept = tasks
    assert rewritten.draft.question == "Paris is the capital of which country?"
    assert (rewritten.draft.verbalizer, rewritten.draft.verbalizer_model) == ("llm", "scripted")
    assert rewritten.draft.prompt_hash == lv.PROMPT_HASH
    assert json.loads(rewritten.draft.sampling) == {"temperature": 0.3, "max_tokens": 160}
    assert all(task.draft.verbalizer == "templates" for task in kept)
    assert kept[0].draft.question == "Which country has Madrid as its capital?"
    assert "scripted" in json.dumps(lv.settings_record(settings))


def test_an_unreachable_endpoint_is_an_error():
    graph = europe()
    settings = lv.VerbalizerSettings(endpoint="http://127.0.0.1:9/v1", model="m", retries=0)
    with pytest.raises(lv.EndpointError, match="every request"):
        lv.rewrite_questions([_task(graph, "paris", "fr")], graph, settings)
