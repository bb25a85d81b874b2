"""Task specs as DuckDB SQL: the answers of `spec.execute`, computed from the raw tables.

The baseline of `sailyard bench synthesis`, and a cross-check of the executor: the same
rules as `KnowledgeGraph.from_tables` and `spec.execute`, written once more in SQL with no
code of theirs (only their constants: the confidence floor, the Factbook-only predicates,
the extractor trust order, the aggregate entries).

`SpecSql` registers the `entities` and `relations` frames in an in-memory DuckDB and derives
four tables from them:
- `known(entity_id, name, description, entity_type)`: the entities less the Factbook
  aggregates ("World");
- `edges(subject, predicate, object)`: entity-object relations between two known, distinct
  entities, at or above the confidence floor, never "mentions", and the Factbook's
  predicates (borders, capital, …) only from the Factbook;
- `facts(subject, predicate, value, number)`: literal relations by the same filters, from
  the most trusted extractor of each (subject, predicate) only, one row where those agree
  on one value (an ambiguous attribute has no row); `number` is the first row's, in
  relation id order, as the graph takes it;
- `links(source, target)`: the "mentions" relations between known, distinct entities (the
  page link graph, at any confidence).

`to_sql` translates a spec into one query: a set spec selects rows of `id`, a literal spec
(`value`, `count`) zero or one row of `value`. Every op of `spec` translates: entity, edge,
and/or/minus (INTERSECT/UNION/EXCEPT), where (joins on `known` and `facts`), reachable (a
recursive CTE over `links`), value, count, argmax/argmin; an op it does not know raises
`Untranslatable`, so the benchmark counts it instead of guessing.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import polars as pl

from lakehouse.synthesis.graph import (
    AGGREGATE_FACTBOOK_CODES,
    EDGE_TYPES,
    ENTITY_OBJECT,
    EXTRACTOR_PRIORITY,
    FACTBOOK_EDGE_PREDICATES,
    MENTIONS_PREDICATE,
    QUANTITY_TYPES,
    TRUSTED_QUANTITY_EXTRACTORS,
)
from lakehouse.synthesis.spec import Result, Spec, SpecError

DEFAULT_MIN_CONFIDENCE = 0.4  # KnowledgeGraph.from_tables' default
UNKNOWN_EXTRACTOR_RANK = 9  # graph._trusted_first ranks an unlisted extractor after all

# What a spec answers: a set of entity ids, or a literal value (None: no value).
Answer = frozenset[str] | str | None


class Untranslatable(ValueError):
    """A spec op the translator has no SQL for; `op` names it."""

    def __init__(self, op: object) -> None:
        super().__init__(f"no SQL for spec op {op!r}")
        self.op = op


@dataclass(frozen=True)
class Query:
    """One spec as SQL: rows of `id` (a set spec) or at most one row of `value`."""

    sql: str
    is_set: bool


def answer_of(result: Result) -> Answer:
    """The answer `execute` gives, in the form `SpecSql.answer` gives it."""
    return result.entities if result.is_set else result.value


def _text(value: object) -> str:
    """A SQL string literal."""
    if not isinstance(value, str):
        raise SpecError(f"expected a string in a spec, got {value!r}")
    return "'" + value.replace("'", "''") + "'"


def _number(value: object) -> str:
    """A SQL double literal (a bool or a string is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"expected a number in a spec, got {value!r}")
    return f"CAST({float(value)!r} AS DOUBLE)"


def _field(spec: Spec, name: str) -> object:
    if not isinstance(spec, dict):
        raise SpecError(f"a spec is a JSON object, got {type(spec).__name__}: {spec!r}")
    if name not in spec:
        raise SpecError(f"spec has no field {name!r}: {spec!r}"[:200])
    return spec[name]


class _Translator:
    """Spec → SQL, with a fresh name for each CTE it writes."""

    def __init__(self) -> None:
        self._names: Iterator[int] = itertools.count()

    def name(self, stem: str) -> str:
        return f"{stem}_{next(self._names)}"

    def query(self, spec: Spec) -> Query:
        op = _field(spec, "op")
        if op in ("value", "count"):
            return Query(self.literal(spec), is_set=False)
        return Query(f"SELECT DISTINCT id FROM ({self.set(spec)})", is_set=True)

    def set(self, spec: Spec) -> str:
        """A SELECT of `id`: the members of a set spec (duplicates allowed)."""
        op = _field(spec, "op")
        if op == "entity":
            return (
                f"SELECT entity_id AS id FROM known WHERE entity_id = {_text(_field(spec, 'id'))}"
            )
        if op == "edge":
            return self.edge(spec)
        if op in ("and", "or", "minus"):
            return self.combined(spec, op)
        if op == "where":
            return self.where(spec)
        if op == "reachable":
            return self.reachable(spec)
        if op in ("argmax", "argmin"):
            return self.extreme(spec, largest=op == "argmax")
        if op in ("value", "count"):
            raise SpecError(f"op {op!r} gives a value where a set of entities is needed")
        raise Untranslatable(op)

    def edge(self, spec: Spec) -> str:
        direction = spec.get("direction", "subjects")
        if direction not in ("subjects", "objects"):
            raise SpecError(f"edge direction must be 'subjects' or 'objects', got {direction!r}")
        inner = self.set(_field(spec, "of"))
        found, given = ("subject", "object") if direction == "subjects" else ("object", "subject")
        return (
            f"SELECT {found} AS id FROM edges WHERE predicate = "
            f"{_text(_field(spec, 'predicate'))} AND {given} IN ({inner})"
        )

    def combined(self, spec: Spec, op: str) -> str:
        operands = _field(spec, "of")
        if not isinstance(operands, list) or not operands:
            raise SpecError(f"'{op}' needs a list of operands")
        if op == "minus" and len(operands) != 2:
            raise SpecError("'minus' takes exactly two operands [whole, removed]")
        keyword = {"and": "INTERSECT", "or": "UNION", "minus": "EXCEPT"}[op]
        return f" {keyword} ".join(f"SELECT id FROM ({self.set(part)})" for part in operands)

    def where(self, spec: Spec) -> str:
        joins, conditions = [], []
        if "of" in spec:
            conditions.append(f"k.entity_id IN ({self.set(spec['of'])})")
        if spec.get("type") is not None:
            conditions.append(f"k.entity_type = {_text(spec['type'])}")
        if spec.get("description") is not None:
            conditions.append(f"k.description = {_text(spec['description'])}")
        if spec.get("name_prefix") is not None:
            conditions.append(f"starts_with(k.name, {_text(spec['name_prefix'])})")
        attribute = spec.get("attribute")
        if attribute is not None:
            predicate = _text(_field(attribute, "predicate"))
            joins.append(f"JOIN facts f ON f.subject = k.entity_id AND f.predicate = {predicate}")
            conditions.append("f.number IS NOT NULL")
            if attribute.get("low") is not None:
                conditions.append(f"f.number >= {_number(attribute['low'])}")
            if attribute.get("high") is not None:
                conditions.append(f"f.number <= {_number(attribute['high'])}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT k.entity_id AS id FROM known k {' '.join(joins)}{where}"

    def reachable(self, spec: Spec) -> str:
        root = _text(_field(spec, "root"))
        depth = _field(spec, "depth")
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise SpecError(f"reachable depth must be an integer, got {depth!r}")
        walk = self.name("walk")
        return (
            f"WITH RECURSIVE {walk}(id, step) AS (SELECT {root}, 0 UNION "
            f"SELECT l.target, w.step + 1 FROM {walk} w JOIN links l ON l.source = w.id "
            f"WHERE w.step < {depth}) SELECT id FROM {walk} WHERE id <> {root}"
        )

    def extreme(self, spec: Spec, largest: bool) -> str:
        """The members with the best value; none unless every member has one."""
        inner = self.set(_field(spec, "of"))
        predicate = _text(_field(spec, "attribute"))
        scored = self.name("scored")
        best = "max" if largest else "min"
        return (
            f"WITH {scored} AS (SELECT m.id, f.number FROM (SELECT DISTINCT id FROM ({inner})) m "
            f"LEFT JOIN facts f ON f.subject = m.id AND f.predicate = {predicate}) "
            f"SELECT id FROM {scored} WHERE number = (SELECT {best}(number) FROM {scored}) "
            f"AND NOT EXISTS (SELECT 1 FROM {scored} WHERE number IS NULL)"
        )

    def literal(self, spec: Spec) -> str:
        op = _field(spec, "op")
        inner = self.set(_field(spec, "of"))
        if op == "count":
            return f"SELECT CAST(count(DISTINCT id) AS VARCHAR) AS value FROM ({inner})"
        predicate = _text(_field(spec, "attribute"))
        return (
            "SELECT f.value FROM facts f, "
            f"(SELECT min(id) AS id, count(DISTINCT id) AS n FROM ({inner})) only_one "
            f"WHERE only_one.n = 1 AND f.subject = only_one.id AND f.predicate = {predicate}"
        )


def to_sql(spec: Spec) -> Query:
    """The spec as one query over the tables `SpecSql` builds; Untranslatable for an op it
    has no SQL for, SpecError for a spec that is not well formed."""
    return _Translator().query(spec)


def _in_list(values: object) -> str:
    return ", ".join(_text(value) for value in sorted(values))


def _edge_type_sql() -> str:
    """The condition that an edge's ends have the types its predicate needs (EDGE_TYPES),
    on the aliases s (subject) and o (object) of `known`."""
    conditions = []
    for predicate, (subject_types, object_types) in sorted(EDGE_TYPES.items()):
        checks = []
        if subject_types is not None:
            checks.append(f"coalesce(s.entity_type, '') IN ({_in_list(subject_types)})")
        if object_types is not None:
            checks.append(f"coalesce(o.entity_type, '') IN ({_in_list(object_types)})")
        if checks:
            conditions.append(f"(r.predicate <> {_text(predicate)} OR ({' AND '.join(checks)}))")
    return " AND ".join(conditions) or "TRUE"


def _table_sql(min_confidence: float) -> list[str]:
    """The statements deriving known/edges/facts/links from `entities_in`/`relations_in`."""
    rank = " ".join(
        f"WHEN {_text(extractor)} THEN {position}"
        for extractor, position in EXTRACTOR_PRIORITY.items()
    )
    kept = (
        "r.subject_id IN (SELECT entity_id FROM known) "
        f"AND r.predicate <> {_text(MENTIONS_PREDICATE)} "
        f"AND coalesce(r.confidence, 0) >= {_number(min_confidence)} "
        f"AND (r.predicate NOT IN ({_in_list(FACTBOOK_EDGE_PREDICATES)}) "
        "OR r.extractor = 'factbook')"
    )
    return [
        f"""CREATE TABLE known AS SELECT entity_id, name, description, entity_type
            FROM entities_in
            WHERE factbook_code IS NULL
               OR factbook_code NOT IN ({_in_list(AGGREGATE_FACTBOOK_CODES)})""",
        f"""CREATE TABLE edges AS
            WITH typed AS (
                SELECT r.subject_id AS subject, r.predicate, r.object_id AS object
                FROM relations_in r
                JOIN known s ON s.entity_id = r.subject_id
                JOIN known o ON o.entity_id = r.object_id
                WHERE {kept} AND r.object_type = {_text(ENTITY_OBJECT)}
                  AND r.object_id <> r.subject_id AND {_edge_type_sql()})
            SELECT DISTINCT * FROM (
                SELECT * FROM typed
                UNION ALL
                SELECT subject, 'language', object FROM typed
                WHERE predicate = 'official_language')""",
        f"""CREATE TABLE facts AS
            WITH literal AS (
                SELECT r.relation_id, r.subject_id AS subject, r.predicate,
                       r.object_value AS value, r.number,
                       CASE r.extractor {rank} ELSE {UNKNOWN_EXTRACTOR_RANK} END AS rank
                FROM relations_in r
                WHERE {kept} AND r.object_type IS DISTINCT FROM {_text(ENTITY_OBJECT)}
                  AND (r.object_type NOT IN ({_in_list(QUANTITY_TYPES)})
                       OR r.extractor IN ({_in_list(TRUSTED_QUANTITY_EXTRACTORS)}))),
            trusted AS (
                SELECT * FROM literal
                QUALIFY rank = min(rank) OVER (PARTITION BY subject, predicate))
            SELECT subject, predicate, min(value) AS value,
                   first(number ORDER BY relation_id) AS number
            FROM trusted GROUP BY subject, predicate
            HAVING count(DISTINCT value) + max(CASE WHEN value IS NULL THEN 1 ELSE 0 END) = 1""",
        f"""CREATE TABLE links AS SELECT DISTINCT r.subject_id AS source, r.object_id AS target
            FROM relations_in r
            WHERE r.predicate = {_text(MENTIONS_PREDICATE)}
              AND r.subject_id IN (SELECT entity_id FROM known)
              AND r.object_id IN (SELECT entity_id FROM known)
              AND r.object_id <> r.subject_id""",
    ]


class SpecSql:
    """An in-memory DuckDB over `entities` and `relations` that answers specs by SQL."""

    def __init__(
        self,
        entities: pl.DataFrame,
        relations: pl.DataFrame,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        threads: int | None = None,
    ) -> None:
        self.connection = duckdb.connect(":memory:")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        if "factbook_code" not in entities.columns:
            entities = entities.with_columns(factbook_code=pl.lit(None, pl.String))
        self.connection.register("entities_in", entities.to_arrow())
        self.connection.register("relations_in", relations.to_arrow())
        for statement in _table_sql(min_confidence):
            self.connection.execute(statement)
        self.connection.unregister("entities_in")
        self.connection.unregister("relations_in")

    def count(self, table: str) -> int:
        """Rows of one derived table (known, edges, facts, links)."""
        if table not in ("known", "edges", "facts", "links"):
            raise ValueError(f"no derived table {table!r}")
        (rows,) = self.connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(rows)

    def run(self, query: Query) -> Answer:
        """The answer of a translated spec."""
        rows = self.connection.execute(query.sql).fetchall()
        if query.is_set:
            return frozenset(row[0] for row in rows)
        if len(rows) > 1:
            raise SpecError(f"a literal query gave {len(rows)} rows: {query.sql[:200]}")
        return rows[0][0] if rows else None

    def answer(self, spec: Spec) -> Answer:
        """The answer of a spec (Untranslatable for an op with no SQL)."""
        return self.run(to_sql(spec))

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "SpecSql":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
