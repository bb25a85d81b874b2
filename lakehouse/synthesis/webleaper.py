"""WebLeaper: entity-intensive set tasks, where the answer is every member of a group.

A group is the set of entities sharing one relation to an anchor, R_p({anchor}) ("the
countries that border Brazil"). Three kinds of task are built on groups:

- set_basic: name every member of one group;
- set_union: name every member of two overlapping groups of one relation ("... that border
  France or border Poland"); the anchors themselves are never members, so the question does
  not name part of its answer;
- set_reverse_union: the question names a few members and hides the anchor ("Belgium, Spain
  and Italy all border the same country"); the solver infers the anchor, then names the
  rest of its group. The given members are chosen so that they share exactly one neighbour
  under the relation, checked by executing the anchor's spec.

A gold set must be the whole group, so groups come only from the Factbook's field lists
(predicates in both `verbalize.CLAUSES` and `graph.FACTBOOK_EDGE_PREDICATES`) and only when
every entity those lists name is in the graph (`groups` counts what it leaves out, by
reason). When a group mixes entity types (the European Union's page lists Russia among its
neighbours), the spec keeps only the members of the head noun's type, so "countries" means
countries. Groups are read from the edge indexes directly, not by executing specs, so
`tasks.finalize` checks each draft's expected set against an independent execution.
"""

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from lakehouse.synthesis import spec as S
from lakehouse.synthesis.graph import FACTBOOK_EDGE_PREDICATES, KnowledgeGraph
from lakehouse.synthesis.tasks import SET, Rejected, TaskDraft, finalize
from lakehouse.synthesis.verbalize import (
    CLAUSES,
    SYMMETRIC_PREDICATES,
    TEMPLATE_VERSION,
    Verbalizer,
    noun,
    type_of,
)
from lakehouse.synthesis.verify import mentions_answer

GENERATOR = "webleaper"
VERSION = "webleaper-1+" + TEMPLATE_VERSION
BASIC = "set_basic"
UNION = "set_union"
REVERSE_UNION = "set_reverse_union"
KINDS = (BASIC, UNION, REVERSE_UNION)
DIRECTIONS = ("subjects", "objects")
INVERSE = {"subjects": "objects", "objects": "subjects"}
# Relations that hold both ways. A page may state one side only (on the smoke lakehouse 26
# of 668 "borders" pairs, 24 of them the European Union's own list), so a group of a
# symmetric relation is kept only when both directions give the same members: the gold set
# is then the same whichever page the solver reads.
SYMMETRIC = SYMMETRIC_PREDICATES
# Question templates of basic and union tasks ({plural}: the head noun, {relative}: the
# plural relative clause): "Which countries border Brazil? Name them all.", "List all the
# countries that border Brazil."
TEMPLATES = {
    "which": "Which {plural} {relative}? Name them all.",
    "list": "List all the {plural} that {relative}.",
}


@dataclass(frozen=True)
class WebLeaperConfig:
    """Bounds of the generated sets. Our choice, not the paper's: under 3 members a set
    question is a short list, and 40 keeps the largest smoke-lakehouse groups (Arabic's 23
    official-language countries, Germany's 9 neighbours joined with another) in range."""

    min_size: int = 3  # fewest entities in an answer set
    max_size: int = 40  # most entities in an answer set
    min_part: int = 2  # fewest members of each group joined by a union
    given_sizes: tuple[int, ...] = (3, 2)  # members a reverse-union question names, tried in order
    max_combinations: int = 200  # member choices tried per group before a reverse-union gives up


@dataclass(frozen=True)
class Group:
    """The entities of one type sharing relation `predicate` with `anchor`.

    direction "subjects": members u with (u, predicate, anchor); "objects": members v with
    (anchor, predicate, v). `filtered` when some related entities had another type and the
    spec must keep only `entity_type`.
    """

    predicate: str
    direction: str
    anchor: str
    entity_type: str | None
    members: frozenset[str]
    filtered: bool

    def spec(self, anchor: S.Spec | None = None) -> S.Spec:
        """The group's spec; `anchor` replaces the anchor constant (reverse-union)."""
        projection = S.edge(self.predicate, anchor or S.entity(self.anchor), self.direction)
        return S.where(projection, type=self.entity_type) if self.filtered else projection


def generate(
    graph: KnowledgeGraph, seed: int, limit: int, config: WebLeaperConfig | None = None
) -> list[TaskDraft]:
    """Up to `limit` set task drafts, the three kinds in turn; the same seed and graph give
    the same drafts."""
    config = config or WebLeaperConfig()
    found = groups(graph)
    streams = [
        _basic(graph, found, seed, config),
        _union(graph, found, seed, config),
        _reverse_union(graph, found, seed, config, closed_predicates(graph)),
    ]
    drafts: list[TaskDraft] = []
    while streams and len(drafts) < limit:
        for stream in list(streams):
            draft = next(stream, None)
            if draft is None:
                streams.remove(stream)
            elif len(drafts) < limit:
                drafts.append(draft)
    return drafts


def groups(graph: KnowledgeGraph, dropped: Counter | None = None) -> list[Group]:
    """Every complete group of a verbalizable Factbook predicate, sorted by (predicate,
    direction, anchor); each group left out is counted in `dropped` under its reason
    (`_drop_reason`). A relation read from sentences gives the members the corpus happens
    to state, never a whole group, so only the Factbook's field lists make gold sets.

    A symmetric relation gives its "subjects" groups only; a group with the same members as
    an earlier one is left out (reason "duplicate").
    """
    dropped = Counter() if dropped is None else dropped
    closed = closed_predicates(graph)
    found: list[Group] = []
    seen: set[frozenset[str]] = set()
    for predicate in sorted(set(CLAUSES) & FACTBOOK_EDGE_PREDICATES):
        # A symmetric relation is asked from the anchor's side ("objects": the neighbours its
        # own page lists), so the evidence is one sentence a solver can find, not one per member.
        for direction in ("objects",) if predicate in SYMMETRIC else DIRECTIONS:
            index = graph.subjects if direction == "subjects" else graph.objects
            anchors = sorted({key[0] for key in index if key[1] == predicate})
            for anchor in anchors:
                group = _group(graph, predicate, direction, anchor)
                reason = _drop_reason(graph, group, closed)
                if reason is None and group.members in seen:
                    reason = "duplicate"
                if reason is not None:
                    dropped[reason] += 1
                    continue
                seen.add(group.members)
                found.append(group)
    return found


def closed_predicates(graph: KnowledgeGraph) -> frozenset[str]:
    """The predicates whose every listed object is a known entity, for every subject.

    Only for these is "every u with (u, p, anchor)" known to be the whole group: on the
    smoke lakehouse 165 of 197 Factbook official-language lists name a language left
    unresolved ("English" 63 times), so "the countries with English as an official
    language" would miss most of them.
    """
    subjects_by_predicate: dict[str, list[str]] = defaultdict(list)
    for subject, predicate in graph.edge_totals:
        subjects_by_predicate[predicate].append(subject)
    return frozenset(
        predicate
        for predicate, subjects in subjects_by_predicate.items()
        if all(graph.is_complete(subject, predicate) for subject in subjects)
    )


def _drop_reason(graph: KnowledgeGraph, group: Group, closed: frozenset[str]) -> str | None:
    """Why a group cannot be a gold set, or None when it can:

    - "incomplete": its source list names an entity the graph does not have (objects, and
      symmetric relations, read the anchor's own list), or, for the subjects of an
      asymmetric relation, some subject's list does (the predicate is not closed);
    - "one_sided": a symmetric relation whose two directions give different members of the
      head type (one page lists a border the other does not);
    - "untyped_member": a member of unknown type next to a typed head noun (is French Guiana
      one of "the countries that border Brazil"?) makes the gold set a guess.
    """
    if not whole_list(graph, group.predicate, group.direction, group.anchor, closed):
        return "incomplete"
    related = _neighbours(graph, group.predicate, group.direction, group.anchor)
    if group.predicate in SYMMETRIC:
        other = _neighbours(graph, group.predicate, INVERSE[group.direction], group.anchor)
        if {m for m in other if graph.types.get(m) == group.entity_type} != group.members:
            return "one_sided"
    if group.entity_type is not None and any(graph.types.get(m) is None for m in related):
        return "untyped_member"
    if group.filtered:
        return "mixed_types"
    return None


def whole_list(
    graph: KnowledgeGraph, predicate: str, direction: str, of: str, closed: frozenset[str]
) -> bool:
    """Whether R_p({of}) in `direction` is everything the sources relate to `of`: the
    entity's own list is resolved (objects, and symmetric relations), or every list of the
    predicate is (`closed`)."""
    if direction == "objects" or predicate in SYMMETRIC:
        return graph.is_complete(of, predicate)
    return predicate in closed


def _group(graph: KnowledgeGraph, predicate: str, direction: str, anchor: str) -> Group:
    """The group of (predicate, direction, anchor), its head type chosen from its members:
    the type the predicate implies when some member has it, else the commonest."""
    related = _neighbours(graph, predicate, direction, anchor)
    counts = Counter(graph.types.get(member) for member in related)
    implied = type_of(S.edge(predicate, S.entity(anchor), direction))
    entity_type = (
        implied
        if implied in counts
        else min(counts, key=lambda t: (-counts[t], t or ""))  # ties by name, None as ""
    )
    # Members of another type are not filtered out: "the countries that border Israel" with
    # West Bank in and Gaza Strip out (typed differently) would be a wrong gold set. The
    # group keeps them, flagged, and `_drop_reason` refuses it.
    members = frozenset(related)
    return Group(
        predicate=predicate,
        direction=direction,
        anchor=anchor,
        entity_type=entity_type,
        members=members,
        filtered=any(graph.types.get(m) != entity_type for m in related),
    )


def _neighbours(graph: KnowledgeGraph, predicate: str, direction: str, of: str) -> set[str]:
    """R_p({of}) in `direction`, read from the edge index."""
    if direction == "subjects":
        return set(graph.subjects_of(predicate, of))
    return set(graph.objects_of(of, predicate))


# --- the three kinds


def _basic(
    graph: KnowledgeGraph, found: list[Group], seed: int, config: WebLeaperConfig
) -> Iterator[TaskDraft]:
    rng = random.Random(f"{seed}:{BASIC}")
    candidates = [g for g in found if config.min_size <= len(g.members) <= config.max_size]
    rng.shuffle(candidates)
    verbalizer = Verbalizer(graph)
    for group in candidates:
        template = rng.choice(sorted(TEMPLATES))
        relative = plural_relative(verbalizer, group.spec(), group.entity_type)
        draft = _draft(
            BASIC, seed, template, group.entity_type, relative, group.spec(), group.members
        )
        if not names_an_answer(graph, draft):
            yield draft


def _union(
    graph: KnowledgeGraph, found: list[Group], seed: int, config: WebLeaperConfig
) -> Iterator[TaskDraft]:
    """Pairs of groups of one relation and type that share a member, neither inside the
    other, neither anchor in the union; each pair once."""
    rng = random.Random(f"{seed}:{UNION}")
    parts = [g for g in found if len(g.members) >= config.min_part]
    by_member: dict[tuple[str, str, str | None, str], list[Group]] = defaultdict(list)
    for group in parts:
        for member in group.members:
            by_member[(group.predicate, group.direction, group.entity_type, member)].append(group)
    order = list(parts)
    rng.shuffle(order)
    verbalizer = Verbalizer(graph)
    used: set[frozenset[str]] = set()
    for first in order:
        key = (first.predicate, first.direction, first.entity_type)
        partners = sorted(
            {
                other
                for member in first.members
                for other in by_member[(*key, member)]
                if _joinable(first, other, config)
                and frozenset((first.anchor, other.anchor)) not in used
            },
            key=lambda g: g.anchor,
        )
        rng.shuffle(partners)
        template = rng.choice(sorted(TEMPLATES))
        for second in partners:
            pair = sorted((first, second), key=lambda g: graph.name(g.anchor))
            spec = S.either(*(g.spec() for g in pair))
            relative = " or ".join(
                plural_relative(verbalizer, g.spec(), g.entity_type) for g in pair
            )
            expected = first.members | second.members
            draft = _draft(UNION, seed, template, first.entity_type, relative, spec, expected)
            if not names_an_answer(graph, draft):
                used.add(frozenset((first.anchor, second.anchor)))
                yield draft
                break


def _joinable(first: Group, other: Group, config: WebLeaperConfig) -> bool:
    union = first.members | other.members
    return (
        other.anchor != first.anchor
        and not other.members <= first.members
        and not first.members <= other.members
        and first.anchor not in union
        and other.anchor not in union
        and config.min_size <= len(union) <= config.max_size
    )


def _reverse_union(
    graph: KnowledgeGraph,
    found: list[Group],
    seed: int,
    config: WebLeaperConfig,
    closed: frozenset[str],
) -> Iterator[TaskDraft]:
    rng = random.Random(f"{seed}:{REVERSE_UNION}")
    fewest = min(config.given_sizes)
    candidates = [
        g
        for g in found
        if len(g.members) - fewest >= config.min_size
        and len(g.members) - max(config.given_sizes) <= config.max_size
    ]
    rng.shuffle(candidates)
    for group in candidates:
        for given in identifying_members(graph, group, rng, config, closed):
            draft = _reverse_draft(graph, group, given, seed)
            if not names_an_answer(graph, draft):
                yield draft
                break


def identifying_members(
    graph: KnowledgeGraph,
    group: Group,
    rng: random.Random,
    config: WebLeaperConfig,
    closed: frozenset[str],
) -> Iterator[tuple[str, ...]]:
    """Choices of a few members whose only shared neighbour under the group's relation is its
    anchor (checked by executing the anchor spec), each leaving an answer within the size
    bounds; at most `max_combinations` choices are tried per number of members.

    Only members whose own neighbour list is whole are given (a neighbour missing from the
    graph could be a second shared one), and none with a comma in its name (the list
    "Gaza, Gaza Strip, Iran and Israel" reads as four).
    """
    inverse = INVERSE[group.direction]
    members = sorted(
        m
        for m in group.members
        if "," not in graph.name(m) and whole_list(graph, group.predicate, inverse, m, closed)
    )
    rng.shuffle(members)
    for size in config.given_sizes:
        left = len(group.members) - size
        if not config.min_size <= left <= config.max_size:
            continue
        for given in itertools.islice(
            itertools.combinations(members, size), config.max_combinations
        ):
            shared = set.intersection(
                *(_neighbours(graph, group.predicate, inverse, m) for m in given)
            )
            if shared != {group.anchor}:
                continue
            if S.execute(anchor_spec(group, given), graph).unique() == group.anchor:
                yield tuple(sorted(given, key=graph.name))


def anchor_spec(group: Group, given: tuple[str, ...]) -> S.Spec:
    """The anchor as the one entity every given member relates to."""
    inverse = INVERSE[group.direction]
    return S.both(*(S.edge(group.predicate, S.entity(m), inverse) for m in given))


def _reverse_draft(
    graph: KnowledgeGraph, group: Group, given: tuple[str, ...], seed: int
) -> TaskDraft:
    spec = S.minus(group.spec(anchor_spec(group, given)), S.either(*(S.entity(m) for m in given)))
    anchor_type = graph.types.get(group.anchor) or type_of(
        S.edge(group.predicate, S.entity(given[0]), INVERSE[group.direction])
    )
    shown = f"the same {noun(anchor_type)}"
    hidden = Verbalizer(graph, hidden={group.anchor: shown})
    pronoun = Verbalizer(graph, hidden={group.anchor: "it"})
    names = [graph.name(m) for m in given]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    quantifier = "both" if len(given) == 2 else "all"
    shared = plural_relative(hidden, group.spec(), group.entity_type)
    rest = plural_relative(pronoun, group.spec(), group.entity_type)
    plural = noun(group.entity_type, plural=True)
    question = f"{listed} {quantifier} {shared}. Which other {plural} {rest}? Name them all."
    obfuscation = {
        "kind": "anchor_from_members",
        "entity": group.anchor,
        "original": graph.name(group.anchor),
        "shown": shown,
        "given": list(given),
    }
    return TaskDraft(
        generator=GENERATOR,
        generator_version=VERSION,
        kind=REVERSE_UNION,
        question=question,
        spec=spec,
        answer_type=SET,
        expected=group.members - set(given),
        seed=seed,
        template=f"{REVERSE_UNION}/members-hide-anchor",
        obfuscations=[obfuscation],
    )


# --- wording and the answer-in-question check


def names_an_answer(graph: KnowledgeGraph, draft: TaskDraft) -> bool:
    """Whether the question names a member of its answer set ("Which countries border South
    Sudan?" names Sudan), which `verify.mentions_answer` would fail. A draft that does not
    finalize is let through: the build records why it was rejected."""
    try:
        task = finalize(draft, graph)
    except Rejected:
        return False
    return mentions_answer(draft.question, task, graph)


def plural_relative(verbalizer: Verbalizer, spec: S.Spec, entity_type: str | None) -> str:
    """The relative clause of the spec's plural noun phrase, without its head ("border
    Brazil" from "the countries that border Brazil"), with "its" agreeing with the plural
    ("have X among their languages"): a group's spec is one projection from a constant,
    so every "its" is the members'."""
    head = f"the {noun(entity_type or type_of(spec), plural=True)} that "
    relative = verbalizer.phrase(spec, plural=True, entity_type=entity_type).removeprefix(head)
    return " ".join("their" if word == "its" else word for word in relative.split(" "))


def _draft(
    kind: str,
    seed: int,
    template: str,
    entity_type: str | None,
    relative: str,
    spec: S.Spec,
    expected: frozenset[str],
) -> TaskDraft:
    question = TEMPLATES[template].format(plural=noun(entity_type, plural=True), relative=relative)
    return TaskDraft(
        generator=GENERATOR,
        generator_version=VERSION,
        kind=kind,
        question=question,
        spec=spec,
        answer_type=SET,
        expected=frozenset(expected),
        seed=seed,
        template=f"{kind}/{template}",
    )
