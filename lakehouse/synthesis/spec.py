"""Formal task specs (WebShaper): knowledge projections composed by set operations.

A spec is plain JSON, stored with every task and re-executable on the graph:

- `{"op": "entity", "id": E}` → {E}
- `{"op": "edge", "predicate": p, "direction": "subjects", "of": S}` → the knowledge
  projection R_p(S) = {u : (u, p, v) in the graph, v in S} ("the countries that border S");
  `"direction": "objects"` is the inverse {v : (u, p, v), u in S} ("the capital of S").
- `{"op": "and" | "or", "of": [S1, S2, ...]}` → intersection / union; `{"op": "minus",
  "of": [A, B]}` → A without B.
- `{"op": "where", "of": S?, "type": t?, "description": d?, "name_prefix": x?,
  "attribute": {"predicate": p, "low": a, "high": b}?}` → the members of S (every entity when
  absent) matching every given constraint: how obfuscated descriptions ("a country", "born
  in the late 1960s", "a name starting with M") stay executable.
- `{"op": "reachable", "root": E, "depth": k}` → the pages reachable from E's page in 1..k
  link steps (website traversal).
- Literal results: `{"op": "value", "attribute": p, "of": S}` (S must be one entity),
  `{"op": "count", "of": S}`, and `{"op": "argmax" | "argmin", "attribute": p, "of": S}`
  (the member with the largest / smallest value; every tied member when not unique).

`execute` returns the result with its support: for every entity in a set, the relation ids
that put it there (one witness path each, chosen deterministically), and for literal
results the facts read. A task's evidence is the support of its answer.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lakehouse.ids import sha256_hex
from lakehouse.synthesis.graph import KnowledgeGraph

Spec = dict[str, Any]
SET_OPS = ("entity", "edge", "and", "or", "minus", "where", "reachable", "argmax", "argmin")
LITERAL_OPS = ("value", "count")
HOP_OPS = ("edge", "value", "argmax", "argmin")


class SpecError(ValueError):
    """A spec that is not well formed (unknown op, missing field, wrong result kind)."""


@dataclass(frozen=True)
class Result:
    """What a spec evaluates to: a set of entities, or a literal value."""

    entities: frozenset[str] | None = None
    value: str | None = None
    number: float | None = None
    support: dict[str, frozenset[str]] = field(default_factory=dict)  # entity → relation ids
    read: frozenset[str] = frozenset()  # relation ids of the facts a literal result read

    @property
    def is_set(self) -> bool:
        return self.entities is not None

    def unique(self) -> str | None:
        """The one entity of a singleton set; None otherwise."""
        if self.entities is not None and len(self.entities) == 1:
            return next(iter(self.entities))
        return None

    def evidence(self) -> frozenset[str]:
        """The relation ids behind the answer: the support of every member, and facts read."""
        ids = set(self.read)
        for relation_ids in self.support.values():
            ids |= relation_ids
        return frozenset(ids)


# Entity ops (the constructors keep generator code short and the JSON uniform)


def entity(entity_id: str) -> Spec:
    return {"op": "entity", "id": entity_id}


def edge(predicate: str, of: Spec, direction: str = "subjects") -> Spec:
    return {"op": "edge", "predicate": predicate, "direction": direction, "of": of}


def both(*specs: Spec) -> Spec:
    return {"op": "and", "of": list(specs)}


def either(*specs: Spec) -> Spec:
    return {"op": "or", "of": list(specs)}


def minus(whole: Spec, removed: Spec) -> Spec:
    return {"op": "minus", "of": [whole, removed]}


def where(of: Spec | None = None, **constraints: Any) -> Spec:
    spec: Spec = {"op": "where", **{k: v for k, v in constraints.items() if v is not None}}
    if of is not None:
        spec["of"] = of
    return spec


def reachable(root: str, depth: int) -> Spec:
    return {"op": "reachable", "root": root, "depth": depth}


def value(attribute: str, of: Spec) -> Spec:
    return {"op": "value", "attribute": attribute, "of": of}


def count(of: Spec) -> Spec:
    return {"op": "count", "of": of}


def extreme(attribute: str, of: Spec, largest: bool = True) -> Spec:
    return {"op": "argmax" if largest else "argmin", "attribute": attribute, "of": of}


# Execution


def execute(spec: Spec, graph: KnowledgeGraph) -> Result:
    """Evaluate a spec on the graph; SpecError when it is not well formed."""
    op = _field(spec, "op")
    if op == "entity":
        entity_id = _field(spec, "id")
        found = frozenset([entity_id]) if entity_id in graph.names else frozenset()
        return Result(entities=found, support={e: frozenset() for e in found})
    if op == "edge":
        return _edge(spec, graph)
    if op in ("and", "or"):
        parts = [_set(part, graph) for part in _field(spec, "of")]
        if not parts:
            raise SpecError(f"'{op}' needs at least one operand")
        return _and(parts) if op == "and" else _or(parts)
    if op == "minus":
        operands = _field(spec, "of")
        if len(operands) != 2:
            raise SpecError("'minus' takes exactly two operands [whole, removed]")
        whole, removed = (_set(part, graph) for part in operands)
        kept = whole.entities - removed.entities
        return Result(entities=kept, support={e: whole.support[e] for e in kept})
    if op == "where":
        return _where(spec, graph)
    if op == "reachable":
        return _reachable(_field(spec, "root"), int(_field(spec, "depth")), graph)
    if op in ("argmax", "argmin"):
        return _extreme(spec, graph, largest=op == "argmax")
    if op == "value":
        members = _set(_field(spec, "of"), graph)
        only = members.unique()
        if only is None:
            return Result(value=None)
        fact = graph.fact(only, _field(spec, "attribute"))
        if fact is None:
            return Result(value=None)
        read = members.support[only] | {fact.relation_id}
        return Result(value=fact.value, number=fact.number, read=frozenset(read))
    if op == "count":
        members = _set(_field(spec, "of"), graph)
        read = frozenset().union(*members.support.values()) if members.support else frozenset()
        total = len(members.entities)
        return Result(value=str(total), number=float(total), read=read)
    raise SpecError(f"unknown op {op!r}; ops: {', '.join(SET_OPS + LITERAL_OPS)}")


def _field(spec: Spec, name: str) -> Any:
    if not isinstance(spec, dict):
        raise SpecError(f"a spec is a JSON object, got {type(spec).__name__}: {spec!r}")
    if name not in spec:
        raise SpecError(f"spec {json.dumps(spec)[:120]} has no field {name!r}")
    return spec[name]


def _set(spec: Spec, graph: KnowledgeGraph) -> Result:
    result = execute(spec, graph)
    if not result.is_set:
        raise SpecError(f"op {spec.get('op')!r} gives a value where a set of entities is needed")
    return result


def _edge(spec: Spec, graph: KnowledgeGraph) -> Result:
    predicate = _field(spec, "predicate")
    direction = spec.get("direction", "subjects")
    if direction not in ("subjects", "objects"):
        raise SpecError(f"edge direction must be 'subjects' or 'objects', got {direction!r}")
    inner = _set(_field(spec, "of"), graph)
    support: dict[str, frozenset[str]] = {}
    for member in sorted(inner.entities):
        neighbours = (
            graph.subjects_of(predicate, member)
            if direction == "subjects"
            else graph.objects_of(member, predicate)
        )
        for neighbour, relation_id in sorted(neighbours.items()):
            if neighbour not in support:  # the first witness (in id order) is kept
                support[neighbour] = inner.support[member] | {relation_id}
    return Result(entities=frozenset(support), support=support)


def _and(parts: list[Result]) -> Result:
    kept = frozenset.intersection(*(part.entities for part in parts))
    support = {e: frozenset().union(*(part.support[e] for part in parts)) for e in kept}
    return Result(entities=kept, support=support)


def _or(parts: list[Result]) -> Result:
    support: dict[str, frozenset[str]] = {}
    for part in parts:
        for member in sorted(part.entities):
            support.setdefault(member, part.support[member])
    return Result(entities=frozenset(support), support=support)


def _where(spec: Spec, graph: KnowledgeGraph) -> Result:
    if "of" in spec:
        inner = _set(spec["of"], graph)
        candidates, support = inner.entities, dict(inner.support)
    elif spec.get("type") is not None:
        candidates, support = graph.by_type.get(spec["type"], frozenset()), {}
    else:
        candidates, support = frozenset(graph.names), {}
    entity_type = spec.get("type")
    description = spec.get("description")
    prefix = spec.get("name_prefix")
    attribute = spec.get("attribute")
    kept: dict[str, frozenset[str]] = {}
    for member in candidates:
        if entity_type is not None and graph.types.get(member) != entity_type:
            continue
        if description is not None and graph.descriptions.get(member) != description:
            continue
        if prefix is not None and not graph.name(member).startswith(prefix):
            continue
        read = support.get(member, frozenset())
        if attribute is not None:
            fact = graph.fact(member, _field(attribute, "predicate"))
            low, high = attribute.get("low"), attribute.get("high")
            if fact is None or fact.number is None:
                continue
            if (low is not None and fact.number < low) or (high is not None and fact.number > high):
                continue
            read = read | {fact.relation_id}
        kept[member] = read
    return Result(entities=frozenset(kept), support=kept)


def _reachable(root: str, depth: int, graph: KnowledgeGraph) -> Result:
    seen = {root}
    frontier = [root]
    for _step in range(depth):
        frontier = sorted({t for page in frontier for t in graph.links.get(page, ())} - seen)
        seen.update(frontier)
    found = frozenset(seen - {root})
    return Result(entities=found, support={page: frozenset() for page in found})


def _extreme(spec: Spec, graph: KnowledgeGraph, largest: bool) -> Result:
    members = _set(_field(spec, "of"), graph)
    attribute = _field(spec, "attribute")
    numbers = {m: graph.number(m, attribute) for m in members.entities}
    if not numbers or any(number is None for number in numbers.values()):
        return Result(entities=frozenset(), support={})  # every member must have the value
    best = max(numbers.values()) if largest else min(numbers.values())
    read = frozenset(
        graph.fact(member, attribute).relation_id for member in members.entities
    ) | frozenset().union(*members.support.values())
    winners = frozenset(member for member, number in numbers.items() if number == best)
    return Result(entities=winners, support={w: read for w in winners})


# Reading specs


def walk(spec: Spec) -> Iterator[Spec]:
    """Every node of a spec, the root first."""
    yield spec
    inner = spec.get("of")
    if isinstance(inner, dict):
        yield from walk(inner)
    elif isinstance(inner, list):
        for part in inner:
            yield from walk(part)


def hops(spec: Spec) -> int:
    """The relations a solver traverses from a constant to the answer, on the longest chain:
    one per projection, one for reading an attribute (value, argmax/argmin), one per link
    step of a traversal; set operations and counting add none."""
    op = spec.get("op")
    own = int(spec.get("depth", 0)) if op == "reachable" else int(op in HOP_OPS)
    inner = spec.get("of")
    parts = [inner] if isinstance(inner, dict) else list(inner or [])
    return own + max((hops(part) for part in parts), default=0)


def constants(spec: Spec) -> list[str]:
    """The entity ids a spec names (its anchors), in order of appearance, once each."""
    found = [
        node["id"] if node["op"] == "entity" else node["root"]
        for node in walk(spec)
        if node.get("op") in ("entity", "reachable")
    ]
    return list(dict.fromkeys(found))


def canonical(spec: Spec) -> str:
    """The spec as canonical JSON (sorted keys, no spaces): what is stored and hashed."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: Spec) -> str:
    return sha256_hex(canonical(spec))[:16]
