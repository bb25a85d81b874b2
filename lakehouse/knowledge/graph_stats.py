"""Statistics of the knowledge graph: what the entities, mentions and relations add up to.

The graph's nodes are entities; its edges are the relations whose object is an entity
(attribute facts, whose object is a value, are counted apart). Degrees count distinct
neighbours, in either direction; components are those of the undirected graph.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lakehouse.ids import stable_id
from lakehouse.tables import GRAPH_STATS

CODE_VERSION = "graph-stats-1"
STAT_ROW_SCHEMA = {**GRAPH_STATS.columns, "parent_ids": pl.List(pl.String)}
TOP_PREDICATES = 20
DEGREE_PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class GraphSummary:
    """The statistics as rows, plus what the plot needs."""

    rows: pl.DataFrame  # graph_stats rows (without run stamps)
    degrees: np.ndarray  # degree of every entity (0 for isolated ones)
    top_predicates: list[tuple[str, int]]
    component_sizes: list[int]  # sizes of components with at least one edge, largest first

    def value(self, metric: str, key: str = "") -> float | None:
        """The value of one statistic, or None when it was not computed."""
        found = self.rows.filter((pl.col("metric") == metric) & (pl.col("key") == key))
        return float(found.item(0, "value")) if found.height else None


def _entity_edges(relations: pl.DataFrame) -> pl.DataFrame:
    """Distinct undirected (a, b) entity pairs with a < b, self-loops dropped."""
    return (
        relations.filter(pl.col("object_id").is_not_null())
        .select(
            pl.min_horizontal("subject_id", "object_id").alias("a"),
            pl.max_horizontal("subject_id", "object_id").alias("b"),
        )
        .filter(pl.col("a") != pl.col("b"))
        .unique()
    )


def summarize_graph(
    entities: pl.DataFrame, mentions: pl.DataFrame, relations: pl.DataFrame
) -> GraphSummary:
    """Counts, degree distribution, connected components and top predicates of the graph."""
    stats: list[tuple[str, str, float]] = []

    def add(metric: str, value: float, key: str = "") -> None:
        stats.append((metric, key, float(value)))

    add("entities", entities.height)
    for entity_type, count in entities.group_by("entity_type").len().iter_rows():
        add("entities_by_type", count, entity_type or "untyped")
    add("mentions", mentions.height)
    add("mentions_linked", mentions.filter(pl.col("entity_id").is_not_null()).height)
    for method, count in mentions.group_by("method").len().iter_rows():
        add("mentions_by_method", count, method)
    add("relations", relations.height)
    for extractor, count in relations.group_by("extractor").len().iter_rows():
        add("relations_by_extractor", count, extractor)
    add("attribute_facts", relations.filter(pl.col("object_id").is_null()).height)

    ids = entities.get_column("entity_id").to_list()
    position = {entity_id: row for row, entity_id in enumerate(ids)}
    edges = _entity_edges(relations).filter(pl.col("a").is_in(ids) & pl.col("b").is_in(ids))
    add("entity_edges", edges.height)
    rows_a = np.array([position[a] for a in edges.get_column("a")], dtype=np.int64)
    rows_b = np.array([position[b] for b in edges.get_column("b")], dtype=np.int64)
    degrees = np.bincount(np.concatenate([rows_a, rows_b]), minlength=len(ids))
    add("entities_with_edges", int((degrees > 0).sum()))
    if len(ids):
        for percentile in DEGREE_PERCENTILES:
            add(
                f"degree_p{percentile}",
                float(np.percentile(degrees[degrees > 0], percentile))
                if (degrees > 0).any()
                else 0.0,
            )
        add("degree_max", int(degrees.max()))
        add("degree_mean", float(degrees.mean()))
    component_sizes: list[int] = []
    if len(ids) and edges.height:
        matrix = coo_matrix((np.ones(len(rows_a)), (rows_a, rows_b)), shape=(len(ids), len(ids)))
        _count, labels = connected_components(matrix, directed=False)
        sizes = np.bincount(labels[degrees > 0])
        component_sizes = sorted((int(size) for size in sizes if size > 0), reverse=True)
    add("components", len(component_sizes))
    add("largest_component", component_sizes[0] if component_sizes else 0)

    predicates = (
        relations.group_by("predicate").len().sort(["len", "predicate"], descending=[True, False])
    )
    top = [(predicate, int(count)) for predicate, count in predicates.head(TOP_PREDICATES).rows()]
    add("predicates", predicates.height)
    for predicate, count in top:
        add("predicate_count", count, predicate)

    frame = pl.DataFrame(
        {
            "stat_id": [stable_id("gst", metric, key) for metric, key, _ in stats],
            "metric": [metric for metric, _, _ in stats],
            "key": [key for _, key, _ in stats],
            "value": [value for _, _, value in stats],
            "parent_ids": [[] for _ in stats],
        },
        schema=STAT_ROW_SCHEMA,
    ).sort("metric", "key")
    return GraphSummary(frame, degrees, top, component_sizes)
