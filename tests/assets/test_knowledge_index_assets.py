"""The knowledge and index groups materialized through Dagster on a replay slice."""

import dagster as dg
import pytest

from assets.index import passages, search_index_asset
from assets.knowledge import entities
from assets.partitions import CRAWLS
from assets.web import extract_documents, web_snapshots
from dagster_project.resources import LakehouseResource
from lakehouse import Lakehouse, paths
from lakehouse.index.search_index import SearchIndex

SLICE = {"ops": {"web_snapshots": {"config": {"replay": {"limit": 150}}}}}
ALL = [web_snapshots, extract_documents, entities, passages, search_index_asset]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Lakehouse:
    home = tmp_path_factory.mktemp("kg") / "lakehouse"
    resources = {"lakehouse": LakehouseResource(root=str(home))}
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as instance:
        instance.add_dynamic_partitions(CRAWLS.name, ["c"])
        crawled = dg.materialize(
            ALL,
            selection=[dg.AssetKey("web_snapshots")],
            instance=instance,
            resources=resources,
            partition_key="c",
            run_config=SLICE,
        )
        assert crawled.success
        rest = [k for a in ALL[1:] for k in a.keys]
        result = dg.materialize(ALL, selection=rest, instance=instance, resources=resources)
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
    return Lakehouse(home)


def test_every_document_is_an_entity_and_countries_come_from_the_factbook(built: Lakehouse):
    counts = built.sql(
        "SELECT (SELECT count(*) FROM documents) AS docs,"
        " (SELECT count(*) FROM entities WHERE doc_id IS NOT NULL) AS page_entities,"
        " (SELECT count(*) FROM entities WHERE factbook_code IS NOT NULL) AS countries"
    ).row(0, named=True)
    assert counts["page_entities"] == counts["docs"]
    assert counts["countries"] >= 250  # every Factbook entry, merged with a page or not
    france = built.sql("SELECT aliases FROM entities WHERE name = 'France'").item()
    assert "French Republic" in france


def test_searching_a_page_description_finds_the_page_first(built: Lakehouse):
    pages = built.sql(
        "SELECT d.url, d.description FROM documents d WHERE d.description IS NOT NULL"
        " AND length(d.description) > 25 ORDER BY d.doc_id LIMIT 20"
    ).rows()
    index = SearchIndex(paths.lancedb_dir(built.root))
    hits = index.search([description for _url, description in pages], mode="hybrid", k=10)
    found_first = sum(results[0].url == url for (url, _d), results in zip(pages, hits, strict=True))
    found_top10 = sum(
        any(hit.url == url for hit in results)
        for (url, _d), results in zip(pages, hits, strict=True)
    )
    assert found_top10 >= 16  # descriptions are short ("French painter"): most, not all
    assert found_first >= 10
    lineage = built.sql("SELECT parent_ids[1] AS parent FROM passages LIMIT 1").item()
    assert lineage.startswith("doc_")
