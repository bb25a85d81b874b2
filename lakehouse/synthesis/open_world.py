"""Open-World Memory QA (AgentFounder): factual, comparative, multi-hop and analytical tasks.

- factual: one fact. An attribute of an entity ("In which year was Ada Lovelace born?",
  value(birth_year, {Ada})) or the one entity a relation names ("Which city is the capital
  of France?", the objects of (France, capital)).
- comparative: one attribute of two entities of the same type ("Which has the larger
  population: France or Germany?", argmax over {France, Germany}); pairs whose values are
  within `MIN_RELATIVE_GAP` of each other are skipped (a near tie is a bad question).
- multi-hop: a chain of unique projections ending in an entity or an attribute ("What is the
  population of the country whose capital is Lima?": 2 hops; 3 with one more link).
- analytical: an aggregate over a relation's full object list: count ("How many countries
  does Brazil border?") and superlatives ("Of the countries that Brazil borders, which has the
  largest area?"). Only where the list is complete (`KnowledgeGraph.is_complete`), so the
  count is the source's count and no unresolved member could beat the superlative.

Every draft is checked by `tasks.finalize`; `generate` returns only drafts that pass.
"""

import random
from collections.abc import Callable, Iterator

from lakehouse.synthesis import spec as S
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.tasks import DATE, ENTITY, NUMBER, Rejected, TaskDraft, finalize
from lakehouse.synthesis.verbalize import (
    ATTRIBUTE_NOUNS,
    CLAUSES,
    COMPARATIVES,
    SUPERLATIVES,
    SYMMETRIC_PREDICATES,
    TEMPLATE_VERSION,
    YEAR_QUESTIONS,
    Verbalizer,
    attribute_question,
    noun,
    plural_clause,
    type_of,
)

GENERATOR = "open_world"
VERSION = f"open-world-1+{TEMPLATE_VERSION}"
KINDS = ("factual", "comparative", "multi_hop", "analytical")
MIN_RELATIVE_GAP = 0.05  # comparative values must differ by at least 5%
YEAR_ATTRIBUTES = frozenset({"birth_year", "death_year", "start_year", "end_year"})
# The attributes a question can ask for plainly. Dated events read by patterns ("published
# in", "elected in") are left out: the pattern's subject is the sentence's, which is not
# always the thing that was published.
ASKABLE_ATTRIBUTES = frozenset(YEAR_QUESTIONS) | frozenset(ATTRIBUTE_NOUNS)
PERSON_COMPARATIVES = {
    "birth_year": ("Who was born later: {a} or {b}?", "Who was born earlier: {a} or {b}?"),
    "death_year": ("Who died later: {a} or {b}?", "Who died earlier: {a} or {b}?"),
}


def literal_type(object_type: str) -> str:
    """The task answer type of a literal attribute: years and dates are dates."""
    return DATE if object_type in ("year", "date") else NUMBER


def _edge_keys(graph: KnowledgeGraph) -> list[tuple[str, str]]:
    """(subject, predicate) pairs with verbalizable entity edges, sorted."""
    return sorted(key for key in graph.objects if key[1] in CLAUSES)


def factual(graph: KnowledgeGraph, rng: random.Random) -> Iterator[TaskDraft]:
    """Attribute lookups and single-answer relations, in random order."""
    verbalizer = Verbalizer(graph)
    candidates: list[tuple[str, str, str]] = [
        ("attribute", subject, predicate)
        for subject, predicate in sorted(graph.facts)
        if predicate in ASKABLE_ATTRIBUTES
    ]
    candidates += [("edge", subject, predicate) for subject, predicate in _edge_keys(graph)]
    rng.shuffle(candidates)
    for shape, subject, predicate in candidates:
        if shape == "attribute":
            fact = graph.fact(subject, predicate)
            if fact is None:
                continue
            yield TaskDraft(
                generator=GENERATOR,
                generator_version=VERSION,
                kind="factual",
                question=attribute_question(predicate, graph.name(subject)),
                spec=S.value(predicate, S.entity(subject)),
                answer_type=literal_type(fact.object_type),
                expected=fact.value,
                seed=0,
                template=f"factual/attribute/{predicate}",
            )
            continue
        objects = graph.objects_of(subject, predicate)
        if len(objects) != 1 or not graph.projection_is_whole(predicate, "objects", subject):
            continue
        spec = S.edge(predicate, S.entity(subject), direction="objects")
        (answer,) = objects
        head = answer_noun(graph, spec, answer)
        if head is None:
            continue
        yield TaskDraft(
            generator=GENERATOR,
            generator_version=VERSION,
            kind="factual",
            question=f"Which {head} {verbalizer.clauses(spec)[0]}?",
            spec=spec,
            answer_type=ENTITY,
            expected=frozenset(objects),
            seed=0,
            template=f"factual/edge/{predicate}",
        )


def comparative(graph: KnowledgeGraph, rng: random.Random) -> Iterator[TaskDraft]:
    """Which of two same-type entities has the larger (or smaller) attribute value."""
    attributes = [a for a in graph.attribute_predicates() if a in COMPARATIVES]
    by_type: dict[tuple[str, str], list[str]] = {}
    for attribute in attributes:
        for entity_id in graph.with_attribute(attribute):
            key = (attribute, graph.types.get(entity_id) or "")
            by_type.setdefault(key, []).append(entity_id)
    pools = sorted((key, members) for key, members in by_type.items() if len(members) >= 2)
    if not pools:
        return
    while True:
        (attribute, entity_type), members = rng.choice(pools)
        a, b = rng.sample(members, 2)
        value_a, value_b = graph.number(a, attribute), graph.number(b, attribute)
        gap = abs(value_a - value_b) / max(abs(value_a), abs(value_b), 1e-9)
        if value_a == value_b or (attribute not in YEAR_ATTRIBUTES and gap < MIN_RELATIVE_GAP):
            continue
        largest = rng.random() < 0.5
        spec = S.extreme(attribute, S.either(S.entity(a), S.entity(b)), largest=largest)
        names = {"a": graph.name(a), "b": graph.name(b)}
        if entity_type == "person" and attribute in PERSON_COMPARATIVES:
            template = PERSON_COMPARATIVES[attribute][0 if largest else 1]
            question = template.format(**names)
        else:
            phrase = COMPARATIVES[attribute][0 if largest else 1]
            question = "Which has {phrase}: {a} or {b}?".format(phrase=phrase, **names)
        winner = a if (value_a > value_b) == largest else b
        yield TaskDraft(
            generator=GENERATOR,
            generator_version=VERSION,
            kind="comparative",
            question=question,
            spec=spec,
            answer_type=ENTITY,
            expected=frozenset([winner]),
            seed=0,
            template=f"comparative/{attribute}/{'max' if largest else 'min'}",
        )


def _unique_steps(graph: KnowledgeGraph, entity_id: str) -> list[tuple[str, str, str]]:
    """(predicate, direction, the one entity reached) for every unique projection from
    `entity_id` over verbalizable predicates."""
    steps = []
    for predicate in CLAUSES:
        objects = graph.objects_of(entity_id, predicate)
        if len(objects) == 1 and graph.projection_is_whole(predicate, "objects", entity_id):
            steps.append((predicate, "objects", next(iter(objects))))
        if predicate in SYMMETRIC_PREDICATES:
            continue  # the same step as the one above, read from the other side
        subjects = graph.subjects_of(predicate, entity_id)
        if len(subjects) == 1 and graph.projection_is_whole(predicate, "subjects", entity_id):
            steps.append((predicate, "subjects", next(iter(subjects))))
    return steps


def multi_hop(graph: KnowledgeGraph, rng: random.Random) -> Iterator[TaskDraft]:
    """Chains of unique projections from an anchor, ending in an entity or an attribute."""
    verbalizer = Verbalizer(graph)
    anchors = sorted({subject for subject, _p in _edge_keys(graph)} | _objects(graph))
    rng.shuffle(anchors)
    for anchor in anchors:
        for first_predicate, first_direction, middle in _unique_steps(graph, anchor):
            chain = S.edge(first_predicate, S.entity(anchor), first_direction)
            middle_phrase = verbalizer.phrase(chain, entity_type=graph.types.get(middle))
            for attribute in sorted(ASKABLE_ATTRIBUTES):
                fact = graph.fact(middle, attribute)
                if fact is None:
                    continue
                yield TaskDraft(
                    generator=GENERATOR,
                    generator_version=VERSION,
                    kind="multi_hop",
                    question=attribute_question(attribute, middle_phrase),
                    spec=S.value(attribute, chain),
                    answer_type=literal_type(fact.object_type),
                    expected=fact.value,
                    seed=0,
                    template=f"multi_hop/{first_predicate}/{attribute}",
                )
            for predicate, direction, end in _unique_steps(graph, middle):
                if end == anchor:
                    continue  # a step back to where the chain began
                spec = S.edge(predicate, chain, direction)
                head = answer_noun(graph, spec, end)
                if head is None:
                    continue
                yield TaskDraft(
                    generator=GENERATOR,
                    generator_version=VERSION,
                    kind="multi_hop",
                    question=f"Which {head} {verbalizer.clauses(spec)[0]}?",
                    spec=spec,
                    answer_type=ENTITY,
                    expected=frozenset([end]),
                    seed=0,
                    template=f"multi_hop/{first_predicate}/{predicate}",
                )


def answer_noun(graph: KnowledgeGraph, spec: S.Spec, answer: str) -> str | None:
    """The head noun for the answer ("Which city ..."): its own type, or the type the spec
    implies; None when the two disagree (the edge's typing is wrong for this entity)."""
    implied, actual = type_of(spec), graph.types.get(answer)
    if implied and actual and implied != actual and not (implied == "city" and actual == "place"):
        return None
    return noun(implied or actual)


def _objects(graph: KnowledgeGraph) -> set[str]:
    return {obj for (_s, p), objects in graph.objects.items() if p in CLAUSES for obj in objects}


def analytical(graph: KnowledgeGraph, rng: random.Random) -> Iterator[TaskDraft]:
    """Counts and superlatives over complete object lists."""
    verbalizer = Verbalizer(graph)
    keys = [
        key for key in _edge_keys(graph) if graph.projection_is_whole(key[1], "objects", key[0])
    ]
    rng.shuffle(keys)
    for subject, predicate in keys:
        members = graph.objects_of(subject, predicate)
        group = S.edge(predicate, S.entity(subject), direction="objects")
        plural = noun(type_of(group), plural=True)
        clause = verbalizer.clauses(group)[0]
        if len(members) >= 2:
            yield TaskDraft(
                generator=GENERATOR,
                generator_version=VERSION,
                kind="analytical",
                question=f"How many {plural} {plural_clause(clause)}?",
                spec=S.count(group),
                answer_type=NUMBER,
                expected=str(len(members)),
                seed=0,
                template=f"analytical/count/{predicate}",
            )
        for attribute in SUPERLATIVES:
            numbers = [graph.number(member, attribute) for member in members]
            if len(members) < 3 or any(number is None for number in numbers):
                continue
            largest = rng.random() < 0.5
            best = max(numbers) if largest else min(numbers)
            if numbers.count(best) != 1:
                continue
            winner = next(m for m, n in zip(members, numbers, strict=True) if n == best)
            phrase = SUPERLATIVES[attribute][0 if largest else 1]
            yield TaskDraft(
                generator=GENERATOR,
                generator_version=VERSION,
                kind="analytical",
                question=f"Of the {plural} that {plural_clause(clause)}, which has {phrase}?",
                spec=S.extreme(attribute, group, largest=largest),
                answer_type=ENTITY,
                expected=frozenset([winner]),
                seed=0,
                template=f"analytical/{'max' if largest else 'min'}/{predicate}/{attribute}",
            )


GENERATORS: dict[str, Callable[[KnowledgeGraph, random.Random], Iterator[TaskDraft]]] = {
    "factual": factual,
    "comparative": comparative,
    "multi_hop": multi_hop,
    "analytical": analytical,
}


def generate(
    graph: KnowledgeGraph, seed: int, limit: int, max_attempts_factor: int = 20
) -> list[TaskDraft]:
    """Up to `limit` verified drafts of each kind (fewer when the graph has no more), in a
    seeded order; each draft records the seed. Drafts that fail `finalize` are skipped."""
    drafts: list[TaskDraft] = []
    for offset, make in enumerate(GENERATORS.values()):
        rng = random.Random(seed * 1_000 + offset)
        kept, seen = 0, set()
        for attempt, draft in enumerate(make(graph, rng)):
            if kept >= limit or attempt >= limit * max_attempts_factor:
                break
            key = S.canonical(draft.spec)
            if key in seen:
                continue
            seen.add(key)
            try:
                finalize(draft, graph)
            except Rejected:
                continue
            draft.seed = seed
            drafts.append(draft)
            kept += 1
    return drafts
