import json

import pytest

from lakehouse import Lakehouse
from lakehouse.errors import UnknownIdError
from lakehouse.lineage import RunStamp, stamp, trace
from tests.conftest import build_replayed_lakehouse


@pytest.fixture
def built(lakehouse: Lakehouse) -> Lakehouse:
    build_replayed_lakehouse(lakehouse, limit=30)
    return lakehouse


def test_a_document_traces_back_to_the_fetch_it_came_from(built: Lakehouse):
    doc = built.read("documents").row(0, named=True)
    node = trace(built, doc["doc_id"])
    assert node.table == "documents"
    assert node.row["title"] == doc["title"]
    (snapshot,) = node.parents
    assert snapshot.table == "web_snapshots"
    assert snapshot.row_id == doc["snapshot_id"]
    assert snapshot.row["url"] == doc["url"]
    assert snapshot.parents == []
    assert snapshot.missing_parents == []
    assert [n.table for n in node.walk()] == ["documents", "web_snapshots"]
    assert "title='" in node.label()


def test_a_parent_that_no_longer_exists_is_reported_not_fatal(built: Lakehouse):
    doc = built.read("documents").row(0, named=True)
    built.drop_partition("web_snapshots", "c1")
    node = trace(built, doc["doc_id"])
    assert node.parents == []
    assert node.missing_parents == [doc["snapshot_id"]]


def test_unknown_ids_are_errors_that_say_where_they_looked(built: Lakehouse):
    with pytest.raises(UnknownIdError, match="no row of table 'documents'"):
        trace(built, "doc_0000")
    with pytest.raises(UnknownIdError, match="no known table prefix"):
        trace(built, "mystery")


def test_stamping_requires_parent_ids():
    import polars as pl

    with pytest.raises(ValueError, match="parent_ids"):
        stamp(pl.DataFrame({"a": [1]}), RunStamp.now("r", "v"))
    stamped = stamp(pl.DataFrame({"parent_ids": [["x"]]}), RunStamp.now("r", "v"))
    assert stamped.get_column("_run_id").item() == "r"
    assert json.dumps(stamped.get_column("parent_ids").to_list()) == '[["x"]]'
