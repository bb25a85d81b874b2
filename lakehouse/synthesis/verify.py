"""Checks every task must pass, recorded per row (and reported as pass rates by the asset).

- `spec_verified` / `answer_unique`: re-executing the stored spec on the graph gives the
  stored answer and no other entity satisfies it (tasks.finalize already refuses drafts
  that fail; running it again on the stored JSON proves the stored spec is the one checked).
- `answer_not_in_question`: neither the answer nor any of its aliases (or, for a set task,
  any member's name) appears in the question as whole words, except as one of the options
  of a choice (comparative tasks).
- `duplicate_of`: a question that, after normalization, shares at least
  `NEAR_DUPLICATE_JACCARD` of its words with an earlier task of the same answer is a near
  duplicate; the first task (by id) is kept.
- `answerable`: every evidence passage is in the `search` tool's top-k for one of the task's
  queries: the question itself, and one query per evidence relation naming its ends and
  predicate as a solver who has resolved the hop before would (`task_queries`).
"""

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from lakehouse.index.chunking import split_sentences
from lakehouse.knowledge.mentions import sentence_id
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import constants, execute
from lakehouse.synthesis.tasks import SET, Task

NEAR_DUPLICATE_JACCARD = 0.85
MIN_ALIAS_CHARS = 3  # shorter aliases ("US") would match inside ordinary questions
_WORD = re.compile(r"[\w']+")

# (queries, k) → for each query its hits as passage ids, best first
SearchPassages = Callable[[list[str], int], list[list[str]]]


def respec_matches(task: Task, graph: KnowledgeGraph) -> tuple[bool, bool]:
    """(the stored spec's JSON re-executes to the stored answer, the answer is unique)."""
    stored = json.loads(json.dumps(task.draft.spec))
    result = execute(stored, graph)
    if task.answer_entity_ids:
        found = sorted(result.entities or [])
        unique = len(found) == 1 or task.draft.answer_type == SET
        return found == task.answer_entity_ids, unique and bool(found)
    return result.value == task.draft.expected, result.value is not None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def mentions_answer(question: str, task: Task, graph: KnowledgeGraph) -> bool:
    """Whether the question names the answer (or an alias, or a member of an answer set).

    A choice among given options ("Which has the larger area: Chad or Niger?") names its
    answer by design: an answer entity that is one of two or more constants of the spec is
    one of the options, and is not a leak.
    """
    given = constants(task.draft.spec)
    if len(given) >= 2 and set(task.answer_entity_ids) <= set(given):
        return False
    names = [task.answer, *task.answer_aliases]
    names += [graph.name(e) for e in task.answer_entity_ids]
    padded = f" {' '.join(_words(question))} "
    for name in dict.fromkeys(names):
        words = _words(name)
        if len("".join(words)) < MIN_ALIAS_CHARS:
            continue
        if f" {' '.join(words)} " in padded:
            return True
    return False


def near_duplicates(tasks: Sequence[Task]) -> dict[str, str]:
    """task id → the id of the earlier task it nearly duplicates (same answer, same words)."""
    groups: dict[tuple[str, ...], list[Task]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.task_id):
        key = tuple(task.answer_entity_ids) or (task.answer,)
        groups[key].append(task)
    duplicates: dict[str, str] = {}
    for members in groups.values():
        kept: list[tuple[str, frozenset[str]]] = []
        for task in members:
            words = frozenset(_words(task.draft.question))
            original = next(
                (
                    task_id
                    for task_id, other in kept
                    if len(words & other) / max(len(words | other), 1) >= NEAR_DUPLICATE_JACCARD
                ),
                None,
            )
            if original is None:
                kept.append((task.task_id, words))
            else:
                duplicates[task.task_id] = original
    return duplicates


@dataclass(frozen=True)
class PassageLocator:
    """Which passages hold a document's sentences (by the same sentence ids as mentions)."""

    spans: dict[str, tuple[str, int, int]]  # sentence id → (doc id, start, end)
    passages: dict[str, list[tuple[int, int, str]]]  # doc id → [(start, end, passage id)]

    @classmethod
    def build(cls, documents: pl.DataFrame, passages: pl.DataFrame, doc_ids: set[str]):
        """Spans of every sentence of the given documents, and their passages."""
        spans: dict[str, tuple[str, int, int]] = {}
        wanted = documents.filter(pl.col("doc_id").is_in(sorted(doc_ids)))
        for doc_id, text in wanted.select("doc_id", "text").iter_rows():
            for start, end in split_sentences(text or ""):
                spans[sentence_id(doc_id, start)] = (doc_id, start, end)
        by_doc: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        rows = passages.filter(pl.col("doc_id").is_in(sorted(doc_ids)))
        for passage_id, doc_id, start, end in rows.select(
            "passage_id", "doc_id", "start_char", "end_char"
        ).iter_rows():
            by_doc[doc_id].append((start, end, passage_id))
        return cls(spans, {doc: sorted(found) for doc, found in by_doc.items()})

    def passage_of(self, doc_id: str, sentence: str | None) -> str | None:
        """The passage holding most of the sentence; the document's first passage when the
        evidence has no sentence (a page's description, a Factbook field); None when the
        document has no passage."""
        chunks = self.passages.get(doc_id, [])
        if not chunks:
            return None
        span = self.spans.get(sentence) if sentence else None
        if span is None:
            return chunks[0][2]
        _doc, start, end = span
        overlap = [(min(end, e) - max(start, s), -s, pid) for s, e, pid in chunks]
        best = max(overlap)
        return best[2] if best[0] > 0 else chunks[0][2]


def evidence_passages(task: Task, graph: KnowledgeGraph, locator: PassageLocator) -> list[str]:
    """The passages holding the task's evidence: one per evidence relation with a document,
    plus each traversal page's first passage."""
    found = []
    for relation_id in task.evidence_relation_ids:
        source = graph.evidence.get(relation_id)
        if source is None or source.doc_id is None:
            continue
        passage = locator.passage_of(source.doc_id, source.sentence_id)
        if passage:
            found.append(passage)
    for page in task.draft.gold_path:
        doc_id = graph.doc_of.get(page)
        passage = locator.passage_of(doc_id, None) if doc_id else None
        if passage:
            found.append(passage)
    return list(dict.fromkeys(found))


def task_queries(task: Task, graph: KnowledgeGraph) -> list[str]:
    """The queries after the question: one per evidence relation, "subject predicate object"
    with the names a solver has once the hop before is resolved (an answer entity is never
    in a query: it is what the hop finds), and, for a traversal, each page on the path by
    its title (a solver who followed the link has the page)."""
    queries = []
    answers = set(task.answer_entity_ids)
    for relation_id in task.evidence_relation_ids:
        ends = graph.relation_entities.get(relation_id, ())
        predicate = graph.predicate_of.get(relation_id, "")
        words = [graph.name(e) for e in ends if e not in answers]
        if words:
            queries.append(" ".join([words[0], predicate.replace("_", " "), *words[1:]]))
    queries += [graph.name(page) for page in task.draft.gold_path if page not in answers]
    return [q for q in dict.fromkeys(queries) if q != task.draft.question]


def answerability(
    tasks: Sequence[Task],
    evidence: dict[str, list[str]],
    graph: KnowledgeGraph,
    search: SearchPassages,
    k: int = 10,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, tuple[int, int]]:
    """task id → (evidence passages found in some query's top k, evidence passages).

    Two rounds keep the searches few: every question first; then the hop queries
    (`task_queries`) of the tasks whose question alone did not reach all their evidence.
    """
    hits: dict[str, frozenset[str]] = {}

    def run(queries: set[str]) -> None:
        pending = sorted(queries - set(hits))
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            for query, found in zip(batch, search(batch, k), strict=True):
                hits[query] = frozenset(found)
            if progress:
                progress(min(start + batch_size, len(pending)), len(pending))

    run({task.draft.question for task in tasks})
    reached = {task.task_id: set(hits[task.draft.question]) for task in tasks}
    unfinished = [t for t in tasks if not set(evidence.get(t.task_id, [])) <= reached[t.task_id]]
    hop_queries = {task.task_id: task_queries(task, graph) for task in unfinished}
    run({query for queries in hop_queries.values() for query in queries})
    for task_id, queries in hop_queries.items():
        for query in queries:
            reached[task_id] |= hits[query]
    return {
        task.task_id: (
            sum(p in reached[task.task_id] for p in evidence.get(task.task_id, [])),
            len(evidence.get(task.task_id, [])),
        )
        for task in tasks
    }
