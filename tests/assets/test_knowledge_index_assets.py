"""The knowledge, index and synthesis groups materialized through Dagster on a replay slice."""

import json

import dagster as dg
import pytest

from assets.index import passages, search_index_asset
from assets.knowledge import entities, graph_stats_asset, mentions_asset, relations_asset
from assets.partitions import CRAWLS
from assets.synthesis import qa_tasks
from assets.web import extract_documents, web_snapshots
from dagster_project.resources import LakehouseResource
from lakehouse import Lakehouse, paths
from lakehouse.index.search_index import SearchIndex
from lakehouse.lineage import trace
from lakehouse.synthesis import spec as task_spec
from lakehouse.synthesis.graph import KnowledgeGraph

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
    qa_tasks,
]
# A few tasks per generator keep the slice's synthesis (and its searches) quick.
QA_CONFIG = {
    "open_world_per_kind": 40,
    "webshaper": 40,
    "sailorfog": 40,
    "webleaper": 40,
    "webwalker": 40,
}


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
        result = dg.materialize(
            ALL,
            selection=rest,
            instance=instance,
            resources=resources,
            run_config={"ops": {"qa_tasks": {"config": QA_CONFIG}}},
        )
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
    return Lakehouse(home)


def test_every_document_is_an_entity_and_countries_come_from_the_factbook(built: Lakehouse):
    counts = built.sql(
        "SELECT (SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM entities e"
        "   WHERE e.doc_id = d.doc_id OR list_contains(e.parent_ids, d.doc_id))) AS orphans,"
        " (SELECT count(*) FROM documents WHERE url LIKE '%/the-world-factbook/%') AS profiles,"
        " (SELECT count(*) FROM entities WHERE factbook_code IS NOT NULL) AS countries"
    ).row(0, named=True)
    assert counts["orphans"] == 0  # a page, or the Factbook profile of a country entity
    assert counts["profiles"] >= 250
    assert counts["countries"] >= 250  # every Factbook entry, merged with a page or not
    france = built.sql("SELECT aliases FROM entities WHERE name = 'France'").item()
    assert "French Republic" in france


def test_searching_a_page_description_finds_the_page_first(built: Lakehouse):
    pages = built.sql(
        "SELECT d.url, d.description FROM documents d WHERE d.description IS NOT NULL"
        " AND length(d.description) > 25 AND d.url NOT LIKE '%/the-world-factbook/%'"
        " ORDER BY d.doc_id LIMIT 20"
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


def test_qa_tasks_re_execute_and_splits_share_no_entity(built: Lakehouse):
    frame = built.sql("SELECT * FROM qa_tasks")
    assert frame.height > 100
    assert set(frame.get_column("generator")) == {
        "open_world", "webshaper", "sailorfog", "webleaper", "webwalker",
    }  # fmt: skip
    assert frame.get_column("spec_verified").all()
    graph = KnowledgeGraph.from_tables(built.read("entities"), built.read("relations"))
    for row in frame.sample(20, seed=0).iter_rows(named=True):
        result = task_spec.execute(json.loads(row["spec"]), graph)
        if row["answer_entity_ids"]:
            assert sorted(result.entities) == row["answer_entity_ids"]
        else:
            assert result.value is not None
    shared = built.sql(
        "WITH t AS (SELECT DISTINCT unnest(gold_entity_ids) AS e FROM qa_tasks"
        "   WHERE split = 'test'),"
        " r AS (SELECT DISTINCT unnest(gold_entity_ids) AS e FROM qa_tasks"
        "   WHERE split = 'train')"
        " SELECT count(*) FROM t JOIN r USING (e)"
    ).item()
    assert shared == 0
    assert built.sql("SELECT count(*) FROM qa_tasks WHERE split = 'test'").item() > 0
    assert built.sql("SELECT count(*) FROM qa_tasks WHERE split = 'train'").item() > 0


def test_qa_stats_counts_every_task_and_answerability_was_checked(built: Lakehouse):
    total = built.sql("SELECT count(*) FROM qa_tasks").item()
    assert built.sql("SELECT sum(tasks) FROM qa_stats").item() == total
    answerable = built.sql("SELECT avg(answerable::INT) FROM qa_tasks").item()
    assert answerable > 0.5
    evidence = built.sql(
        "SELECT count(*) FILTER (WHERE len(evidence_passage_ids) > 0) * 1.0 / count(*)"
        " FROM qa_tasks"
    ).item()
    assert evidence > 0.9


def test_a_task_traces_back_to_its_pages(built: Lakehouse):
    task_id = built.sql(
        "SELECT task_id FROM qa_tasks WHERE kind = 'multi_hop' ORDER BY task_id LIMIT 1"
    ).item()
    tables = {node.table for node in trace(built, task_id).walk()}
    assert {"qa_tasks", "relations", "passages", "documents", "web_snapshots"} <= tables
