"""The DuckDB catalog: a small database file holding one view per materialized table.

DuckDB only reads here. The views point at the Parquet files, so queries see each table's
latest atomic write without the catalog being touched; the catalog is rebuilt only when the
set of tables or partitions changes. It is rebuilt into a new file and renamed into place, so
a `sailyard sql` session holding the old file open is never blocked or broken.
"""

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakehouse import paths
from lakehouse.parquet_io import remove_stale_temp_files
from lakehouse.tables import TABLES, TableSpec

TABLES_VIEW = "sailyard_tables"  # a view listing every registered table and whether it has data


@dataclass(frozen=True)
class DerivedView:
    """A view over registered tables, created once all of them are materialized."""

    name: str
    tables: tuple[str, ...]
    description: str
    sql: str


DERIVED_VIEWS = (
    DerivedView(
        name="qa_stats",
        tables=("qa_tasks",),
        description="qa_tasks counted by kind, generator, hops and split, with pass rates",
        sql="""
            SELECT kind, generator, hops, coalesce(split, 'failed_check') AS split,
                   count(*) AS tasks,
                   round(avg(difficulty), 3) AS mean_difficulty,
                   round(avg(spec_verified::INT), 4) AS spec_verified,
                   round(avg(answer_not_in_question::INT), 4) AS answer_not_in_question,
                   round(avg((duplicate_of IS NULL)::INT), 4) AS not_duplicate,
                   round(avg(answerable::INT), 4) AS answerable
            FROM qa_tasks GROUP BY ALL ORDER BY kind, generator, hops, split
        """,
    ),
    DerivedView(
        name="trajectory_stats",
        tables=("trajectories",),
        description="trajectories by collection, policy, model, paradigm and task kind: "
        "accuracy, valid tool-call rate, turns, tokens and time",
        sql="""
            SELECT collection, policy, model, paradigm, method, kind,
                   count(*) AS trajectories,
                   round(avg(correct::INT), 4) AS accuracy,
                   round(sum(tool_calls_valid)
                         / nullif(sum(tool_calls_valid + tool_calls_invalid), 0), 4)
                       AS valid_tool_call_rate,
                   round(avg(turns), 2) AS avg_turns,
                   round(avg(tokens_out), 1) AS avg_tokens_out,
                   round(avg(wall_s), 3) AS avg_wall_s
            FROM trajectories GROUP BY ALL ORDER BY ALL
        """,
    ),
    DerivedView(
        name="sft_trajectories",
        tables=("trajectories",),
        description="the rejection-sampled SFT selection: correct, answered, every tool call "
        "valid, no format violation, train split only",
        sql="""
            SELECT * FROM trajectories
            WHERE correct AND termination = 'answer' AND tool_calls_invalid = 0
              AND violations = 0 AND split = 'train'
        """,
    ),
)


def table_glob(root: Path, spec: TableSpec) -> str:
    """The glob of every Parquet file of a table (all partitions)."""
    base = paths.table_dir(root, spec.name)
    if spec.partition_column:
        return str(base / "*" / paths.DATA_FILE_NAME)
    return str(base / paths.DATA_FILE_NAME)


def materialized_tables(root: Path) -> list[TableSpec]:
    """Registered tables that have at least one data file on disk."""
    found = []
    for spec in TABLES.values():
        base = paths.table_dir(root, spec.name)
        pattern = f"*/{paths.DATA_FILE_NAME}" if spec.partition_column else paths.DATA_FILE_NAME
        if any(base.glob(pattern)):
            found.append(spec)
    return found


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def refresh_catalog(root: Path) -> Path:
    """Rebuild the catalog file with a view per materialized table; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    target = paths.catalog_path(root)
    remove_stale_temp_files(root)
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex}")
    present = {spec.name for spec in materialized_tables(root)}
    try:
        with duckdb.connect(str(temp)) as connection:
            for spec in TABLES.values():
                if spec.name not in present:
                    continue
                connection.execute(
                    f"CREATE VIEW {spec.name} AS SELECT * FROM read_parquet("
                    f"{_sql_string(table_glob(root, spec))}, union_by_name = true)"
                )
                connection.execute(
                    f"COMMENT ON VIEW {spec.name} IS {_sql_string(spec.description)}"
                )
            for view in DERIVED_VIEWS:
                if set(view.tables) <= present:
                    connection.execute(f"CREATE VIEW {view.name} AS {view.sql}")
                    connection.execute(
                        f"COMMENT ON VIEW {view.name} IS {_sql_string(view.description)}"
                    )
            rows = ", ".join(
                f"({_sql_string(s.name)}, {_sql_string(s.group)}, {_sql_string(s.description)}, "
                f"{_sql_string(s.id_column)}, {'true' if s.name in present else 'false'})"
                for s in TABLES.values()
            )
            connection.execute(
                f"CREATE VIEW {TABLES_VIEW} AS SELECT * FROM (VALUES {rows}) "
                "AS t(table_name, asset_group, row_is, id_column, materialized)"
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return target


def connect_read_only(root: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog, building the catalog first if it is missing."""
    target = paths.catalog_path(root)
    if not target.exists():
        refresh_catalog(root)
    return duckdb.connect(str(target), read_only=True)
