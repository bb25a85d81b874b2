from datetime import UTC, datetime

import polars as pl
import pytest

from lakehouse import Lakehouse
from lakehouse.errors import QueryError, SchemaMismatchError, UnknownTableError
from lakehouse.lineage import RunStamp, stamp
from lakehouse.tables import DOCUMENT_REJECTS, WEB_SNAPSHOTS, get_table


def _rejects(n: int = 2, run: str = "run-1") -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "reject_id": [f"rej_{i}" for i in range(n)],
            "snapshot_id": [f"snap_{i}" for i in range(n)],
            "crawl_id": ["c"] * n,
            "url": [f"https://example.org/{i}" for i in range(n)],
            "reason": ["too_short"] * n,
            "detail": ["3 words < 5"] * n,
            "duplicate_of": [None] * n,
            "parent_ids": [[f"snap_{i}"] for i in range(n)],
        }
    )
    return stamp(frame, RunStamp(run, "v1", datetime(2026, 1, 1, tzinfo=UTC)))


def _snapshots(crawl: str, n: int = 2) -> pl.DataFrame:
    rows = {name: [None] * n for name in WEB_SNAPSHOTS.columns}
    rows |= {
        "snapshot_id": [f"snap_{crawl}{i}" for i in range(n)],
        "crawl_id": [crawl] * n,
        "url": [f"https://example.org/{i}" for i in range(n)],
        "status": [200] * n,
        "redirects": [[] for _ in range(n)],
        "links": [[] for _ in range(n)],
        "parent_ids": [[] for _ in range(n)],
    }
    frame = pl.DataFrame(rows, schema={**WEB_SNAPSHOTS.columns, "parent_ids": pl.List(pl.String)})
    return stamp(frame, RunStamp.now("run", "v1"))


def test_write_then_read_round_trips_with_the_registered_schema(lakehouse: Lakehouse):
    lakehouse.write("document_rejects", _rejects())
    back = lakehouse.read("document_rejects")
    assert back.schema == DOCUMENT_REJECTS.schema
    assert back.get_column("reject_id").to_list() == ["rej_0", "rej_1"]


def test_rewriting_replaces_rows_instead_of_appending(lakehouse: Lakehouse):
    lakehouse.write("document_rejects", _rejects(3))
    lakehouse.write("document_rejects", _rejects(3, run="run-2"))
    back = lakehouse.read("document_rejects")
    assert back.height == 3
    assert back.get_column("_run_id").unique().to_list() == ["run-2"]


def test_missing_and_unexpected_columns_are_named(lakehouse: Lakehouse):
    frame = _rejects().drop("reason").with_columns(pl.lit(1).alias("surprise"))
    with pytest.raises(SchemaMismatchError, match=r"missing columns \['reason'\].*\['surprise'\]"):
        lakehouse.write("document_rejects", frame)


def test_values_that_do_not_cast_are_an_error_not_nulls(lakehouse: Lakehouse):
    frame = _snapshots("c").with_columns(pl.lit("two hundred").alias("status"))
    with pytest.raises(SchemaMismatchError, match="do not fit"):
        lakehouse.write("web_snapshots", frame, partition="c")


def test_partitions_are_separate_files_and_read_together(lakehouse: Lakehouse):
    lakehouse.write("web_snapshots", _snapshots("crawl/a"), partition="crawl/a")
    lakehouse.write("web_snapshots", _snapshots("b"), partition="b")
    assert lakehouse.partitions("web_snapshots") == ["b", "crawl/a"]
    assert lakehouse.read("web_snapshots").height == 4
    assert lakehouse.read("web_snapshots", partitions=["b"]).height == 2


def test_rows_must_belong_to_the_partition_they_are_written_to(lakehouse: Lakehouse):
    with pytest.raises(SchemaMismatchError, match="must all have crawl_id = 'b'"):
        lakehouse.write("web_snapshots", _snapshots("a"), partition="b")
    with pytest.raises(ValueError, match="pass a partition"):
        lakehouse.write("web_snapshots", _snapshots("a"))


def test_reading_a_table_with_no_data_names_it(lakehouse: Lakehouse):
    with pytest.raises(UnknownTableError, match="'documents' has no data"):
        lakehouse.read("documents")
    with pytest.raises(UnknownTableError, match="unknown table 'nope'; registered tables"):
        get_table("nope")


def test_sql_sees_every_write_through_the_catalog(lakehouse: Lakehouse):
    lakehouse.write("document_rejects", _rejects(2))
    assert lakehouse.sql("SELECT count(*) AS n FROM document_rejects").item() == 2
    lakehouse.write("document_rejects", _rejects(5))  # same file: the view reads the new one
    assert lakehouse.sql("SELECT count(*) AS n FROM document_rejects").item() == 5
    listed = lakehouse.sql("SELECT table_name, materialized FROM sailyard_tables")
    assert dict(listed.iter_rows())["document_rejects"] is True
    assert dict(listed.iter_rows())["documents"] is False


def test_sql_errors_say_what_is_wrong(lakehouse: Lakehouse):
    lakehouse.write("document_rejects", _rejects())
    with pytest.raises(QueryError, match="'documents' is registered but not materialized"):
        lakehouse.sql("SELECT * FROM documents")
    with pytest.raises(QueryError, match="tables with data: document_rejects"):
        lakehouse.sql("SELECT * FROM no_such_table")
    with pytest.raises(QueryError, match="syntax error"):
        lakehouse.sql("SELEC 1")


def test_sql_is_read_only(lakehouse: Lakehouse):
    lakehouse.write("document_rejects", _rejects())
    with pytest.raises(QueryError, match="read-only"):
        lakehouse.sql("CREATE TABLE t AS SELECT 1")


def test_sql_parameters(lakehouse: Lakehouse):
    lakehouse.write("document_rejects", _rejects(3))
    found = lakehouse.sql("SELECT url FROM document_rejects WHERE reject_id = ?", ["rej_2"])
    assert found.item() == "https://example.org/2"
