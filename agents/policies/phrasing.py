"""The planner's words: search queries, visit goals, plan steps and fact sentences.

Queries are what a person types: the anchor's name and the relation in a few phrasings
per predicate (`EDGE_QUERIES`, `FACT_QUERIES`), rotated by the seed so trajectories differ;
the next phrasings are the reformulations after a miss, and HAS tries all of them plus a
few broader ones (`alternative_queries`). Names go into queries without parentheticals and
dashes: copying "(country)" or an en dash into JSON is where small models broke their calls
(FACTS.md, the SFT probe). Goals and fact sentences reuse the question templates' clauses
(lakehouse.synthesis.verbalize), so the thinking says relations as the questions do.
"""

import random
import re
from collections.abc import Callable, Mapping, Sequence

from agents.policies.plan import IDENTIFY, Hop, Plan, Target, strip_parenthetical
from lakehouse.synthesis.graph import MENTIONS_PREDICATE, KnowledgeGraph
from lakehouse.synthesis.verbalize import (
    ATTRIBUTE_NOUNS,
    SYMMETRIC_PREDICATES,
    clause,
    noun,
    plural_clause,
)

# predicate → (queries when the anchor is the subject, queries when it is the object)
EDGE_QUERIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "borders": (
        ("{a} border countries", "countries bordering {a}", "which countries border {a}",
         "{a} neighbouring countries"),
        ("{a} border countries", "countries bordering {a}", "which countries border {a}",
         "{a} neighbouring countries"),
    ),
    "capital": (
        ("capital of {a}", "{a} capital city", "what is the capital of {a}"),
        ("{a} capital of which country", "country whose capital is {a}", "{a} is the capital of"),
    ),
    "capital of": (
        ("{a} capital of which country", "country whose capital is {a}", "{a} is the capital of"),
        ("capital of {a}", "{a} capital city", "what is the capital of {a}"),
    ),
    "official_language": (
        ("official languages of {a}", "{a} official language",
         "what languages are official in {a}"),
        ("countries where {a} is an official language", "{a} official language of which countries"),
    ),
    "language": (
        ("languages spoken in {a}", "{a} languages", "what languages are spoken in {a}"),
        ("countries where {a} is spoken", "where is {a} spoken"),
    ),
    "born in": (
        ("where was {a} born", "{a} birthplace", "{a} place of birth"),
        ("people born in {a}", "born in {a}"),
    ),
    "located in": (("where is {a} located", "{a} location"), ("places in {a}", "located in {a}")),
    "flows through": (
        ("where does {a} flow", "{a} course"),
        ("rivers flowing through {a}", "river through {a}"),
    ),
    "named after": (("{a} named after", "who is {a} named after"), ("named after {a}",)),
    "directed by": (("who directed {a}", "{a} director"), ("films directed by {a}",)),
    "written by": (("who wrote {a}", "{a} author"), ("works written by {a}",)),
    "founded by": (("who founded {a}", "{a} founder"), ("founded by {a}",)),
}  # fmt: skip
FACT_QUERIES: dict[str, tuple[str, ...]] = {
    "birth_year": ("when was {a} born", "{a} birth year", "{a} born"),
    "death_year": ("when did {a} die", "{a} death year", "{a} died"),
    "population": ("population of {a}", "{a} population", "how many people live in {a}"),
    "area": ("total area of {a}", "{a} area in square kilometres", "how large is {a}"),
    "start_year": ("when did {a} begin", "{a} start year"),
    "end_year": ("when did {a} end", "{a} end year"),
}
PAGE_QUERIES = ("{a}", "{a} {noun}")  # a traversal finds a linked page by its name
MAX_ALIASES = 2  # other names of the anchor HAS searches by
# Broader phrasings HAS also tries (they put the useful page at other ranks).
BROAD_QUERIES = ("{a}", "{a} {noun}", "{a} facts", "{a} overview", "{noun} {a} information")
ATTRIBUTE_WORDS = {
    **ATTRIBUTE_NOUNS,
    "area": "total area",
    "birth_year": "birth year",
    "death_year": "year of death",
    "start_year": "start year",
    "end_year": "end year",
}
FACT_SENTENCES = {
    "birth_year": "{s} was born in {v}",
    "death_year": "{s} died in {v}",
    "start_year": "{s} began in {v}",
    "end_year": "{s} ended in {v}",
    "population": "{s} has a population of {v}",
    "area": "the total area of {s} is {v}",
}
_UNSAFE = re.compile(r"[()\[\]{}\"“”«»]|[\u2010-\u2015]")


def query_name(graph: KnowledgeGraph, entity_id: str) -> str:
    """An entity's name as it goes into a query: no parenthetical, no brackets or dashes."""
    return " ".join(_UNSAFE.sub(" ", strip_parenthetical(graph.name(entity_id))).split())


def clean_query(text: str) -> str:
    """A query without quotes, brackets and dashes, spaces collapsed."""
    return " ".join(_UNSAFE.sub(" ", text).replace("'", "").split())


def attribute_words(predicate: str) -> str:
    """ "area" → "total area", "birth_year" → "birth year", "founded in" → "founding year"."""
    if predicate in ATTRIBUTE_WORDS:
        return ATTRIBUTE_WORDS[predicate]
    if predicate.endswith((" in", " on")):
        return f"year it was {predicate.rsplit(' ', 1)[0]}"
    return predicate.replace("_", " ")


def _variants(hop: Hop, graph: KnowledgeGraph) -> tuple[str, ...]:
    """Every query phrasing of a hop (unrotated)."""
    if hop.kind == IDENTIFY:
        kind = noun(graph.types.get(hop.anchor))
        phrase = re.sub(r"^(a|an|the)\s+", "", hop.phrase or graph.name(hop.anchor))
        quoted = re.search(r'"([^"]+)"', phrase)
        if quoted:  # a description: search for its words
            words = quoted.group(1)
            return (f"{kind} {words}", words, f"which {kind} is {words}")
        rest = phrase.removeprefix(kind).strip()
        return (phrase, f"{rest} {kind}", f"which {phrase}")
    if hop.predicate == MENTIONS_PREDICATE:
        return PAGE_QUERIES
    if hop.targets[0].seek is None:  # a literal
        words = attribute_words(hop.predicate)
        return FACT_QUERIES.get(hop.predicate, ("{a} " + words, words + " of {a}"))
    words = hop.predicate.replace("_", " ")
    forward, backward = EDGE_QUERIES.get(hop.predicate, (("{a} " + words,), (words + " {a}",)))
    return forward if hop.forward else backward


def other_name(graph: KnowledgeGraph, entity_id: str) -> str | None:
    """A second name of the entity to search by when its name fails ("Burma" for Myanmar):
    its first alias that is neither the name nor an acronym; None when it has none."""
    name = query_name(graph, entity_id)
    for alias in graph.aliases.get(entity_id, []):
        alias = clean_query(alias)
        if alias.casefold() != name.casefold() and len(alias) >= 3 and not alias.isupper():
            return alias
    return None


def kind_noun(graph: KnowledgeGraph, entity_id: str) -> str:
    """The entity's type as a noun ("country"), or "page" for an untyped one."""
    entity_type = graph.types.get(entity_id)
    return noun(entity_type) if entity_type else "page"


def page_ref(title: str) -> str:
    """How a thought names a page: "the Ireland page", "the page The Gambia"."""
    return f"the page {title}" if title.lower().startswith("the ") else f"the {title} page"


def upper_first(text: str) -> str:
    """`text` with its first letter in upper case (the rest as it is)."""
    return text[:1].upper() + text[1:]


def _fill(template: str, hop: Hop, graph: KnowledgeGraph, name: str | None = None) -> str:
    text = template.format(
        a=name or query_name(graph, hop.anchor), noun=kind_noun(graph, hop.anchor)
    )
    return clean_query(text)


def hop_queries(hop: Hop, graph: KnowledgeGraph, seed: int) -> list[str]:
    """The hop's queries in the order the planner tries them: the first, then the
    reformulations after a miss (the first of them by the anchor's other name, when it has
    one); which phrasing comes first depends on the seed."""
    variants = list(dict.fromkeys(_fill(t, hop, graph) for t in _variants(hop, graph)))
    start = (seed + hop.index) % len(variants)
    ordered = variants[start:] + variants[:start]
    alias = other_name(graph, hop.anchor) if hop.kind != IDENTIFY else None
    if alias:
        ordered.insert(1, _fill(_variants(hop, graph)[start % len(variants)], hop, graph, alias))
    return list(dict.fromkeys(ordered))


def alternative_queries(hop: Hop, graph: KnowledgeGraph) -> list[str]:
    """Every phrasing HAS may try at a hop's search: the hop's own, the same by the anchor's
    other names, broader ones, and ones pairing the anchor with the other end of the hop's
    main fact when it is known (a check: "Mali Guinea border")."""
    templates = _variants(hop, graph)
    own = [_fill(t, hop, graph) for t in templates]
    if hop.kind == IDENTIFY:
        return list(dict.fromkeys(q for q in own if q))
    names = [clean_query(strip_parenthetical(a)) for a in graph.aliases.get(hop.anchor, [])]
    anchor = query_name(graph, hop.anchor)
    others = [n for n in dict.fromkeys(names) if n and n.casefold() != anchor.casefold()]
    by_alias = [_fill(t, hop, graph, name) for name in others[:MAX_ALIASES] for t in templates[:2]]
    broad = [_fill(t, hop, graph) for t in BROAD_QUERIES]
    first = hop.targets[0]
    paired = []
    if first.seek is not None and first.seek not in hop.finds:
        words = hop.predicate.replace("_", " ")
        paired.append(clean_query(f"{anchor} {query_name(graph, first.seek)} {words}"))
    return list(dict.fromkeys(q for q in own + by_alias + broad + paired if q))


def join_names(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def relation_clause(target: Target, graph: KnowledgeGraph, of: str, plural: bool = False) -> str:
    """The clause the hop's unknown end satisfies: "is the capital of Bolivia", "has
    Ouagadougou as its capital", "border Bolivia" (plural)."""
    direction = "objects" if target.seek == target.obj else "subjects"
    text = clause(target.predicate, direction, of)
    return plural_clause(text) if plural else text


def describe(
    hop: Hop,
    graph: KnowledgeGraph,
    name_of: Callable[[str], str],
    final: str | None = None,
    phrases: Mapping[str, str] | None = None,
) -> str:
    """What a hop looks for, as a noun phrase (the visit goal; a plan step after "find"):
    "the country that has Ouagadougou as its capital", "the birth year of Greta Garbo",
    "whether Mali borders Algeria", "the links on the Tabriz page"."""
    first = hop.targets[0]
    anchor = name_of(hop.anchor)
    if hop.kind == IDENTIFY:
        return hop.phrase or graph.name(hop.anchor)
    if hop.predicate == MENTIONS_PREDICATE:
        toward = f", on the way to {final}" if final else ""
        return f"the links on the page of {anchor}{toward}"
    if first.seek is None:
        return f"the {attribute_words(hop.predicate)} of {anchor}"
    finds = [t for t in hop.targets if t.seek in hop.finds and t.predicate == first.predicate]
    if first.seek in hop.finds:
        many = len(finds) > 1
        head = noun(graph.types.get(first.seek), plural=many)
        relative = relation_clause(first, graph, anchor, plural=many)
        phrase = phrases.get(first.seek) if phrases else None
        if phrase and not many:
            return f"{phrase}, which {relative}"
        return f"the {head} that {relative}"
    subject, obj = name_of(first.subject), name_of(first.obj or "")
    return f"whether {subject} {clause(first.predicate, 'subjects', obj)}"


def extras(hop: Hop) -> list[str]:
    """The other attributes a hop's page is read for ("total area" on a capital's hop)."""
    found = [
        attribute_words(t.predicate)
        for t in hop.targets[1:]
        if t.seek is None and t.predicate != hop.predicate
    ]
    return list(dict.fromkeys(found))


def goal(
    hop: Hop,
    graph: KnowledgeGraph,
    final: str | None = None,
    phrases: Mapping[str, str] | None = None,
) -> str:
    """The visit goal of a hop, with every entity by name (all are known by then)."""
    text = describe(hop, graph, graph.name, final, phrases)
    more = extras(hop)
    return f"{text}, and its {join_names(more)}" if more else text


def fact_sentence(target: Target, graph: KnowledgeGraph, written: str | None = None) -> str:
    """The fact a target states, as a sentence: "Burkina Faso has Ouagadougou as its
    capital", "Greta Garbo was born in 1905"; `written` is the value as the page wrote it."""
    subject = graph.name(target.subject)
    if target.relation_id is None:
        return f"{subject} is described as {written or target.forms[0]}"
    if target.seek is None:
        value = written or target.literal or ""
        template = FACT_SENTENCES.get(target.predicate)
        if template is None:
            return f"the {attribute_words(target.predicate)} of {subject} is {value}"
        return template.format(s=subject, v=value)
    obj = graph.name(target.obj or "")
    if target.predicate == MENTIONS_PREDICATE:
        return f"the {subject} page links to {obj}"
    return f"{subject} {clause(target.predicate, 'subjects', obj)}"


def group_sentences(
    targets: Sequence[Target], graph: KnowledgeGraph, anchor: str | None = None
) -> list[str]:
    """Fact sentences for a hop's targets, objects of one subject and predicate joined:
    "Kenya borders Ethiopia, Somalia and Uganda"; a symmetric relation is said from the
    anchor's side."""
    order: list[tuple[str, str]] = []
    objects: dict[tuple[str, str], list[str]] = {}
    sentences: list[str] = []
    for target in targets:
        if target.obj is None or target.predicate == MENTIONS_PREDICATE:
            continue
        subject, obj = target.subject, target.obj
        if target.predicate in SYMMETRIC_PREDICATES and obj == anchor:
            subject, obj = obj, subject
        key = (subject, target.predicate)
        if key not in objects:
            order.append(key)
            objects[key] = []
        objects[key].append(graph.name(obj))
    for subject, predicate in order:
        listed = join_names(objects[subject, predicate])
        sentences.append(f"{graph.name(subject)} {clause(predicate, 'subjects', listed)}")
    return sentences


def plan_steps(plan: Plan, graph: KnowledgeGraph) -> list[str]:
    """The plan in words, one step per hop (repeated look-ups of one attribute merged), then
    the computation or the answer's form. Entities found by earlier steps are referred to
    by step ("the country from step 1"), never by a name not yet read."""
    found_in: dict[str, int] = {}
    steps: list[str] = []
    step_of_hop: dict[int, int] = {}

    def name_of(entity: str) -> str:
        """How the plan names an entity: by step once found, else as the question does."""
        if entity in found_in:
            return f"the {kind_noun(graph, entity)} from step {found_in[entity]}"
        if entity in plan.phrases:
            return plan.phrases[entity]
        return graph.name(entity)

    hops = list(plan.hops)
    position = 0
    while position < len(hops):
        hop = hops[position]
        run = [hop]
        while (
            position + len(run) < len(hops)
            and hop.targets[0].seek is None
            and hops[position + len(run)].targets[0].seek is None
            and hops[position + len(run)].predicate == hop.predicate
            and hops[position + len(run)].kind == hop.kind
        ):
            run.append(hops[position + len(run)])
        if len(run) > 1:
            sources = {found_in.get(h.anchor) for h in run}
            if len(sources) == 1 and None not in sources:
                (origin,) = sources
                of = f"each {noun(graph.types.get(hop.anchor))} from step {origin}"
            else:
                of = join_names([name_of(h.anchor) for h in run])
            steps.append(f"find the {attribute_words(hop.predicate)} of {of}")
        else:
            final = plan.phrases.get(plan.answer_entities[0]) if plan.answer_entities else None
            step = f"find {describe(hop, graph, name_of, final, plan.phrases)}"
            more = extras(hop)
            steps.append(f"{step}, and its {join_names(more)}" if more else step)
        for member in run:
            step_of_hop[member.index] = len(steps)
            for entity in member.finds:
                found_in.setdefault(entity, len(steps))
        position += len(run)
    if plan.compute is not None:
        steps.append(compute_step(plan, graph))
    elif plan.excluded:
        left_out = join_names(names(plan.excluded, graph))
        steps.append(f"list its other neighbours, leaving out {left_out}")
    elif plan.answer_type == "set":
        steps.append("list them all")
    return steps


def names(entities: Sequence[str], graph: KnowledgeGraph) -> list[str]:
    """The entities' names, in order."""
    return [graph.name(e) for e in entities]


def compute_step(plan: Plan, graph: KnowledgeGraph) -> str:
    """The plan's last step for a count or a superlative."""
    compute = plan.compute
    assert compute is not None
    if compute.op == "count":
        return "count them with Python"
    largest = "largest" if compute.op == "argmax" else "smallest"
    return f"compare the values with Python and take the {largest}"


def pick(options: Sequence[str], rng: random.Random) -> str:
    """One of several wordings, chosen by the trajectory's generator."""
    return options[rng.randrange(len(options))]
