"""From a generator's draft to a task whose answer is computed, not written.

Every generator returns `TaskDraft`s: a question, the spec it verbalizes and the answer
the generator expects. `finalize` executes the spec on the graph and keeps the draft only
when execution gives exactly that answer (one entity for entity tasks, a defined value for
literal tasks, the exact set for set tasks), then derives everything else from the result:
the answer text and aliases, the gold entities (the spec's anchors, every entity on the
evidence relations, and the answer), the evidence relations, documents and sentences, the
hop count and a difficulty estimate. Nothing about the answer is taken on trust from the
generator.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any

from lakehouse.ids import stable_id
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import Result, Spec, canonical, constants, execute, hops

ENTITY = "entity"
SET = "set"
DATE = "date"
NUMBER = "number"
ANSWER_TYPES = (ENTITY, SET, DATE, NUMBER)
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass
class TaskDraft:
    """A generated question and the spec it says, before execution checks it."""

    generator: str
    generator_version: str
    kind: str
    question: str
    spec: Spec
    answer_type: str  # one of ANSWER_TYPES
    expected: frozenset[str] | str  # entity ids (entity/set tasks) or the literal value
    seed: int
    template: str  # which template (or prompt) produced the question
    obfuscations: list[dict[str, Any]] = field(default_factory=list)
    gold_path: list[str] = field(default_factory=list)  # entity ids of a traversal's pages
    # Who wrote the question: the templates, or the LLM verbalizer (with its model, prompt
    # template hash and sampling parameters as JSON).
    verbalizer: str = "templates"
    verbalizer_model: str | None = None
    prompt_hash: str | None = None
    sampling: str | None = None


@dataclass
class Task:
    """A task whose answer was computed by executing its spec."""

    draft: TaskDraft
    task_id: str
    answer: str
    answer_aliases: list[str]
    answer_entity_ids: list[str]
    gold_entity_ids: list[str]
    evidence_relation_ids: list[str]
    evidence_doc_ids: list[str]
    evidence_sentence_ids: list[str]
    hops: int
    difficulty: float


class Rejected(ValueError):
    """A draft whose spec does not give the expected answer; the reason names the check."""


def task_id_of(draft: TaskDraft) -> str:
    return stable_id("qa", draft.generator, canonical(draft.spec), draft.question)


def finalize(draft: TaskDraft, graph: KnowledgeGraph) -> Task:
    """The task of a draft; Rejected when execution does not give the expected answer."""
    if draft.answer_type not in ANSWER_TYPES:
        raise Rejected(f"answer type {draft.answer_type!r} is not one of {ANSWER_TYPES}")
    result = execute(draft.spec, graph)
    answer_entities = _check_answer(draft, result)
    evidence = sorted(result.evidence())
    sources = [graph.evidence[r] for r in evidence if r in graph.evidence]
    on_relations = _relation_entities(graph, evidence)
    gold = list(dict.fromkeys([*constants(draft.spec), *on_relations, *answer_entities]))
    gold += [page for page in draft.gold_path if page not in gold]
    if answer_entities:
        answer = "; ".join(graph.name(e) for e in sorted(answer_entities, key=graph.name))
        aliases = _entity_aliases(graph, answer_entities) if len(answer_entities) == 1 else []
    else:
        answer, aliases = literal_answer(str(draft.expected), draft.answer_type, result.number)
    docs = list(dict.fromkeys(s.doc_id for s in sources if s.doc_id))
    for page in draft.gold_path:
        if graph.doc_of.get(page) and graph.doc_of[page] not in docs:
            docs.append(graph.doc_of[page])
    task_hops = max(hops(draft.spec), max(len(draft.gold_path) - 1, 0))
    return Task(
        draft=draft,
        task_id=task_id_of(draft),
        answer=answer,
        answer_aliases=aliases,
        answer_entity_ids=sorted(answer_entities),
        gold_entity_ids=gold,
        evidence_relation_ids=evidence,
        evidence_doc_ids=docs,
        evidence_sentence_ids=list(dict.fromkeys(s.sentence_id for s in sources if s.sentence_id)),
        hops=task_hops,
        difficulty=difficulty(task_hops, len(draft.obfuscations), len(answer_entities), draft),
    )


def _check_answer(draft: TaskDraft, result: Result) -> list[str]:
    """The answer entities (empty for literal tasks) once the result matches the draft."""
    if draft.answer_type in (ENTITY, SET):
        if not result.is_set:
            raise Rejected("spec gives a value, the task expects entities")
        if draft.answer_type == ENTITY and len(result.entities) != 1:
            raise Rejected(f"not unique: {len(result.entities)} entities satisfy the spec")
        if result.entities != frozenset(draft.expected):
            raise Rejected("spec's entities differ from the expected answer")
        return sorted(result.entities)
    if result.is_set or result.value is None:
        raise Rejected("spec gives no value")
    if result.value != draft.expected:
        raise Rejected(f"spec gives {result.value!r}, the draft expected {draft.expected!r}")
    return []


def _relation_entities(graph: KnowledgeGraph, relation_ids: list[str]) -> list[str]:
    found = []
    for relation_id in relation_ids:
        found.extend(graph.relation_entities.get(relation_id, ()))
    return list(dict.fromkeys(found))


def _entity_aliases(graph: KnowledgeGraph, entity_ids: list[str]) -> list[str]:
    (entity_id,) = entity_ids
    name = graph.name(entity_id)
    stripped = re.sub(r"\s*\([^)]*\)$", "", name)
    aliases = [stripped, *graph.aliases.get(entity_id, [])]
    return [alias for alias in dict.fromkeys(aliases) if alias and alias != name]


def literal_answer(
    value: str, answer_type: str, number: float | None = None
) -> tuple[str, list[str]]:
    """The answer text of a literal and the other ways to write it.

    "68374591 people" → "68,374,591" (aliases "68374591", "68.4 million");
    "1958-05-09" → "9 May 1958" (aliases "1958-05-09", "May 9, 1958"); "640 sq km" →
    "640 sq km" (alias "640"). `number` is the value as a number where the fact has one
    (the stored text may be in scientific notation: "4.22757e+06 people").
    """
    if answer_type == DATE and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        year, month, day = (int(part) for part in value.split("-"))
        month_name = MONTH_NAMES[month - 1]
        return f"{day} {month_name} {year}", [value, f"{month_name} {day}, {year}"]
    parsed = re.fullmatch(r"(-?[\d.]+(?:e[+-]?\d+)?)(?:\s+(.+))?", value)
    if answer_type != NUMBER or not parsed:
        return value, []
    unit = parsed.group(2)
    number = float(parsed.group(1)) if number is None else number
    written = f"{number:,.0f}" if number.is_integer() else f"{number:,.6g}"
    plain = f"{number:.0f}" if number.is_integer() else f"{number:.6g}"
    aliases = [plain, written]
    if number >= 1e6:
        aliases.append(f"{number / 1e6:.1f} million")
    text = written if unit in (None, "people") else f"{written} {unit}"
    return text, [alias for alias in dict.fromkeys([*aliases, value]) if alias != text]


def difficulty(task_hops: int, obfuscations: int, answer_size: int, draft: TaskDraft) -> float:
    """A 0-1 estimate: hops and obfuscations dominate, big answer sets add, literal-only
    lookups are easiest. 1 hop, nothing hidden ≈ 0.2; 3 hops with 2 obfuscations ≈ 0.7."""
    raw = 0.5 * task_hops + 0.4 * obfuscations + 0.3 * math.log2(max(answer_size, 1))
    if draft.kind in ("comparative", "analytical"):
        raw += 0.3  # an extra step: compare or aggregate what was found
    return round(1 - math.exp(-raw / 2.2), 3)
