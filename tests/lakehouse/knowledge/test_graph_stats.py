import polars as pl

from lakehouse.knowledge.graph_stats import summarize_graph
from lakehouse.plots import graph_overview_png


def test_counts_degrees_and_components_of_a_small_graph():
    entities = pl.DataFrame({"entity_id": list("abcdef"), "entity_type": ["x"] * 6})
    mentions = pl.DataFrame(
        {"entity_id": ["a", None], "method": ["self", "nil_context"]},
        schema={"entity_id": pl.String, "method": pl.String},
    )
    relations = pl.DataFrame(
        {
            "subject_id": ["a", "b", "a", "d", "a"],
            "object_id": ["b", "a", "c", "e", None],  # a-b twice (both ways): one edge
            "predicate": ["p", "p", "q", "p", "population"],
            "extractor": ["phrase", "phrase", "phrase", "factbook", "factbook"],
        }
    )
    summary = summarize_graph(entities, mentions, relations)
    assert summary.value("entity_edges") == 3
    assert summary.value("entities_with_edges") == 5  # f is isolated
    assert summary.value("components") == 2
    assert summary.value("largest_component") == 3
    assert summary.value("degree_max") == 2
    assert summary.value("attribute_facts") == 1
    assert summary.value("mentions_linked") == 1
    assert summary.top_predicates[0] == ("p", 3)
    assert summary.rows.get_column("stat_id").is_unique().all()
    assert graph_overview_png(summary.degrees.tolist(), summary.top_predicates)[:4] == b"\x89PNG"
