"""A task's research plan (FAS planning-action synthesis): which pages to find, in what
order, and what each must say, derived from the task's spec, evidence and the graph.

The plan is privileged (it is made from the answer's derivation), but it is only a plan:
the planner actor (agents/policies/planner.py) still has to find every page through the
search tool and see every fact in the text the visit tool returns.

1. Derivation: executing the spec backwards from the answer gives, in post-order, the
   relations (evidence) that put the answer where it is: innermost first ("the country
   whose capital is Ouagadougou" before "the country bordering it"). Count and superlative
   tasks derive every member; traversals add the page links of their gold path.
2. Hops, greedily in derivation order: the first pending relation with a known end (a name
   the question gives, or an entity an earlier hop found) becomes a hop from that end (the
   anchor). A hop reads one page: it also takes every pending relation that page states
   about the anchor or what the hop finds (a country's borders all at once). When no pending
   relation has a known end, an obfuscated entity of the question is identified first by
   searching for its description (`IDENTIFY`); the most searchable obfuscation kind first.
3. The final step: a count or a superlative is computed (`Compute`), a set is listed, an
   entity or a value is answered.

A task the plan cannot cover fails with a named class: `UNSUPPORTED_KIND` (a kind or an op
the planner does not know) or `UNPLANNABLE` (the evidence does not connect to the question's
names, or a fact has no page that states it).
"""

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from lakehouse.synthesis.graph import MENTIONS_PREDICATE, SYMMETRIC_EDGE_PREDICATES, KnowledgeGraph
from lakehouse.synthesis.obfuscate import article
from lakehouse.synthesis.spec import Spec, SpecError, canonical, constants, execute, hops
from lakehouse.synthesis.tasks import DATE, NUMBER, literal_answer
from lakehouse.synthesis.verbalize import noun

RELATION = "relation"  # read a fact about a known entity on a page that states it
IDENTIFY = "identify"  # find the entity an obfuscated phrase of the question stands for
UNSUPPORTED_KIND = "unsupported_kind"
UNPLANNABLE = "unplannable"
# Every kind qa_tasks holds (lakehouse/tables.py QA_TASKS "kind").
SUPPORTED_KINDS = frozenset(
    {
        "factual",
        "comparative",
        "multi_hop",
        "analytical",
        "formal",
        "fuzzy_multi_hop",
        "fuzzy_intersection",
        "set_basic",
        "set_union",
        "set_reverse_union",
        "traversal",
    }
)
COMPUTED_OPS = ("count", "argmax", "argmin")
# Which obfuscated entity to identify first when nothing else is known: a description can
# be searched for, a year or number range somewhat, a name prefix or a bare type hardly.
IDENTIFY_ORDER = {
    "description": 0,
    "date_range": 1,
    "approximate_number": 1,
    "attribute_range": 1,
    "name_prefix": 3,
    "type": 4,
}
MIN_FORM_CHARS = 3  # shorter aliases are found inside unrelated text (acronyms excepted)


@dataclass(frozen=True)
class Sources:
    """What the planner knows about pages: URLs and titles, whose page each is, and which
    pages state each fact (a border is on both countries' profiles)."""

    url_of: Mapping[str, str]  # doc id → url
    title_of: Mapping[str, str]  # doc id → title
    doc_of_url: Mapping[str, str]  # url → doc id
    owner_of: Mapping[str, str]  # doc id → the entity the page is about
    pages_of: Mapping[str, tuple[str, ...]]  # entity → its own pages
    stating: Mapping[str, frozenset[str]]  # relation id → every doc stating the same fact
    mention_of: Mapping[tuple[str, str], str]  # (page entity, linked entity) → relation id

    @classmethod
    def from_tables(
        cls, graph: KnowledgeGraph, documents: pl.DataFrame, relations: pl.DataFrame
    ) -> "Sources":
        """The sources of a lakehouse's `documents` and `relations` tables."""
        url_of, title_of = {}, {}
        for doc_id, url, title in documents.select("doc_id", "url", "title").iter_rows():
            url_of[doc_id], title_of[doc_id] = url, title or ""
        owner_of: dict[str, str] = {}
        pages: dict[str, list[str]] = defaultdict(list)
        for entity_id, doc_id in sorted(graph.doc_of.items()):
            if doc_id and doc_id in url_of:
                owner_of.setdefault(doc_id, entity_id)
                pages[entity_id].append(doc_id)
        rows = relations.select(
            "relation_id", "subject_id", "predicate", "object_id", "object_value", "doc_id",
            "extractor",
        )  # fmt: skip
        by_fact: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        key_of: dict[str, tuple[str, str, str]] = {}
        mention_of: dict[tuple[str, str], str] = {}
        for rid, subject, predicate, obj, value, doc_id, extractor in rows.sort(
            "relation_id"
        ).iter_rows():
            key = (subject, predicate, obj or value or "")
            key_of[rid] = key
            if doc_id:
                by_fact[key].add(doc_id)
                if predicate in SYMMETRIC_EDGE_PREDICATES and obj:
                    by_fact[(obj, predicate, subject)].add(doc_id)
            factbook_page = extractor == "factbook" and doc_id and doc_id in url_of
            owned = factbook_page and owner_of.setdefault(doc_id, subject) == subject
            if owned and doc_id not in pages[subject]:
                pages[subject].append(doc_id)
            if predicate == MENTIONS_PREDICATE and obj:
                mention_of.setdefault((subject, obj), rid)
        stating = {rid: frozenset(by_fact.get(key, ())) for rid, key in key_of.items()}
        return cls(
            url_of=url_of,
            title_of=title_of,
            doc_of_url={url: doc for doc, url in url_of.items()},
            owner_of=owner_of,
            pages_of={entity: tuple(docs) for entity, docs in pages.items()},
            stating=stating,
            mention_of=mention_of,
        )

    def urls(self, doc_ids: Sequence[str] | frozenset[str]) -> list[str]:
        """The URLs of the given documents (those that have one), sorted."""
        return sorted(self.url_of[d] for d in doc_ids if d in self.url_of)


@dataclass(frozen=True)
class Target:
    """One fact a hop's page must state: a relation, and what of it must be written there
    (the name of the entity at its other end, or the literal value)."""

    relation_id: str | None  # None: an obfuscated entity's own description or name
    subject: str
    predicate: str
    obj: str | None  # the object entity; None for a literal value
    seek: str | None  # the entity whose name must be found; None for a literal
    literal: str | None  # the value as the answer writes it
    number: float | None
    forms: tuple[str, ...]  # any of these written in the page confirms the fact


@dataclass(frozen=True)
class Hop:
    """One page to find and read: the entity it is about, the facts it must state."""

    index: int
    kind: str  # RELATION or IDENTIFY
    anchor: str  # the entity the search is about (its name goes into the query)
    predicate: str  # the main relation the hop reads
    forward: bool  # the anchor is the subject of the main relation
    targets: tuple[Target, ...]
    docs: frozenset[str]  # pages that state every target (any one is useful)
    finds: tuple[str, ...]  # entities first known through this hop
    given_url: str | None = None  # the question gives this page's URL: visit it directly
    phrase: str | None = None  # IDENTIFY: the question's words for the anchor


@dataclass(frozen=True)
class Compute:
    """The arithmetic after the hops: count the members or pick the extreme one."""

    op: str  # "count", "argmax" or "argmin"
    attribute: str | None
    members: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """How the planner will research one task."""

    task_id: str
    kind: str
    question: str
    answer: str
    answer_type: str
    answer_entities: tuple[str, ...]
    hops: tuple[Hop, ...] = ()
    compute: Compute | None = None
    excluded: tuple[str, ...] = ()  # given members left out of a reverse-union answer
    phrases: Mapping[str, str] = field(default_factory=dict)  # entity → the question's words
    failure: str | None = None  # UNSUPPORTED_KIND or UNPLANNABLE
    detail: str | None = None


# --- written forms


def strip_parenthetical(name: str) -> str:
    """ "Georgia (country)" → "Georgia"."""
    return re.sub(r"\s*\([^)]*\)$", "", name).strip()


def entity_forms(graph: KnowledgeGraph, entity_id: str) -> tuple[str, ...]:
    """The ways a page may write an entity's name: the name, without its parenthetical,
    without " language" for a language, then its aliases."""
    name = graph.name(entity_id)
    forms = [name, strip_parenthetical(name)]
    if graph.types.get(entity_id) == "language" and name.endswith(" language"):
        forms.append(name.removesuffix(" language"))
    forms += graph.aliases.get(entity_id, [])
    return tuple(
        f
        for f in dict.fromkeys(forms)
        if len(f.strip()) >= MIN_FORM_CHARS or (f.isupper() and f.isalpha() and len(f) >= 2)
    )


def literal_forms(
    value: str, object_type: str, number: float | None
) -> tuple[str, tuple[str, ...]]:
    """The value as an answer writes it, and every written form that confirms it:
    "8925741 people" → "8,925,741" with "8,925,741", "8925741", "8.9 million"; "1958-05-09"
    → "9 May 1958" with "May 9, 1958" and "1958-05-09"."""
    answer_type = DATE if object_type in ("year", "date") else NUMBER
    text, aliases = literal_answer(value, answer_type, number)
    forms = [text, *aliases, value]
    if number is not None and number.is_integer() and answer_type == NUMBER:
        forms += [f"{number:,.0f}", f"{number:.0f}"]
    forms = [f.removesuffix(" people") for f in forms]
    return text.removesuffix(" people"), tuple(dict.fromkeys(f for f in forms if f))


def context_forms(target: "Target", graph: KnowledgeGraph) -> tuple[str, ...]:
    """The names of a target's other end (the subject of a literal), which the sentence
    stating the fact should also name."""
    other = target.subject if target.seek != target.subject else target.obj
    return entity_forms(graph, other) if other else ()


# --- derivation


class _Deriver:
    """The relations behind an answer, innermost first (see the module docstring)."""

    def __init__(
        self, graph: KnowledgeGraph, sources: Sources, evidence: set[str], path: list[str]
    ):
        self.graph = graph
        self.sources = sources
        self.evidence = evidence
        self.path = path
        self.out: list[str] = []
        self.leaves: dict[str, Spec] = {}  # entity → the obfuscated `where` it stands for
        self._members: dict[str, frozenset[str]] = {}

    def members(self, node: Spec) -> frozenset[str]:
        """The entities a set node executes to (memoized per node)."""
        key = canonical(node)
        if key not in self._members:
            self._members[key] = execute(node, self.graph).entities or frozenset()
        return self._members[key]

    def fact(self, entity: str, predicate: str) -> None:
        """Derive the one fact of an attribute (a value, a superlative's member)."""
        found = self.graph.fact(entity, predicate)
        if found is None:
            raise _Unplannable(f"{self.graph.name(entity)} has no one value of {predicate}")
        self.out.append(found.relation_id)

    def root(self, spec: Spec, answers: Sequence[str]) -> None:
        """Derive the whole answer: a literal's subject and fact, every counted member, or
        each answer entity."""
        op = spec["op"]
        if op == "value":
            members = self.members(spec["of"])
            if len(members) != 1:
                raise _Unplannable("the value's subject is not one entity")
            (member,) = members
            self.derive(spec["of"], member)
            self.fact(member, spec["attribute"])
        elif op == "count":
            for member in sorted(self.members(spec["of"]), key=self.graph.name):
                self.derive(spec["of"], member)
        else:
            for answer in answers:
                self.derive(spec, answer)

    def derive(self, node: Spec, entity: str) -> None:
        """Append, in post-order, the relations that put `entity` in `node`'s set."""
        op = node["op"]
        if op == "entity":
            return
        if op == "edge":
            self._edge(node, entity)
        elif op == "and":
            # Nested parts first: "the country whose capital is Ouagadougou" is found before
            # a named neighbour is checked, as a solver works from the inside out.
            for part in sorted(node["of"], key=lambda p: -hops(p)):
                self.derive(part, entity)
        elif op == "or":
            part = next((p for p in node["of"] if entity in self.members(p)), None)
            if part is None:
                raise _Unplannable("no operand of a union holds the entity")
            self.derive(part, entity)
        elif op == "minus":
            self.derive(node["of"][0], entity)
        elif op == "where":
            if "of" in node:
                self.derive(node["of"], entity)
            else:  # an obfuscated constant: the witness execution chose for it
                self.leaves.setdefault(entity, node)
            if node.get("attribute"):
                self.fact(entity, node["attribute"]["predicate"])
        elif op in ("argmax", "argmin"):
            for member in sorted(self.members(node["of"]), key=self.graph.name):
                self.derive(node["of"], member)
                self.fact(member, node["attribute"])
        elif op == "reachable":
            self._walk(node, entity)
        else:
            raise SpecError(f"the planner cannot derive op {op!r}")

    def _edge(self, node: Spec, entity: str) -> None:
        predicate, direction = node["predicate"], node.get("direction", "subjects")
        inner = self.members(node["of"])
        neighbours = (
            self.graph.objects_of(entity, predicate)
            if direction == "subjects"
            else self.graph.subjects_of(predicate, entity)
        )
        witnesses = sorted((m, rid) for m, rid in neighbours.items() if m in inner)
        if not witnesses:
            raise _Unplannable(f"no {predicate} edge puts {self.graph.name(entity)} there")
        member, rid = next(((m, r) for m, r in witnesses if r in self.evidence), witnesses[0])
        self.derive(node["of"], member)
        self.out.append(rid)

    def _walk(self, node: Spec, entity: str) -> None:
        path = self.path
        if not path or path[0] != node["root"] or path[-1] != entity:
            raise _Unplannable("the traversal has no gold path from its root to the target")
        for page, linked in itertools.pairwise(path):
            rid = self.sources.mention_of.get((page, linked))
            if rid is None:
                raise _Unplannable(
                    f"no link from {self.graph.name(page)} to {self.graph.name(linked)}"
                )
            self.out.append(rid)


class _Unplannable(Exception):
    """The evidence cannot be turned into hops (the message says why)."""


# --- hops


def _ends(graph: KnowledgeGraph, relation_id: str) -> tuple[str, ...]:
    return graph.relation_entities.get(relation_id, ())


def _target(graph: KnowledgeGraph, relation_id: str, anchor: str, page_owner: str | None) -> Target:
    """What of a relation its page must state, read from the anchor's side."""
    predicate = graph.predicate_of[relation_id]
    ends = _ends(graph, relation_id)
    subject = ends[0]
    if len(ends) == 1:  # a literal fact
        fact = next(
            (f for f in graph.facts.get((subject, predicate), []) if f.relation_id == relation_id),
            None,
        ) or graph.fact(subject, predicate)
        if fact is None:
            raise _Unplannable(f"fact {relation_id} is not in the graph")
        literal, forms = literal_forms(fact.value, fact.object_type, fact.number)
        return Target(relation_id, subject, predicate, None, None, literal, fact.number, forms)
    obj = ends[1]
    if anchor in ends:
        seek = obj if anchor == subject else subject
    else:
        seek = obj if page_owner == subject else subject if page_owner == obj else obj
    return Target(relation_id, subject, predicate, obj, seek, None, None, entity_forms(graph, seek))


def _obfuscations(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """entity → its obfuscation record (sailorfog writes "entity_id", the others "entity")."""
    found = {}
    for record in json.loads(row.get("obfuscations") or "[]"):
        entity_id = record.get("entity_id") or record.get("entity")
        if entity_id:
            found[entity_id] = record
    return found


def _build_hops(
    graph: KnowledgeGraph,
    sources: Sources,
    order: list[str],
    known: set[str],
    hidden: dict[str, dict[str, Any]],
    given_urls: set[str],
) -> list[Hop]:
    """Hops that confirm every relation of `order` from the known names (module docstring)."""
    pending = list(dict.fromkeys(order))
    hops: list[Hop] = []
    while pending:
        if len(hops) > 2 * len(order):  # every hop settles a relation or names an entity
            raise _Unplannable("the hops do not converge")
        chosen = next((r for r in pending if set(_ends(graph, r)) & known), None)
        if chosen is None:
            hop = _identify_hop(graph, sources, pending, known, hidden, len(hops))
        else:
            hop = _relation_hop(graph, sources, pending, known, chosen, len(hops), given_urls)
        hops.append(hop)
        done = {t.relation_id for t in hop.targets}
        pending = [r for r in pending if r not in done]
        known |= {hop.anchor, *hop.finds}
        for target in hop.targets:
            known |= {e for e in (target.subject, target.obj) if e}
    return hops


def _relation_hop(
    graph: KnowledgeGraph,
    sources: Sources,
    pending: list[str],
    known: set[str],
    chosen: str,
    index: int,
    given_urls: set[str],
) -> Hop:
    ends = _ends(graph, chosen)
    docs = sources.stating.get(chosen, frozenset())
    if not docs:
        raise _Unplannable(f"no page states relation {chosen}")
    candidates = [e for e in ends if e in known]
    anchor = next((e for e in candidates if set(sources.pages_of.get(e, ())) & docs), candidates[0])
    own = [d for d in sources.pages_of.get(anchor, ()) if d in docs]
    evidence_doc = graph.evidence[chosen].doc_id if chosen in graph.evidence else None
    page = own[0] if own else evidence_doc if evidence_doc in docs else sorted(docs)[0]
    group = [chosen]
    found = [e for e in ends if e not in known]
    grown = True
    while grown:
        grown = False
        for rid in pending:
            if rid in group or page not in sources.stating.get(rid, frozenset()):
                continue
            if set(_ends(graph, rid)) & (known | set(found)):
                group.append(rid)
                found += [e for e in _ends(graph, rid) if e not in known and e not in found]
                grown = True
    page_docs = frozenset.intersection(*(sources.stating[rid] for rid in group))
    owner = sources.owner_of.get(page)
    given = next(
        (sources.url_of[d] for d in page_docs if sources.url_of.get(d) in given_urls), None
    )
    return Hop(
        index=index,
        kind=RELATION,
        anchor=anchor,
        predicate=graph.predicate_of[chosen],
        forward=ends[0] == anchor,
        targets=tuple(_target(graph, rid, anchor, owner) for rid in group),
        docs=page_docs,
        finds=tuple(found),
        given_url=given,
    )


def _identify_hop(
    graph: KnowledgeGraph,
    sources: Sources,
    pending: list[str],
    known: set[str],
    hidden: dict[str, dict[str, Any]],
    index: int,
) -> Hop:
    touching = [e for rid in pending for e in _ends(graph, rid) if e in hidden and e not in known]
    if not touching:
        raise _Unplannable("no pending fact touches a known name or an obfuscated entity")
    position = {e: i for i, e in reversed(list(enumerate(touching)))}
    leaf = min(
        dict.fromkeys(touching),
        key=lambda e: (IDENTIFY_ORDER.get(hidden[e].get("kind", ""), 2), position[e]),
    )
    record = hidden[leaf]
    pages = frozenset(sources.pages_of.get(leaf, ()))
    if not pages:
        raise _Unplannable(f"{graph.name(leaf)} has no page of its own")
    facts = [
        rid
        for rid in pending
        if _ends(graph, rid) == (leaf,) and sources.stating.get(rid, frozenset()) & pages
    ]
    if facts:
        docs = frozenset.intersection(pages, *(sources.stating[rid] for rid in facts))
        if not docs:
            facts, docs = facts[:1], pages & sources.stating[facts[0]]
        owner = sources.owner_of.get(sorted(docs)[0])
        targets = tuple(_target(graph, rid, leaf, owner) for rid in facts)
    else:
        docs = pages
        description = graph.descriptions.get(leaf)
        forms = (
            (description,)
            if record.get("kind") == "description" and description
            else entity_forms(graph, leaf)
        )
        targets = (Target(None, leaf, "description", None, leaf, None, None, forms),)
    return Hop(
        index=index,
        kind=IDENTIFY,
        anchor=leaf,
        predicate=targets[0].predicate,
        forward=True,
        targets=targets,
        docs=docs,
        finds=(leaf,),
        phrase=record.get("shown"),
    )


def _leaf_record(graph: KnowledgeGraph, entity: str, node: Spec) -> dict[str, Any]:
    """An obfuscation record for a witness of an obfuscated `where` that the task's own
    records do not name (execution may pick another member than the generator's entity):
    its kind, and the question's wording as a phrase ("a country that has a name ...")."""
    kind = (
        "description"
        if node.get("description")
        else "name_prefix"
        if node.get("name_prefix")
        else "approximate_number"
        if node.get("attribute")
        else "type"
    )
    head = noun(node.get("type") or graph.types.get(entity))
    wording = node.get("wording")
    shown = f"{article(head)} {head} that {wording}" if wording else f"{article(head)} {head}"
    return {"kind": kind, "entity_id": entity, "shown": shown}


def make_plan(row: Mapping[str, Any], graph: KnowledgeGraph, sources: Sources) -> Plan:
    """The plan of one qa_tasks row; a plan with `failure` set when it cannot be made."""
    answers = tuple(row.get("answer_entity_ids") or ())
    base = {
        "task_id": row["task_id"],
        "kind": row["kind"],
        "question": row["question"],
        "answer": row["answer"],
        "answer_type": row["answer_type"],
        "answer_entities": answers,
    }
    if row["kind"] not in SUPPORTED_KINDS:
        return Plan(**base, failure=UNSUPPORTED_KIND, detail=f"kind {row['kind']!r}")
    spec = json.loads(row["spec"])
    hidden = _obfuscations(row)
    # "the same country" of a reverse union reads badly out of its sentence: say the relation.
    phrases = {
        e: r["shown"]
        for e, r in hidden.items()
        if r.get("shown") and r.get("kind") != "anchor_from_members"
    }
    evidence = set(row.get("evidence_relation_ids") or ())
    path = list(row.get("gold_path") or ())
    deriver = _Deriver(graph, sources, evidence, path)
    try:
        deriver.root(spec, answers)
        for entity, node in deriver.leaves.items():
            if entity not in hidden:
                hidden[entity] = _leaf_record(graph, entity, node)
                phrases[entity] = hidden[entity]["shown"]
        order = deriver.out + sorted(evidence - set(deriver.out))
        known = set(constants(spec)) - set(hidden)
        urls = set(re.findall(r"https?://[^\s)]+", row["question"]))
        hops = _build_hops(graph, sources, order, known, hidden, urls)
    except SpecError as error:
        return Plan(**base, phrases=phrases, failure=UNSUPPORTED_KIND, detail=str(error))
    except (_Unplannable, KeyError) as error:
        return Plan(**base, phrases=phrases, failure=UNPLANNABLE, detail=str(error))
    found = set(constants(spec)) | {e for hop in hops for e in (hop.anchor, *hop.finds)}
    found |= {e for hop in hops for t in hop.targets for e in (t.subject, t.obj) if e}
    if not set(answers) <= found:
        return Plan(
            **base, phrases=phrases, failure=UNPLANNABLE, detail="the hops never reach the answer"
        )
    compute = None
    if spec["op"] in COMPUTED_OPS:
        members = sorted(deriver.members(spec["of"]), key=graph.name)
        compute = Compute(spec["op"], spec.get("attribute"), tuple(members))
    excluded: tuple[str, ...] = ()
    if spec["op"] == "minus":
        excluded = tuple(sorted(deriver.members(spec["of"][1]), key=graph.name))
    return Plan(**base, hops=tuple(hops), compute=compute, excluded=excluded, phrases=phrases)
