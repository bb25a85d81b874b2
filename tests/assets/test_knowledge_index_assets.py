"""The knowledge and index groups materialized through Dagster on a replay slice."""

import dagster as dg
import pytest

from assets.index import passages, search_index_asset
from assets.knowledge import entities, graph_stats_asset, mentions_asset, relations_asset
from assets.partitions import CRAWLS
from assets.web import extract_documents, web_snapshots
from dagster_project.resources import LakehouseResource
from lakehouse import Lakehouse, paths
from lakehouse.index.search_index import SearchIndex

SLICE = {"ops": {"web_snapshots": {"config": {"replay": {"limit": 150}}}}}
ALL = [
    web_snapshots,
    extract_documents,
    entities,
    mentions_asset,
    relations_asset,
    graph_stats_asset,
    passages,
    search_index_asset,
]


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


def test_mentions_are_exact_spans_and_links_name_known_entities(built: Lakehouse):
    counts = built.sql(
        "SELECT count(*) AS mentions, count(m.entity_id) AS linked,"
        " count(*) FILTER (WHERE substr(d.text, m.start_char + 1, m.end_char - m.start_char)"
        "   <> m.surface) AS bad_spans,"
        " count(*) FILTER (WHERE m.entity_id IS NOT NULL AND e.entity_id IS NULL) AS dangling"
        " FROM mentions m JOIN documents d USING (doc_id)"
        " LEFT JOIN entities e ON e.entity_id = m.entity_id"
    ).row(0, named=True)
    assert counts["mentions"] > 300  # 416 on this 150-page slice
    assert 0.3 < counts["linked"] / counts["mentions"] < 1.0  # some are kept unlinked
    assert counts["bad_spans"] == 0
    assert counts["dangling"] == 0
    methods = set(built.sql("SELECT DISTINCT method FROM mentions").to_series())
    assert {"self", "unique_alias", "context"} <= methods


def test_the_factbook_gives_france_its_neighbours_capital_and_language(built: Lakehouse):
    facts = built.sql(
        "SELECT r.predicate, r.object_value, r.number, r.unit, o.name AS object_name"
        " FROM relations r JOIN entities s ON s.entity_id = r.subject_id"
        " LEFT JOIN entities o ON o.entity_id = r.object_id"
        " WHERE s.name = 'France' AND r.extractor = 'factbook'"
    )
    borders = facts.filter(facts["predicate"] == "borders")
    neighbours = set(borders.get_column("object_name").drop_nulls())
    assert {"Spain", "Belgium", "Germany", "Italy"} <= neighbours
    assert (borders.get_column("unit") == "km").all()
    predicates = set(facts.get_column("predicate"))
    assert {"capital", "population", "area", "official_language"} <= predicates


def test_sentence_relations_carry_evidence_and_lineage(built: Lakehouse):
    rows = built.sql(
        "SELECT r.extractor, count(*) AS n,"
        " count(*) FILTER (WHERE r.sentence_id IS NOT NULL AND"
        "   position(m.surface IN r.evidence) > 0) AS with_evidence"
        " FROM relations r LEFT JOIN ("
        "   SELECT DISTINCT sentence_id, surface FROM mentions) m"
        "   ON m.sentence_id = r.sentence_id AND m.surface = r.object_value"
        " WHERE r.extractor IN ('phrase', 'page_mention') GROUP BY r.extractor"
    )
    by_extractor = {row["extractor"]: row for row in rows.iter_rows(named=True)}
    assert set(by_extractor) == {"phrase", "page_mention"}
    for row in by_extractor.values():
        assert row["with_evidence"] >= 0.9 * row["n"]  # the object is named in its evidence
    parents = built.sql(
        "SELECT parent_ids FROM relations WHERE extractor = 'phrase' LIMIT 1"
    ).item()
    assert parents[0].startswith("doc_")


def test_graph_stats_summarize_the_relations(built: Lakehouse):
    stats = dict(built.sql("SELECT metric, value FROM graph_stats WHERE key = ''").rows())
    entity_count = built.sql("SELECT count(*) FROM entities").item()
    assert stats["entities"] == entity_count
    assert 0 < stats["largest_component"] <= stats["entities_with_edges"] <= entity_count
