"""A tiny hand-built world for policy tests: five entities, their Factbook-like pages, the
graph over them, task rows made by the real `finalize`, and scripted tools that answer in
the real tools' formats (no index, no embedder).

`PageTools` ranks pages for a query by shared words with the title and text (title words
count double), unless a test fixes the ranking of a query in `rankings`; pages listed in
`unreadable` answer a visit as the real tool answers an unknown URL, and `edits` replaces a
page's text (a page that lost its fact).
"""

import asyncio
import re
from collections.abc import Sequence

import polars as pl

from agents.paradigms import EpisodeLimits, PromptSettings, ReAct, run_episode
from agents.policy import EpisodeTask, TokenCounter
from agents.prompts import NO_FEW_SHOT
from agents.tool_runner import ToolRunner
from lakehouse.index.search_index import Hit
from lakehouse.index.tools import RESULT_SEPARATOR, format_search_output
from lakehouse.synthesis import spec as S
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.tasks import TaskDraft, finalize

FB = "https://www.cia.gov/the-world-factbook/countries/"
WP = "https://en.wikipedia.org/wiki/"
ENTITIES = [
    # id, name, type, own doc, url, aliases
    ("e_fr", "France", "country", "d_fr", f"{WP}France", ["France", "French Republic"]),
    ("e_es", "Spain", "country", "d_es", f"{WP}Spain", ["Spain", "Kingdom of Spain"]),
    ("e_de", "Germany", "country", "d_de", f"{WP}Germany", ["Germany"]),
    ("e_pa", "Paris", "place", "d_pa", f"{WP}Paris", ["Paris"]),
    ("e_ma", "Madrid", "place", "d_ma", f"{WP}Madrid", ["Madrid"]),
]
DOCUMENTS = [
    ("d_fr", f"{WP}France", "France", "France is a country in Western Europe."),
    ("d_es", f"{WP}Spain", "Spain", "Spain is a country in southwestern Europe."),
    ("d_de", f"{WP}Germany", "Germany", "Germany is a country in Central Europe."),
    ("d_pa", f"{WP}Paris", "Paris", "Paris is a large city on the Seine."),
    ("d_ma", f"{WP}Madrid", "Madrid", "Madrid is a large city in the centre of Iberia."),
    (
        "d_fr_fb",
        f"{FB}france/",
        "France",
        "The capital of France is Paris. France borders Germany (451 km) and Spain "
        "(646 km). The population of France is 68,374,591 (2025 est.).",
    ),
    (
        "d_es_fb",
        f"{FB}spain/",
        "Spain",
        "The capital of Spain is Madrid. Spain borders France (646 km). The population of "
        "Spain is 47,280,433 (2025 est.).",
    ),
    (
        "d_de_fb",
        f"{FB}germany/",
        "Germany",
        "Germany borders France (451 km). The population of Germany is 84,075,075 (2025 est.).",
    ),
]
RELATIONS = [
    # id, subject, predicate, object, value, type, number, unit, doc
    ("r_cap_fr", "e_fr", "capital", "e_pa", "Paris", "entity", None, None, "d_fr_fb"),
    ("r_cap_es", "e_es", "capital", "e_ma", "Madrid", "entity", None, None, "d_es_fb"),
    ("r_fr_es", "e_fr", "borders", "e_es", "Spain", "entity", 646.0, "km", "d_fr_fb"),
    ("r_es_fr", "e_es", "borders", "e_fr", "France", "entity", 646.0, "km", "d_es_fb"),
    ("r_fr_de", "e_fr", "borders", "e_de", "Germany", "entity", 451.0, "km", "d_fr_fb"),
    ("r_de_fr", "e_de", "borders", "e_fr", "France", "entity", 451.0, "km", "d_de_fb"),
    ("r_pop_fr", "e_fr", "population", None, "68374591 people", "quantity", 68374591.0,
     "people", "d_fr_fb"),
    ("r_pop_es", "e_es", "population", None, "47280433 people", "quantity", 47280433.0,
     "people", "d_es_fb"),
    ("r_pop_de", "e_de", "population", None, "84075075 people", "quantity", 84075075.0,
     "people", "d_de_fb"),
]  # fmt: skip


def entities_frame() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "entity_id": e,
                "name": name,
                "description": None,
                "entity_type": kind,
                "doc_id": doc,
                "url": url,
                "aliases": aliases,
            }
            for e, name, kind, doc, url, aliases in ENTITIES
        ]
    )


def documents_frame(edits: dict[str, str] | None = None) -> pl.DataFrame:
    edits = edits or {}
    return pl.DataFrame(
        [
            {"doc_id": d, "url": url, "title": title, "text": edits.get(d, text)}
            for d, url, title, text in DOCUMENTS
        ]
    )


def relations_frame() -> pl.DataFrame:
    rows = []
    for rid, subject, predicate, obj, value, kind, number, unit, doc in RELATIONS:
        rows.append(
            {
                "relation_id": rid,
                "subject_id": subject,
                "predicate": predicate,
                "object_id": obj,
                "object_type": kind,
                "object_value": value,
                "number": number,
                "unit": unit,
                "confidence": 1.0,
                "extractor": "factbook",
                "doc_id": doc,
                "sentence_id": None,
            }
        )
    return pl.DataFrame(rows)


def graph() -> KnowledgeGraph:
    return KnowledgeGraph.from_tables(entities_frame(), relations_frame())


def task_row(
    world_graph: KnowledgeGraph,
    spec: S.Spec,
    kind: str,
    question: str,
    answer_type: str,
    expected: frozenset[str] | str,
    task_id: str = "qa_test",
) -> dict:
    """A qa_tasks-like row for a spec, with the answer and evidence `finalize` computes."""
    draft = TaskDraft(
        generator="test",
        generator_version="test-1",
        kind=kind,
        question=question,
        spec=spec,
        answer_type=answer_type,
        expected=expected,
        seed=0,
        template="test",
    )
    task = finalize(draft, world_graph)
    return {
        "task_id": task_id,
        "question": question,
        "answer": task.answer,
        "answer_aliases": task.answer_aliases,
        "answer_type": answer_type,
        "answer_entity_ids": task.answer_entity_ids,
        "kind": kind,
        "spec": S.canonical(spec),
        "hops": task.hops,
        "obfuscations": "[]",
        "gold_entity_ids": task.gold_entity_ids,
        "gold_path": [],
        "evidence_relation_ids": task.evidence_relation_ids,
        "evidence_doc_ids": task.evidence_doc_ids,
        "evidence_passage_ids": [],
    }


class PageTools:
    """Scripted `search` and `visit` over the tiny world's pages (module docstring)."""

    def __init__(
        self,
        documents: pl.DataFrame,
        rankings: dict[str, Sequence[str]] | None = None,
        unreadable: Sequence[str] = (),
        noisy: bool = False,
    ) -> None:
        self.pages = {row["doc_id"]: row for row in documents.iter_rows(named=True)}
        self.by_url = {row["url"]: row for row in self.pages.values()}
        self.rankings = dict(rankings or {})
        self.unreadable = set(unreadable)
        self.noisy = noisy  # every answer differs from the last (a non-deterministic tool)
        self.calls: list[tuple[str, object]] = []

    def _rank(self, query: str) -> list[str]:
        if query in self.rankings:
            return list(self.rankings[query])
        words = set(re.findall(r"\w+", query.lower()))

        def score(doc_id: str) -> tuple[int, str]:
            page = self.pages[doc_id]
            title = set(re.findall(r"\w+", page["title"].lower()))
            text = set(re.findall(r"\w+", page["text"].lower()))
            return (-(2 * len(words & title) + len(words & text)), doc_id)

        return [d for d in sorted(self.pages, key=score) if score(d)[0] < 0]

    def search_tool(self, queries, k=10, block=None, mode="hybrid", snippet_chars=300) -> str:
        self.calls.append(("search", list(queries)))
        results = []
        for query in queries:
            hits = [
                Hit(
                    f"p_{d}",
                    d,
                    self.pages[d]["url"],
                    self.pages[d]["title"],
                    self.pages[d]["text"],
                    1.0,
                )
                for d in self._rank(query)[:k]
            ]
            results.append(hits)
        text = format_search_output(list(queries), results)
        return text + (f"\n\n(call {len(self.calls)})" if self.noisy else "")

    def visit_tool(self, url, goal, page=0, page_chars=6000, block=None) -> str:
        self.calls.append(("visit", url))
        urls = [url] if isinstance(url, str) else list(url)
        parts = []
        for one in urls:
            header = f"The useful information in {one} for user goal {goal} as follows: \n\n"
            found = self.by_url.get(one)
            if found is None or found["doc_id"] in self.unreadable:
                parts.append(
                    header + "Evidence in page: \nThe provided webpage content could not be "
                    "accessed: no page with this URL is known. Please check the URL.\n\n"
                )
            else:
                parts.append(
                    header + f"Title: {found['title']}\n\nEvidence in page: \n{found['text']}\n\n"
                )
        return RESULT_SEPARATOR.join(parts)


LIMITS = EpisodeLimits(max_turns=30, max_context_tokens=100_000, turn_tokens=512)


def run(task: dict, actor, tools: PageTools, paradigm=None, limits: EpisodeLimits = LIMITS):
    """One episode of `actor` on the row with ReAct (no few-shot) and the scripted tools."""
    episode_task = EpisodeTask(task["task_id"], task["question"], task)
    paradigm = paradigm or ReAct(PromptSettings(few_shot=NO_FEW_SHOT))
    episode = asyncio.run(
        run_episode(episode_task, actor, paradigm, ToolRunner(tools), TokenCounter(), limits)
    )
    episode.extra.update(actor.notes)
    return episode
