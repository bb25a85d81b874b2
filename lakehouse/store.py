"""The `Lakehouse`: typed, atomic reads and writes of registered tables under one root.

Writers hand it a Polars frame; it checks the frame against the registry, writes the table
(or one partition of it) atomically, and refreshes the DuckDB catalog so SQL sees it.
"""

import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars as pl

from lakehouse import catalog, paths
from lakehouse.errors import QueryError, SchemaMismatchError, UnknownTableError
from lakehouse.parquet_io import write_parquet_atomic
from lakehouse.tables import TABLES, TableSpec, get_table

# DuckDB's message for a name that is not a view: 'Table with name X does not exist!'
_MISSING_TABLE = re.compile(r"Table with name \"?(\w+)\"? does not exist")


def conform_to_schema(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """`frame` with exactly the table's columns, in order and cast to the registered dtypes.

    Missing or unexpected columns are an error naming them; so is a value that cannot be
    cast (strict casting), so nothing is silently nulled on the way in.
    """
    expected = spec.schema
    missing = [name for name in expected if name not in frame.columns]
    extra = [name for name in frame.columns if name not in expected]
    if missing or extra:
        raise SchemaMismatchError(
            f"frame for table {spec.name!r} does not match its schema: "
            f"missing columns {missing}, unexpected columns {extra}"
        )
    try:
        return frame.select(
            pl.col(name).cast(dtype, strict=True) for name, dtype in expected.items()
        )
    except pl.exceptions.PolarsError as error:
        raise SchemaMismatchError(
            f"frame for table {spec.name!r} has values that do not fit its schema: {error}"
        ) from error


class Lakehouse:
    """All tables under one root directory (see lakehouse.paths for the layout)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = paths.lakehouse_root(root)

    def __repr__(self) -> str:
        return f"Lakehouse({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------
    def data_path(self, table: str, partition: str | None = None) -> Path:
        """The Parquet file of a table, or of one partition of a partitioned table."""
        spec = get_table(table)
        if spec.partition_column is None:
            if partition is not None:
                raise ValueError(f"table {table!r} is not partitioned; got partition {partition!r}")
            return paths.table_dir(self.root, table) / paths.DATA_FILE_NAME
        if not partition:
            raise ValueError(
                f"table {table!r} is partitioned by {spec.partition_column!r}: pass a partition"
            )
        directory = paths.partition_dir(self.root, table, spec.partition_column, partition)
        return directory / paths.DATA_FILE_NAME

    def write(self, table: str, frame: pl.DataFrame, partition: str | None = None) -> Path:
        """Replace a table (or one partition) with `frame`, atomically; returns the file path.

        Replacing, not appending, is what makes re-materialization idempotent: the same inputs
        give the same rows, never a second copy.
        """
        spec = get_table(table)
        target = self.data_path(table, partition)
        conformed = conform_to_schema(frame, spec)
        if spec.partition_column is not None:
            values = conformed.get_column(spec.partition_column).unique().to_list()
            if values and values != [partition]:
                raise SchemaMismatchError(
                    f"rows written to partition {partition!r} of {table!r} must all have "
                    f"{spec.partition_column} = {partition!r}; found {sorted(map(str, values))}"
                )
        write_parquet_atomic(conformed, target)
        catalog.refresh_catalog(self.root)
        return target

    def drop_partition(self, table: str, partition: str) -> None:
        """Delete one partition of a table (its directory) and refresh the catalog."""
        directory = self.data_path(table, partition).parent
        if directory.exists():
            shutil.rmtree(directory)
        catalog.refresh_catalog(self.root)

    # -- reading -------------------------------------------------------------------------
    def partitions(self, table: str) -> list[str]:
        """The partition keys of a table that have data, sorted."""
        spec = get_table(table)
        if spec.partition_column is None:
            return []
        base = paths.table_dir(self.root, table)
        prefix = f"{spec.partition_column}="
        return sorted(
            unquote(path.parent.name[len(prefix) :])
            for path in base.glob(f"{prefix}*/{paths.DATA_FILE_NAME}")
        )

    def has_data(self, table: str) -> bool:
        spec = get_table(table)
        if spec.partition_column is None:
            return self.data_path(table).exists()
        return bool(self.partitions(table))

    def scan(self, table: str, partitions: list[str] | None = None) -> pl.LazyFrame:
        """A lazy frame over a table (all partitions, or the given ones).

        A table with no data yet is an error naming it, rather than an empty frame that
        would let a downstream asset quietly produce nothing.
        """
        spec = get_table(table)
        if not self.has_data(table):
            raise UnknownTableError(
                f"table {table!r} has no data under {self.root} yet: "
                f"materialize it first (sailyard materialize --select {table})"
            )
        if spec.partition_column is None:
            files = [self.data_path(table)]
        else:
            keys = self.partitions(table) if partitions is None else partitions
            files = [self.data_path(table, key) for key in keys]
            absent = [str(file) for file in files if not file.exists()]
            if absent:
                raise UnknownTableError(f"table {table!r} has no partition file(s) {absent}")
        if not files:
            return spec.schema.to_frame().lazy()
        return pl.scan_parquet(files, schema=spec.schema)

    def read(self, table: str, partitions: list[str] | None = None) -> pl.DataFrame:
        """The whole table (or the given partitions) as a DataFrame."""
        return self.scan(table, partitions).collect()

    # -- SQL -----------------------------------------------------------------------------
    def refresh_catalog(self) -> Path:
        return catalog.refresh_catalog(self.root)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only DuckDB connection with a view per materialized table."""
        return catalog.connect_read_only(self.root)

    def sql(self, query: str, parameters: list[object] | None = None) -> pl.DataFrame:
        """Run a read-only SQL query over the catalog and return a Polars frame."""
        with self.connect() as connection:
            try:
                return connection.sql(query, params=parameters or None).pl()
            except duckdb.CatalogException as error:
                raise QueryError(self._explain_catalog_error(str(error))) from error
            except duckdb.Error as error:
                raise QueryError(f"query failed: {error}") from error

    def _explain_catalog_error(self, message: str) -> str:
        """Add which tables exist (and which still need materializing) to a catalog error."""
        materialized = sorted(s.name for s in catalog.materialized_tables(self.root))
        hint = f"tables with data: {', '.join(materialized) or 'none yet'}"
        missing = _MISSING_TABLE.search(message)
        if missing and missing.group(1) in TABLES and missing.group(1) not in materialized:
            name = missing.group(1)
            hint = (
                f"table {name!r} is registered but not materialized yet "
                f"(sailyard materialize --select {name}); {hint}"
            )
        return f"{message.splitlines()[0]}; {hint}"
