import json
from pathlib import Path

import polars as pl
import pytest

from evaluation.retrieval import (
    BenchmarkFileError,
    GoldIndex,
    Question,
    load_questions,
    questions_from_descriptions,
    score_rankings,
    write_questions,
)

DOCUMENTS = pl.DataFrame(
    {
        "doc_id": ["d1", "d2", "d3", "d4"],
        "url": [
            "https://en.wikipedia.org/wiki/Łódź",
            "https://en.wikipedia.org/wiki/Tiger",
            "https://en.wikipedia.org/wiki/Lion",
            "https://en.wikipedia.org/wiki/Puma",
        ],
        "title": ["Łódź", "Tiger", "Lion", "Puma"],
        "description": ["City in central Poland", "Big cat", "Big cat", "Large American cat"],
    }
)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_benchmark_file_round_trips(tmp_path):
    path = _write(
        tmp_path / "bench.jsonl",
        [
            json.dumps({"question": "City in central Poland", "gold_urls": [DOCUMENTS["url"][0]]}),
            "",
            json.dumps({"question": "striped cat", "gold_titles": "tiger", "id": "q2"}),
        ],
    )
    questions = load_questions(path)
    assert questions == [
        Question("bench.jsonl:1", "City in central Poland", (DOCUMENTS["url"][0],), ()),
        Question("q2", "striped cat", (), ("tiger",)),
    ]
    assert load_questions(write_questions(questions, tmp_path / "again.jsonl")) == questions


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"gold_urls": ["u"]}', r"bad.jsonl:2: missing field 'question'"),
        ('{"question": "  ", "gold_urls": ["u"]}', r"bad.jsonl:2: missing field 'question'"),
        ('{"question": "q"}', r"bad.jsonl:2: missing field 'gold_urls' or 'gold_titles'"),
        ('{"question": "q", "gold_urls": []}', r"bad.jsonl:2: missing field 'gold_urls' or"),
        ('{"question": "q", "gold_titles": [3]}', r"bad.jsonl:2: field 'gold_titles' must be"),
        ('["question"]', r"bad.jsonl:2: expected a JSON object, got list"),
        ('{"question": "q", ', r"bad.jsonl:2: not valid JSON"),
    ],
)
def test_a_malformed_line_names_the_file_line_and_field(tmp_path, line, message):
    good = json.dumps({"question": "q", "gold_titles": ["Tiger"]})
    path = _write(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(BenchmarkFileError, match=message):
        load_questions(path)


def test_missing_and_empty_files_are_errors(tmp_path):
    with pytest.raises(BenchmarkFileError, match="cannot read benchmark file"):
        load_questions(tmp_path / "absent.jsonl")
    with pytest.raises(BenchmarkFileError, match="holds no questions"):
        load_questions(_write(tmp_path / "empty.jsonl", [""]))


def test_gold_pages_match_by_normalized_url_or_title():
    gold = GoldIndex.of(DOCUMENTS)
    by_url = Question("a", "q", ("https://EN.wikipedia.org/wiki/%C5%81%C3%B3d%C5%BA",))
    assert gold.gold_docs(by_url) == {"d1"}
    assert gold.gold_docs(Question("b", "q", (), ("LION", "Nowhere"))) == {"d3"}
    assert gold.gold_docs(Question("c", "q", ("https://example.org/x",))) == frozenset()


def test_recall_and_mrr():
    quality = score_rankings(
        [["d2", "d1"], ["d1"], ["d4", "d3", "d2", "d1", "d9", "d8"]],
        [frozenset({"d1"}), frozenset({"d1"}), frozenset({"d8"})],
    )
    assert quality.questions == 3
    assert quality.recall(1) == pytest.approx(1 / 3)
    assert quality.recall(5) == pytest.approx(2 / 3)
    assert quality.recall(10) == pytest.approx(1.0)
    assert quality.mrr == pytest.approx((1 / 2 + 1 + 1 / 6) / 3)


def test_default_questions_use_unique_descriptions_of_three_words_or_more():
    questions = questions_from_descriptions(DOCUMENTS, sample=10, seed=0)
    # "Big cat" is shared (and short): no single answer
    assert sorted(q.question for q in questions) == [
        "City in central Poland",
        "Large American cat",
    ]
    assert {q.gold_titles for q in questions} == {("Łódź",), ("Puma",)}
    assert questions == questions_from_descriptions(DOCUMENTS, sample=10, seed=0)
