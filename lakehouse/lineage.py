"""Row lineage: stamping rows with who made them, and walking any id back to its sources.

Every row carries `parent_ids` (the rows it was made from) plus `_run_id`, `_code_version`
and `_produced_at`. Because ids carry their table's prefix, a walk needs one indexed lookup
per hop, whatever the table.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from lakehouse.errors import UnknownIdError
from lakehouse.store import Lakehouse
from lakehouse.tables import TABLES, TableSpec, table_for_id

MAX_LINEAGE_DEPTH = 64  # deeper than any chain the asset graph can make; guards against cycles


@dataclass(frozen=True)
class RunStamp:
    """Who produced a batch of rows: the run, the code version and the time."""

    run_id: str
    code_version: str
    produced_at: datetime

    @classmethod
    def now(cls, run_id: str, code_version: str) -> "RunStamp":
        return cls(run_id=run_id, code_version=code_version, produced_at=datetime.now(UTC))


def stamp(frame: pl.DataFrame, run: RunStamp) -> pl.DataFrame:
    """`frame` with the three run columns set (it must already hold `parent_ids`)."""
    if "parent_ids" not in frame.columns:
        raise ValueError("rows must carry parent_ids before they are stamped")
    return frame.with_columns(
        pl.lit(run.run_id, dtype=pl.String).alias("_run_id"),
        pl.lit(run.code_version, dtype=pl.String).alias("_code_version"),
        pl.lit(run.produced_at, dtype=pl.Datetime("us", "UTC")).alias("_produced_at"),
    )


@dataclass
class LineageNode:
    """One row in a lineage tree, with the rows it was made from."""

    row_id: str
    table: str
    row: dict[str, object]
    parents: list["LineageNode"] = field(default_factory=list)
    missing_parents: list[str] = field(default_factory=list)  # ids no table holds any more

    def label(self) -> str:
        spec = TABLES[self.table]
        parts = [f"{key}={self.row[key]!r}" for key in spec.label_columns if key in self.row]
        return " ".join(parts)

    def walk(self) -> list["LineageNode"]:
        """This node and all its ancestors, depth first."""
        nodes = [self]
        for parent in self.parents:
            nodes.extend(parent.walk())
        return nodes


def _lookup(lakehouse: Lakehouse, spec: TableSpec, row_id: str) -> dict[str, object] | None:
    if not lakehouse.has_data(spec.name):
        return None
    columns = [c for c in spec.schema if c not in ("body", "text")]  # keep the tree readable
    found = (
        lakehouse.scan(spec.name)
        .filter(pl.col(spec.id_column) == row_id)
        .select(columns)
        .head(1)
        .collect()
    )
    return found.row(0, named=True) if found.height else None


def find_row(lakehouse: Lakehouse, row_id: str) -> tuple[TableSpec, dict[str, object]]:
    """The table and row holding `row_id`; an unknown id is an error saying what was tried."""
    spec = table_for_id(row_id)
    candidates = [spec] if spec is not None else list(TABLES.values())
    for candidate in candidates:
        row = _lookup(lakehouse, candidate, row_id)
        if row is not None:
            return candidate, row
    if spec is None:
        prefixes = ", ".join(f"{s.id_prefix}_ ({s.name})" for s in TABLES.values())
        raise UnknownIdError(
            f"no row has id {row_id!r}, and it has no known table prefix ({prefixes})"
        )
    raise UnknownIdError(f"no row of table {spec.name!r} under {lakehouse.root} has id {row_id!r}")


def trace(lakehouse: Lakehouse, row_id: str) -> LineageNode:
    """The lineage tree of a row: the row, its parents, their parents, down to the sources."""
    spec, row = find_row(lakehouse, row_id)
    return _build(lakehouse, spec, row, depth=0)


def _build(
    lakehouse: Lakehouse, spec: TableSpec, row: dict[str, object], depth: int
) -> LineageNode:
    node = LineageNode(row_id=str(row[spec.id_column]), table=spec.name, row=row)
    if depth >= MAX_LINEAGE_DEPTH:
        return node
    for parent_id in row.get("parent_ids") or []:
        try:
            parent_spec, parent_row = find_row(lakehouse, parent_id)
        except UnknownIdError:
            node.missing_parents.append(parent_id)
            continue
        node.parents.append(_build(lakehouse, parent_spec, parent_row, depth + 1))
    return node
