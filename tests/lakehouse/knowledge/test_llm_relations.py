"""The LLM extractor against a real HTTP server on loopback that answers from a script."""

import json
from typing import ClassVar

import polars as pl
import pytest

from lakehouse.knowledge import llm_relations as llm
from tests.loopback import QuietHandler, serve

TEXT = (
    "Vertigo is a film directed by Alfred Hitchcock. "
    "Paris is the capital of France. "
    "Rome lies in Italy. "
    "Berlin is in Germany. "
    "Oslo is the capital of Norway."
)


def _corpus():
    documents = pl.DataFrame({"doc_id": ["d1"], "text": [TEXT]})
    pairs = [
        ("Vertigo", "ent_vertigo", "Alfred Hitchcock", "ent_hitchcock"),
        ("Paris", "ent_paris", "France", "ent_france"),
        ("Rome", "ent_rome", "Italy", "ent_italy"),
        ("Berlin", "ent_berlin", "Germany", "ent_germany"),
        ("Oslo", "ent_oslo", "Norway", "ent_norway"),
    ]
    rows, names = [], []
    for first, first_id, second, second_id in pairs:
        start = TEXT.index(first)
        end = TEXT.index(".", start) + 1
        for surface, entity_id in ((first, first_id), (second, second_id)):
            at = TEXT.index(surface, start)
            rows.append(
                {
                    "doc_id": "d1",
                    "sentence_id": f"s{start:04d}",
                    "sentence_start": start,
                    "sentence_end": end,
                    "surface": surface,
                    "entity_id": entity_id,
                    "start_char": at,
                }
            )
            names.append({"entity_id": entity_id, "name": surface})
    return documents, pl.DataFrame(rows), pl.DataFrame(names)


def _answer(sentence: str) -> tuple[int, str]:
    """(HTTP status, assistant text) the scripted model gives for a sentence."""
    if sentence.startswith("Vertigo"):
        triples = [
            {"subject": "Vertigo", "predicate": "Directed  By", "object": "Alfred Hitchcock",
             "object_type": "entity"},
            {"subject": "Vertigo", "predicate": "is a", "object": "film", "object_type": "number"},
            {"subject": "Vertigo", "predicate": "released in", "object": "1958",
             "object_type": "year"},
            {"subject": "Psycho", "predicate": "directed by", "object": "Alfred Hitchcock",
             "object_type": "entity"},
        ]  # fmt: skip
        return 200, "```json\n" + json.dumps({"triples": triples}) + "\n```"
    if sentence.startswith("Paris"):
        return 200, "Sure! Paris is the capital of France."
    if sentence.startswith("Rome"):
        return 200, json.dumps({"triples": [{"subject": "Rome", "predicate": "in"}]})
    if sentence.startswith("Berlin"):
        return 200, json.dumps(
            {"triples": [{"subject": "Berlin", "predicate": "in", "object": "Spain",
                          "object_type": "entity"}]}
        )  # fmt: skip
    return 500, "overloaded"


class _ScriptedModel(QuietHandler):
    requests: ClassVar[list[dict]] = []
    failures_left: ClassVar[dict[str, int]] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "body": body})  # fmt: skip
        sentence = body["messages"][1]["content"].split("Sentence: ", 1)[1]
        status, text = _answer(sentence)
        # Oslo fails once, then answers: a retry must get through.
        if sentence.startswith("Oslo") and self.failures_left.get("oslo", 0) == 0:
            status = 200
            text = json.dumps(
                {"triples": [{"subject": "Oslo", "predicate": "capital of", "object": "Norway",
                              "object_type": "entity"}]}
            )  # fmt: skip
        elif sentence.startswith("Oslo"):
            self.failures_left["oslo"] -= 1
        self.send_json(status, {"choices": [{"message": {"content": text}}]})


@pytest.fixture
def endpoint():
    _ScriptedModel.requests = []
    _ScriptedModel.failures_left = {"oslo": 1}
    with serve(_ScriptedModel) as base_url:
        yield f"{base_url}/v1"


def test_answers_are_validated_counted_and_only_listed_entities_accepted(endpoint, monkeypatch):
    monkeypatch.setenv(llm.API_KEY_ENV_VAR, "secret-key")
    documents, mentions, entities = _corpus()
    settings = llm.LLMExtractorSettings(endpoint=endpoint, model="scripted", retries=1)
    found, report = llm.llm_relations(documents, mentions, entities, settings)

    triples = {(r.subject_id, r.predicate, r.object_id) for r in found}
    assert triples == {
        ("ent_vertigo", "directed by", "ent_hitchcock"),  # predicate lower-cased, spaces joined
        ("ent_oslo", "capital of", "ent_norway"),  # after one 500 and a retry
    }
    assert report.sentences == 5
    assert report.counts == {
        "accepted": 2,
        "value_not_in_sentence": 1,  # 1958 is not in the sentence
        "value_type_mismatch": 1,  # "film" typed a number
        "unknown_subject": 1,  # Psycho is not listed
        "invalid_json": 1,  # Paris: prose
        "schema_error": 1,  # Rome: missing fields
        "unknown_object": 1,  # Berlin → Spain
    }
    assert "object" in report.examples["schema_error"]
    first = next(r for r in found if r.subject_id == "ent_vertigo")
    assert first.extractor == "llm"
    assert first.model_id == "scripted"
    assert first.prompt_hash == llm.PROMPT_HASH
    assert json.loads(first.sampling) == {"temperature": 0.0, "max_tokens": 384}
    assert first.evidence == "Vertigo is a film directed by Alfred Hitchcock."

    sent = _ScriptedModel.requests
    assert len(sent) == 6  # five sentences, one retried
    assert {r["path"] for r in sent} == {"/v1/chat/completions"}
    assert {r["auth"] for r in sent} == {"Bearer secret-key"}
    prompts = [r["body"]["messages"][1]["content"] for r in sent]
    assert any(p.startswith("Entities:\n- Vertigo\n- Alfred Hitchcock\n") for p in prompts)
    assert "secret-key" not in json.dumps(llm.settings_record(settings))


def test_an_endpoint_that_always_fails_is_an_error_naming_it(endpoint):
    documents, mentions, entities = _corpus()
    only_oslo = mentions.filter(pl.col("sentence_id") == mentions.item(-1, "sentence_id"))
    _ScriptedModel.failures_left = {"oslo": 10}
    settings = llm.LLMExtractorSettings(endpoint=endpoint, model="scripted", retries=1)
    with pytest.raises(llm.EndpointError, match=r"every request to http://127\.0\.0\.1"):
        llm.llm_relations(documents, only_oslo, entities, settings)


def test_an_unreachable_endpoint_is_an_error_after_retries():
    documents, mentions, entities = _corpus()
    settings = llm.LLMExtractorSettings(
        endpoint="http://127.0.0.1:9/v1", model="m", retries=0, max_sentences=1
    )
    with pytest.raises(llm.EndpointError, match="ConnectError"):
        llm.llm_relations(documents, mentions, entities, settings)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not json", "not JSON"),
        ('{"triples": "none"}', "schema: triples: 'none' is not of type 'array'"),
        ('{"triples": [], "extra": 1}', "schema: answer: Additional properties"),
        ('{"triples": [{"subject": "a", "predicate": "b", "object": "c", "object_type": "x"}]}',
         "schema: triples/0/object_type"),
    ],
)  # fmt: skip
def test_parse_triples_says_what_is_wrong(text, error):
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        llm.parse_triples(text)


def test_parse_triples_accepts_a_fenced_answer():
    assert llm.parse_triples('```json\n{"triples": []}\n```') == []


@pytest.mark.parametrize(
    ("value", "object_type", "fits"),
    [
        ("1958", "year", True),
        ("44 BC", "year", True),
        ("the fifties", "year", False),
        ("9 May 1958", "date", True),
        ("spring", "date", False),
        ("two million", "number", True),
        ("640 km2", "quantity", True),
        ("large", "quantity", False),
        ("anything", "entity", True),
    ],
)
def test_value_fits_type(value, object_type, fits):
    assert llm.value_fits_type(value, object_type) is fits
