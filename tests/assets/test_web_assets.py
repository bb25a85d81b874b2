"""The web group materialized through Dagster on a replay slice, then queried with DuckDB."""

import dagster as dg
import pytest

from assets.partitions import CRAWLS
from assets.web import extract_documents, web_snapshots
from dagster_project.resources import LakehouseResource
from lakehouse import Lakehouse

SLICE = {
    "ops": {"web_snapshots": {"config": {"replay": {"limit": 120, "include_factbook": False}}}}
}


def materialize_web(instance, home, selection, partition=None, run_config=None):
    """Materialize the selected web-group assets into the lakehouse at `home`."""
    return dg.materialize(
        [web_snapshots, extract_documents],
        selection=selection,
        instance=instance,
        resources={"lakehouse": LakehouseResource(root=str(home))},
        partition_key=partition,
        run_config=run_config or {},
    )


@pytest.fixture
def instance(home):
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as test_instance:
        yield test_instance


def _build(instance, home, crawl="crawl-a"):
    instance.add_dynamic_partitions(CRAWLS.name, [crawl])
    crawled = materialize_web(instance, home, [dg.AssetKey("web_snapshots")], crawl, SLICE)
    outputs = ["documents", "document_rejects", "document_clusters"]
    built = materialize_web(instance, home, [dg.AssetKey(name) for name in outputs])
    return crawled, built


def test_web_group_materializes_and_is_queryable_with_duckdb(instance, home):
    crawled, built = _build(instance, home)
    assert crawled.success
    assert built.success
    checks = crawled.get_asset_check_evaluations() + built.get_asset_check_evaluations()
    assert len(checks) == 7
    assert all(check.passed for check in checks)

    lakehouse = Lakehouse(home)
    counts = lakehouse.sql(
        "SELECT (SELECT count(*) FROM web_snapshots) AS snapshots,"
        " (SELECT count(*) FROM documents) AS documents,"
        " (SELECT count(*) FROM document_rejects) AS rejects"
    ).row(0, named=True)
    assert counts["snapshots"] == 120
    assert counts["documents"] + counts["rejects"] == 120
    joined = lakehouse.sql(
        "SELECT d.title, s.url, s.crawl_id FROM documents d"
        " JOIN web_snapshots s ON s.snapshot_id = d.parent_ids[1] LIMIT 5"
    )
    assert joined.height == 5
    assert set(joined.get_column("crawl_id")) == {"crawl-a"}

    metadata = built.asset_materializations_for_node("extract_documents")[0].metadata
    assert metadata["dagster/row_count"].value == counts["documents"]
    assert "| doc_id | title |" in metadata["preview"].value
    assert "text" in metadata["dagster/column_lineage"].value.deps_by_column
    assert metadata["length_histogram"].value.startswith(
        "![document length histogram](data:image/png"
    )


def test_rematerializing_gives_the_same_ids_and_no_duplicates(instance, home):
    _build(instance, home)
    lakehouse = Lakehouse(home)
    first_snapshots = lakehouse.read("web_snapshots").get_column("snapshot_id").sort()
    first_docs = lakehouse.read("documents").drop("_run_id", "_produced_at")
    _build(instance, home)
    assert lakehouse.read("web_snapshots").get_column("snapshot_id").sort().equals(first_snapshots)
    assert lakehouse.read("documents").drop("_run_id", "_produced_at").equals(first_docs)


def test_a_second_crawl_adds_a_partition_and_supersedes_older_copies(instance, home):
    _build(instance, home, crawl="crawl-a")
    lakehouse = Lakehouse(home)
    first_file = lakehouse.data_path("web_snapshots", "crawl-a").read_bytes()
    _build(instance, home, crawl="crawl-b")
    assert lakehouse.partitions("web_snapshots") == ["crawl-a", "crawl-b"]
    assert lakehouse.data_path("web_snapshots", "crawl-a").read_bytes() == first_file
    documents = lakehouse.read("documents")
    assert documents.height <= 120
    assert set(documents.get_column("crawl_id")) == {"crawl-b"}
    superseded = lakehouse.sql(
        "SELECT count(*) FROM document_rejects WHERE reason = 'superseded'"
    ).item()
    assert superseded == 120


def test_crawl_config_names_exactly_one_source():
    from assets.web import CrawlConfig, FilesSourceConfig, HttpSourceConfig, source_settings
    from lakehouse.errors import SailyardError
    from lakehouse.web.crawler import CrawlSettings
    from lakehouse.web.replay import ReplaySettings
    from lakehouse.web.warc_source import WarcSettings

    assert isinstance(source_settings(CrawlConfig()), ReplaySettings)
    http = source_settings(CrawlConfig(http=HttpSourceConfig(seeds=["https://example.org/"])))
    assert isinstance(http, CrawlSettings)
    assert http.allowed_hosts == ("example.org",)
    warc = source_settings(CrawlConfig(warc=FilesSourceConfig(paths=["a.warc.gz"])))
    assert warc == WarcSettings(("a.warc.gz",))
    with pytest.raises(SailyardError, match="one source; config sets http, warc"):
        source_settings(
            CrawlConfig(
                http=HttpSourceConfig(seeds=["https://example.org/"]),
                warc=FilesSourceConfig(paths=["a.warc.gz"]),
            )
        )
