"""The knowledge graph as the task generators see it: entities, typed edges, facts, links.

`entities` and `relations` become three indexes:

- edges: (subject, predicate, object entity), both ways, for knowledge projections. Only
  relations whose object is an entity, at or above a confidence, and never the weak
  "mentions" edges (a page naming another says nothing a question could ask about);
- facts: (subject, predicate) → literal values (years, dates, quantities). An attribute with
  two different values for one entity is ambiguous and kept out of `numbers`, so that
  comparisons and aggregates are correct by construction;
- links: the page link graph (crawled hyperlinks where the web group recorded them, else the
  knowledge group's page mentions) for website-traversal tasks.

Every edge and fact keeps its relation id, so a task's evidence is a set of relation rows,
and through them sentences, documents and passages.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

MENTIONS_PREDICATE = "mentions"
# The Factbook's typed predicates mean one thing (borders: country → country, capital:
# country → city). A sentence extractor that read a phrase of the same spelling ("the
# cultural capital of Thailand" → "capital") means something else, so only the Factbook's
# rows carry these names in the graph.
FACTBOOK_EDGE_PREDICATES = frozenset({"borders", "capital", "official_language", "language"})
SYMMETRIC_EDGE_PREDICATES = frozenset({"borders"})
# Projections R_p({c}) that are the whole real-world set whenever the graph holds the edge:
# the relation is functional that way (a city is the capital of one country, a person has
# one birthplace). A sentence extractor reads some edges, never all, so a projection over
# its edges the other way ("the people born in Vienna") is never known to be whole, and
# a task must not rely on it being unique.
FUNCTIONAL_PROJECTIONS = frozenset(
    {
        ("capital", "subjects"),  # the country whose capital is c
        ("capital of", "subjects"),  # the capital of country c
        ("capital of", "objects"),  # the country city c is the capital of
        ("born in", "objects"),  # c's birthplace
        ("located in", "objects"),
        ("named after", "objects"),
        ("directed by", "objects"),
        ("written by", "objects"),
        ("founded by", "objects"),
    }
)
# The types a sentence-read edge's ends must have ("the shipbuilding capital of India" is
# no capital): predicate → (subject types, object types); None: any.
EDGE_TYPES: dict[str, tuple[frozenset[str] | None, frozenset[str] | None]] = {
    "capital of": (frozenset({"place"}), frozenset({"country", "place"})),
    "born in": (frozenset({"person"}), frozenset({"place", "country"})),
    "located in": (None, frozenset({"place", "country"})),
    "flows through": (frozenset({"place"}), frozenset({"place", "country"})),
    "bordered by": (frozenset({"country", "place"}), frozenset({"country", "place"})),
    "directed by": (frozenset({"work"}), frozenset({"person"})),
    "written by": (frozenset({"work"}), frozenset({"person"})),
    "founded by": (None, frozenset({"person"})),
}
# Quantities read from sentences mix measures (a city's population with its metro area's)
# and subjects ("Sweden ... 2,000 m high" is a mountain's): only the Factbook's are facts a
# task may ask for. Years read from life spans are kept.
TRUSTED_QUANTITY_EXTRACTORS = frozenset({"factbook"})
QUANTITY_TYPES = frozenset({"quantity", "number"})
ENTITY_OBJECT = "entity"
# Factbook entries that are no country: the World aggregate is no answer to "which country".
AGGREGATE_FACTBOOK_CODES = ("xx",)
# Extractors in order of trust: a Factbook value wins over a pattern read from a sentence.
EXTRACTOR_PRIORITY = {"factbook": 0, "phrase": 1, "pattern": 2, "llm": 3, "page_mention": 4}


@dataclass(frozen=True, slots=True)
class Fact:
    """One literal attribute value of an entity, with the relation that states it."""

    relation_id: str
    subject: str
    predicate: str
    object_type: str
    value: str
    number: float | None
    unit: str | None
    extractor: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a relation row came from: its document and sentence (either may be null)."""

    doc_id: str | None
    sentence_id: str | None
    extractor: str


@dataclass
class KnowledgeGraph:
    """Indexes over `entities` and `relations` (see the module docstring)."""

    names: dict[str, str]
    descriptions: dict[str, str | None]
    types: dict[str, str | None]
    doc_of: dict[str, str | None]  # entity → its own page's doc id
    url_of: dict[str, str | None]
    aliases: dict[str, list[str]]
    objects: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    subjects: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    facts: dict[tuple[str, str], list[Fact]] = field(default_factory=dict)
    links: dict[str, tuple[str, ...]] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=dict)  # relation id → source
    relation_entities: dict[str, tuple[str, ...]] = field(default_factory=dict)  # its ends
    predicate_of: dict[str, str] = field(default_factory=dict)  # relation id → predicate
    by_type: dict[str | None, frozenset[str]] = field(default_factory=dict)
    _coverage: dict[tuple[str, str | None], float] = field(default_factory=dict, repr=False)
    # (subject, predicate) → entity-object rows, resolved to a known entity or not
    edge_totals: dict[tuple[str, str], int] = field(default_factory=dict)

    # --- reading the indexes

    def objects_of(self, subject: str, predicate: str) -> dict[str, str]:
        """object entity → relation id, for (subject, predicate, ?)."""
        return self.objects.get((subject, predicate), {})

    def subjects_of(self, predicate: str, obj: str) -> dict[str, str]:
        """subject entity → relation id, for (?, predicate, object)."""
        return self.subjects.get((obj, predicate), {})

    def is_complete(self, subject: str, predicate: str) -> bool:
        """Whether every object the sources list for (subject, predicate) is a known entity:
        only then is `objects_of` the whole list, and a count or a superlative over it true
        (a Factbook border with a country that has no entity here would be missing)."""
        total = self.edge_totals.get((subject, predicate), 0)
        return total > 0 and len(self.objects_of(subject, predicate)) == total

    def projection_is_whole(self, predicate: str, direction: str, constant: str) -> bool:
        """Whether R_predicate({constant}) in `direction` is the whole real-world set, so
        that a task may rely on what it contains (and on what it does not): a functional
        projection (`FUNCTIONAL_PROJECTIONS`), or a Factbook list that is resolved in full —
        the constant's own list, which for a symmetric relation is also everyone listing it.
        """
        if (predicate, direction) in FUNCTIONAL_PROJECTIONS:
            return True
        if predicate in FACTBOOK_EDGE_PREDICATES and (
            direction == "objects" or predicate in SYMMETRIC_EDGE_PREDICATES
        ):
            return self.is_complete(constant, predicate)
        return False

    def edge_predicates(self) -> list[str]:
        """Every predicate with at least one entity edge, sorted."""
        return sorted({predicate for _subject, predicate in self.objects})

    def fact(self, subject: str, predicate: str) -> Fact | None:
        """The one value of an attribute, or None when absent or ambiguous (two values)."""
        values = self.facts.get((subject, predicate), [])
        distinct = {fact.value for fact in values}
        return values[0] if len(distinct) == 1 else None

    def number(self, subject: str, predicate: str) -> float | None:
        """The attribute's one numeric value, or None (absent, ambiguous or not a number)."""
        fact = self.fact(subject, predicate)
        return fact.number if fact is not None else None

    def coverage(self, predicate: str, entity_type: str | None) -> float:
        """The share of the entities of a type with one value of the attribute: a range
        over it ("a country independent in the 1960s") picks out the whole real-world set
        only when (nearly) every entity of the type has the value."""
        key = (predicate, entity_type)
        if key not in self._coverage:
            members = self.by_type.get(entity_type, frozenset())
            known = sum(1 for m in members if self.number(m, predicate) is not None)
            self._coverage[key] = known / len(members) if members else 0.0
        return self._coverage[key]

    def attribute_predicates(self) -> list[str]:
        """Every predicate with literal facts, sorted."""
        return sorted({predicate for _subject, predicate in self.facts})

    def with_attribute(self, predicate: str) -> list[str]:
        """The entities with one unambiguous numeric value of `predicate`, sorted."""
        return sorted(
            subject
            for subject, fact_predicate in self.facts
            if fact_predicate == predicate and self.number(subject, predicate) is not None
        )

    def name(self, entity: str) -> str:
        return self.names.get(entity, entity)

    # --- building

    @classmethod
    def from_tables(
        cls,
        entities: pl.DataFrame,
        relations: pl.DataFrame,
        links: Iterable[tuple[str, str]] | None = None,
        min_confidence: float = 0.4,
    ) -> "KnowledgeGraph":
        """The graph of `entities` and `relations` rows; `links` are (from, to) entity pairs
        of the page link graph (default: the page-mention relations)."""
        graph = cls(
            names={},
            descriptions={},
            types={},
            doc_of={},
            url_of={},
            aliases={},
        )
        rows = entities.select(
            "entity_id", "name", "description", "entity_type", "doc_id", "url", "aliases"
        )
        if "factbook_code" in entities.columns:
            rows = rows.filter(
                ~entities.get_column("factbook_code")
                .is_in(AGGREGATE_FACTBOOK_CODES)
                .fill_null(False)
            )
        for entity_id, name, description, entity_type, doc_id, url, aliases in rows.iter_rows():
            graph.names[entity_id] = name
            graph.descriptions[entity_id] = description
            graph.types[entity_id] = entity_type
            graph.doc_of[entity_id] = doc_id
            graph.url_of[entity_id] = url
            graph.aliases[entity_id] = list(aliases or [])
        known = set(graph.names)
        members: dict[str | None, set[str]] = defaultdict(set)
        for entity_id, entity_type in graph.types.items():
            members[entity_type].add(entity_id)
        graph.by_type = {key: frozenset(value) for key, value in members.items()}
        objects: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        subjects: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        facts: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        page_links: dict[str, set[str]] = defaultdict(set)
        totals: dict[tuple[str, str], set[str]] = defaultdict(set)
        rows = relations.select(
            "relation_id",
            "subject_id",
            "predicate",
            "object_id",
            "object_type",
            "object_value",
            "number",
            "unit",
            "confidence",
            "extractor",
            "doc_id",
            "sentence_id",
        ).sort("relation_id")
        for row in rows.iter_rows(named=True):
            subject, predicate, obj = row["subject_id"], row["predicate"], row["object_id"]
            if subject not in known:
                continue
            graph.evidence[row["relation_id"]] = Evidence(
                row["doc_id"], row["sentence_id"], row["extractor"]
            )
            ends = (subject, obj) if obj in known and obj != subject else (subject,)
            graph.relation_entities[row["relation_id"]] = ends
            graph.predicate_of[row["relation_id"]] = predicate
            if predicate == MENTIONS_PREDICATE:
                if obj in known and obj != subject:
                    page_links[subject].add(obj)
                continue
            if (row["confidence"] or 0.0) < min_confidence:
                continue
            if predicate in FACTBOOK_EDGE_PREDICATES and row["extractor"] != "factbook":
                continue  # a sentence's "capital" is not the Factbook's field
            if (
                row["object_type"] in QUANTITY_TYPES
                and row["extractor"] not in TRUSTED_QUANTITY_EXTRACTORS
            ):
                continue
            if row["object_type"] == ENTITY_OBJECT and not _types_fit(
                graph, predicate, subject, obj
            ):
                continue
            if row["object_type"] == ENTITY_OBJECT:
                # An official language is a language of the country too: "the languages of
                # Brazil" must include Portuguese, which the Factbook lists as official.
                implied = [predicate] + (["language"] if predicate == "official_language" else [])
                for name in implied:
                    totals[(subject, name)].add(obj or row["object_value"])
                    if obj in known and obj != subject:
                        objects[(subject, name)].setdefault(obj, row["relation_id"])
                        subjects[(obj, name)].setdefault(subject, row["relation_id"])
                continue
            facts[(subject, predicate)].append(
                Fact(
                    relation_id=row["relation_id"],
                    subject=subject,
                    predicate=predicate,
                    object_type=row["object_type"],
                    value=row["object_value"],
                    number=None if row["number"] is None else float(row["number"]),
                    unit=row["unit"],
                    extractor=row["extractor"],
                )
            )
        graph.objects = dict(objects)
        graph.edge_totals = {key: len(listed) for key, listed in totals.items()}
        graph.subjects = dict(subjects)
        graph.facts = {key: _trusted_first(values) for key, values in facts.items()}
        if links is not None:
            page_links = defaultdict(set)
            for source, target in links:
                if source in known and target in known and source != target:
                    page_links[source].add(target)
        graph.links = {source: tuple(sorted(targets)) for source, targets in page_links.items()}
        return graph


def _types_fit(graph: KnowledgeGraph, predicate: str, subject: str, obj: str | None) -> bool:
    """Whether an edge's ends have the types its predicate needs (`EDGE_TYPES`)."""
    subject_types, object_types = EDGE_TYPES.get(predicate, (None, None))
    if subject_types is not None and graph.types.get(subject) not in subject_types:
        return False
    return object_types is None or graph.types.get(obj or "") in object_types


def _trusted_first(values: list[Fact]) -> list[Fact]:
    """The facts of one (subject, predicate) from the most trusted extractor only.

    A Factbook population and a population read from a sentence of another year are both
    true; keeping only the most trusted source's values stops them counting as a conflict.
    """
    best = min(EXTRACTOR_PRIORITY.get(fact.extractor, 9) for fact in values)
    return [fact for fact in values if EXTRACTOR_PRIORITY.get(fact.extractor, 9) == best]
