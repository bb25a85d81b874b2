import json
from pathlib import Path

import polars as pl
import pytest

from lakehouse.errors import SourceError
from lakehouse.web.corpus_source import DOCUMENT_RECORD_TYPE, CorpusSettings, iter_fetches

TEXT = "Charles Babbage designed the Analytical Engine, a mechanical general-purpose computer."


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_jsonl_records_and_malformed_lines_with_their_line_numbers(tmp_path: Path, caplog):
    path = _jsonl(
        tmp_path / "docs.jsonl",
        [
            json.dumps(
                {"url": "https://Example.org/a#x", "title": "A", "text": TEXT, "language": "en"}
            ),
            "{not json",
            json.dumps({"title": "no url", "text": TEXT}),
            "",
            json.dumps({"url": "https://example.org/b", "html": f"<p>{TEXT}</p><a href='c'>C</a>"}),
            json.dumps({"url": "https://example.org/d", "text": "  "}),
            json.dumps({"url": "mailto:x@example.org", "text": TEXT}),
            json.dumps(["a", "list"]),
        ],
    )
    fetches = list(iter_fetches(CorpusSettings(paths=(str(path),))))
    good = [f for f in fetches if f.error is None]
    errors = {f.error.split(": ", 1)[0].rsplit(":", 1)[1]: f.error for f in fetches if f.error}
    assert [f.url for f in good] == ["https://example.org/a", "https://example.org/b"]
    assert good[0].content_type == DOCUMENT_RECORD_TYPE
    assert json.loads(good[0].body) == {"text": TEXT, "title": "A", "language": "en"}
    assert good[0].headers["content-language"] == "en"
    assert good[1].content_type == "text/html"
    assert [link.url for link in good[1].links] == ["https://example.org/c"]
    assert set(errors) == {"2", "3", "6", "7", "8"}  # line numbers, blank line 4 skipped
    assert "invalid JSON" in errors["2"]
    assert "missing field 'url'" in errors["3"]
    assert "needs a non-empty 'text' or 'html'" in errors["6"]
    assert "not an http(s) URL" in errors["7"]
    assert "expected a JSON object" in errors["8"]
    assert f"{path}:2" in caplog.text  # reported in the log too


def test_parquet_corpus(tmp_path: Path):
    path = tmp_path / "docs.parquet"
    pl.DataFrame(
        {"url": ["https://example.org/a", None], "text": [TEXT, TEXT], "title": ["A", "B"]}
    ).write_parquet(path)
    fetches = list(iter_fetches(CorpusSettings(paths=(str(path),))))
    assert fetches[0].url == "https://example.org/a"
    assert fetches[1].error.endswith("row 2: missing field 'url'")


def test_parquet_without_the_needed_columns_is_an_error(tmp_path: Path):
    path = tmp_path / "bad.parquet"
    pl.DataFrame({"link": ["x"]}).write_parquet(path)
    with pytest.raises(SourceError, match="needs columns 'url' and 'text' or 'html'"):
        list(iter_fetches(CorpusSettings(paths=(str(path),))))


def test_max_records(tmp_path: Path):
    lines = [json.dumps({"url": f"https://example.org/{i}", "text": TEXT}) for i in range(5)]
    path = _jsonl(tmp_path / "docs.jsonl", lines)
    assert len(list(iter_fetches(CorpusSettings(paths=(str(path),), max_records=3)))) == 3
