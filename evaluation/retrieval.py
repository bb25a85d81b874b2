"""Retrieval benchmarks: questions with gold documents, and recall@k / MRR of a ranking.

File format (JSONL, UTF-8; one object per line; blank lines are skipped):

    {"question": "City in central Poland", "gold_urls": ["https://en.wikipedia.org/wiki/Łódź"]}
    {"question": "Who wrote Hamlet?", "gold_titles": ["William Shakespeare"], "id": "q2"}

- "question" (required): a non-empty string, the search query.
- "gold_urls" and/or "gold_titles" (at least one, non-empty): the pages that answer it, as a
  list of strings (a single string is a list of one). URLs are compared after
  `normalize_url`, titles case-insensitively. A question is answered at rank r when the r-th
  result page is any of its gold pages.
- "id" (optional): a name for the question; defaults to "<file name>:<line number>".
Other keys are ignored. A line that is not a JSON object, or lacks a field, is an error naming
the file, the line number and the field.

Without a file, `questions_from_descriptions` builds one from the corpus itself: each page's
short description (Wikipedia's, e.g. "Type of interaction between species") → that page,
for a seeded sample of the pages whose description is unique in the corpus and has at least
three words (a description shared by several pages has no single answer). The descriptions
are not part of the indexed text, so lexical overlap does not give the answer away.
"""

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lakehouse.errors import SailyardError
from lakehouse.web.urls import normalize_url

RECALL_CUTOFFS = (1, 5, 10)
DEFAULT_SAMPLE = 300
MIN_DESCRIPTION_WORDS = 3


class BenchmarkFileError(SailyardError):
    """A retrieval benchmark file that cannot be read, with the file, line and field."""


@dataclass(frozen=True)
class Question:
    """One benchmark question and the pages that answer it."""

    id: str
    question: str
    gold_urls: tuple[str, ...] = ()
    gold_titles: tuple[str, ...] = ()


def _string_list(value: object, where: str, name: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise BenchmarkFileError(f"{where}: field {name!r} must be a string or a list of strings")
    return tuple(item for item in values if item.strip())


def parse_question(record: object, where: str, default_id: str | None = None) -> Question:
    """One line's object as a Question; `where` ("file:line") prefixes every error."""
    if not isinstance(record, dict):
        raise BenchmarkFileError(f"{where}: expected a JSON object, got {type(record).__name__}")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise BenchmarkFileError(f"{where}: missing field 'question' (a non-empty string)")
    urls = _string_list(record.get("gold_urls", []), where, "gold_urls")
    titles = _string_list(record.get("gold_titles", []), where, "gold_titles")
    if not urls and not titles:
        raise BenchmarkFileError(f"{where}: missing field 'gold_urls' or 'gold_titles'")
    identifier = record.get("id", default_id or where)
    return Question(str(identifier), question.strip(), urls, titles)


def load_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Every question of a JSONL benchmark file, in file order."""
    path = Path(path)
    questions = []
    try:
        with path.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{line_number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise BenchmarkFileError(f"{where}: not valid JSON ({error.msg})") from error
                questions.append(parse_question(record, where, f"{path.name}:{line_number}"))
    except (OSError, UnicodeDecodeError) as error:
        raise BenchmarkFileError(f"cannot read benchmark file {path}: {error}") from error
    if not questions:
        raise BenchmarkFileError(f"benchmark file {path} holds no questions")
    return questions


def write_questions(questions: Iterable[Question], path: str | os.PathLike[str]) -> Path:
    """Write questions in the JSONL format above (e.g. to edit a generated benchmark)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for q in questions:
            record = {"id": q.id, "question": q.question}
            if q.gold_urls:
                record["gold_urls"] = list(q.gold_urls)
            if q.gold_titles:
                record["gold_titles"] = list(q.gold_titles)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def questions_from_descriptions(
    documents: pl.DataFrame, sample: int = DEFAULT_SAMPLE, seed: int = 0
) -> list[Question]:
    """The default benchmark: unique page descriptions → their page (a seeded sample)."""
    described = documents.filter(
        pl.col("description").is_not_null()
        & (pl.col("description").str.split(" ").list.len() >= MIN_DESCRIPTION_WORDS)
    )
    unique = described.filter(pl.col("description").is_unique()).sort("doc_id")
    chosen = unique.sample(min(sample, unique.height), seed=seed, shuffle=True)
    return [
        Question(doc_id, description, (url,), (title,))
        for doc_id, description, url, title in chosen.select(
            "doc_id", "description", "url", "title"
        ).iter_rows()
    ]


@dataclass(frozen=True)
class GoldIndex:
    """Maps a question's gold URLs and titles to the documents of one corpus."""

    by_url: dict[str, str]
    by_title: dict[str, list[str]]

    @classmethod
    def of(cls, documents: pl.DataFrame) -> "GoldIndex":
        by_url: dict[str, str] = {}
        by_title: dict[str, list[str]] = {}
        for doc_id, url, title in documents.select("doc_id", "url", "title").iter_rows():
            by_url[normalize_url(url) or url] = doc_id
            if title:
                by_title.setdefault(title.casefold(), []).append(doc_id)
        return cls(by_url, by_title)

    def gold_docs(self, question: Question) -> frozenset[str]:
        """The corpus documents that answer `question` (empty: none is in the corpus)."""
        docs = {
            self.by_url[key]
            for url in question.gold_urls
            if (key := normalize_url(url) or url) in self.by_url
        }
        for title in question.gold_titles:
            docs.update(self.by_title.get(title.casefold(), ()))
        return frozenset(docs)


@dataclass
class RetrievalQuality:
    """recall@k (share of questions with a gold page in the top k) and MRR (mean of 1/rank of
    the first gold page, 0 when none is in the list) over the answerable questions."""

    questions: int = 0
    hits_at: dict[int, int] = field(default_factory=lambda: dict.fromkeys(RECALL_CUTOFFS, 0))
    reciprocal_rank_sum: float = 0.0

    def add(self, ranked_docs: Sequence[str], gold: frozenset[str]) -> None:
        """Score one question's ranked result documents (best first)."""
        rank = next((i for i, doc in enumerate(ranked_docs, start=1) if doc in gold), None)
        self.questions += 1
        if rank is None:
            return
        self.reciprocal_rank_sum += 1.0 / rank
        for cutoff in self.hits_at:
            if rank <= cutoff:
                self.hits_at[cutoff] += 1

    def recall(self, cutoff: int) -> float:
        return self.hits_at[cutoff] / self.questions if self.questions else math.nan

    @property
    def mrr(self) -> float:
        return self.reciprocal_rank_sum / self.questions if self.questions else math.nan


def score_rankings(
    rankings: Sequence[Sequence[str]], golds: Sequence[frozenset[str]]
) -> RetrievalQuality:
    """Quality of ranked document lists against their questions' gold documents."""
    quality = RetrievalQuality()
    for ranked, gold in zip(rankings, golds, strict=True):
        quality.add(ranked, gold)
    return quality
