"""WebShaper: tasks formalized first, as specs expanded layer by layer, then verbalized.

1. Pick an answer entity A. `identify` builds the smallest intersection of knowledge
   projections from A's neighbours that is exactly {A}: e.g. R_borders(Spain) ∩
   R_borders(Belgium) = {France, ...}, then ∩ R_official_language(French) = {France}.
2. Expand: replace one constant of the spec by a spec that identifies it in turn (from its
   own neighbours, never an entity already in the spec, so no clue points back at the
   answer), adding a hop per layer: Spain becomes "the country that has Madrid as its
   capital". Each layer is kept only if the whole spec still executes to exactly {A}.
3. Verbalize the spec with the deterministic templates.

The spec is stored with the task; re-executing it is the uniqueness check.
"""

import random

from lakehouse.synthesis import spec as S
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.spec import Spec
from lakehouse.synthesis.tasks import ENTITY, Rejected, TaskDraft, finalize
from lakehouse.synthesis.verbalize import (
    CLAUSES,
    SYMMETRIC_PREDICATES,
    TEMPLATE_VERSION,
    Verbalizer,
    noun,
    type_of,
)

GENERATOR = "webshaper"
VERSION = f"webshaper-1+{TEMPLATE_VERSION}"
KIND = "formal"
MAX_CONSTRAINTS = 3  # projections intersected to pin down one entity
MAX_LAYERS = 3  # expansions after the first layer


def clues(graph: KnowledgeGraph, target: str) -> list[Spec]:
    """Every one-hop projection from a neighbour whose result contains `target` and is the
    whole real-world set (`projection_is_whole`): an intersection of such sets that is
    {target} in the graph is {target} in the world."""
    found = []
    for predicate in CLAUSES:
        for obj in graph.objects_of(target, predicate):
            if graph.projection_is_whole(predicate, "subjects", obj):
                found.append(S.edge(predicate, S.entity(obj), "subjects"))
        if predicate in SYMMETRIC_PREDICATES:
            continue  # the same clue as above, read from the other side
        for subject in graph.subjects_of(predicate, target):
            if graph.projection_is_whole(predicate, "objects", subject):
                found.append(S.edge(predicate, S.entity(subject), "objects"))
    return found


def identify(
    graph: KnowledgeGraph, target: str, rng: random.Random, exclude: set[str]
) -> Spec | None:
    """An intersection of at most `MAX_CONSTRAINTS` projections that is exactly {target},
    from neighbours not in `exclude`; None when the neighbours cannot single it out."""
    options = [c for c in clues(graph, target) if c["of"]["id"] not in exclude]
    rng.shuffle(options)
    chosen: list[Spec] = []
    candidates: frozenset[str] | None = None
    for option in options:
        if any(option["of"]["id"] == other["of"]["id"] for other in chosen):
            continue  # "borders Syria and is bordered by Syria" says one thing twice
        members = S.execute(option, graph).entities
        narrowed = members if candidates is None else candidates & members
        if candidates is not None and narrowed == candidates:
            continue  # adds nothing
        chosen.append(option)
        candidates = narrowed
        if candidates == {target}:
            return chosen[0] if len(chosen) == 1 else S.both(*chosen)
        if len(chosen) == MAX_CONSTRAINTS:
            return None
    return None


def _entity_nodes(spec: Spec) -> list[Spec]:
    return [node for node in S.walk(spec) if node.get("op") == "entity"]


def expand(graph: KnowledgeGraph, spec: Spec, answer: str, rng: random.Random, layers: int) -> Spec:
    """The spec with up to `layers` constants replaced by specs that identify them."""
    for _layer in range(layers):
        used = {answer, *S.constants(spec)}
        nodes = _entity_nodes(spec)
        rng.shuffle(nodes)
        for node in nodes:
            replacement = identify(graph, node["id"], rng, used)
            if replacement is None:
                continue
            original = dict(node)
            node.clear()
            node.update(replacement)
            if S.execute(spec, graph).entities == {answer}:
                break
            node.clear()
            node.update(original)  # the layer broke uniqueness: undo it
        else:
            break  # no constant could be expanded
    return spec


def generate(
    graph: KnowledgeGraph, seed: int, limit: int, attempts_factor: int = 10
) -> list[TaskDraft]:
    """Up to `limit` verified drafts, each with 1 + (0..MAX_LAYERS) layers, seeded."""
    rng = random.Random(seed)
    answers = sorted(
        {s for s, p in graph.objects if p in CLAUSES}
        | {o for (_s, p), objects in graph.objects.items() if p in CLAUSES for o in objects}
    )
    verbalizer = Verbalizer(graph)
    drafts: list[TaskDraft] = []
    seen: set[str] = set()
    for _attempt in range(limit * attempts_factor):
        if len(drafts) >= limit or not answers:
            break
        answer = rng.choice(answers)
        spec = identify(graph, answer, rng, {answer})
        if spec is None:
            continue
        spec = expand(graph, spec, answer, rng, rng.randint(0, MAX_LAYERS))
        key = S.canonical(spec)
        if key in seen:
            continue
        seen.add(key)
        head = noun(type_of(spec) or graph.types.get(answer))
        draft = TaskDraft(
            generator=GENERATOR,
            generator_version=VERSION,
            kind=KIND,
            question=f"Which {head} {' and '.join(verbalizer.clauses(spec))}?",
            spec=spec,
            answer_type=ENTITY,
            expected=frozenset([answer]),
            seed=seed,
            template=f"formal/{S.hops(spec)}-hop",
        )
        try:
            finalize(draft, graph)
        except Rejected:
            continue
        drafts.append(draft)
    return drafts
