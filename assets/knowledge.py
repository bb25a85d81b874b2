"""The knowledge group: `entities` → `mentions` → `relations` → `graph_stats`.

Thin wiring: the work is in lakehouse.knowledge. Entities are pages and Factbook countries
with their aliases; mentions are their linked occurrences in every sentence; relations are
the edges and attribute facts read from sentences, patterns, the Factbook and, optionally, an
LLM endpoint; graph_stats sums the graph up with a plot.
"""

import dagster as dg
import polars as pl

from assets.metadata import content_data_version, png_markdown, progress_logger, table_metadata
from assets.web import DOCUMENTS_KEY, WEB_SNAPSHOTS_KEY
from dagster_project.resources import LakehouseResource
from lakehouse.index.embedder import Embedder
from lakehouse.knowledge import entities as entities_lib
from lakehouse.knowledge import factbook, graph_stats, llm_relations, mentions, relations
from lakehouse.lineage import RunStamp, stamp
from lakehouse.plots import graph_overview_png
from lakehouse.tables import DOCUMENTS, ENTITIES, GRAPH_STATS, MENTIONS, RELATIONS, WEB_SNAPSHOTS

ENTITIES_KEY = dg.AssetKey(ENTITIES.name)
MENTIONS_KEY = dg.AssetKey(MENTIONS.name)
RELATIONS_KEY = dg.AssetKey(RELATIONS.name)
GRAPH_STATS_KEY = dg.AssetKey(GRAPH_STATS.name)


@dg.asset(
    key=ENTITIES_KEY,
    deps=[DOCUMENTS_KEY, WEB_SNAPSHOTS_KEY],
    group_name="knowledge",
    code_version=entities_lib.CODE_VERSION,
    kinds={"parquet", "polars"},
    check_specs=[dg.AssetCheckSpec("unique_entity_ids", asset=ENTITIES_KEY)],
)
def entities(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """One entity per page and per Factbook country, with title, anchor and Factbook aliases."""
    store = lakehouse.open()
    documents = store.read(DOCUMENTS.name)
    links = entities_lib.snapshot_links(store.read(WEB_SNAPSHOTS.name))
    countries, problems = factbook.load_countries()
    for problem in problems:
        context.log.warning(f"Factbook: {problem}")
    frame = stamp(
        entities_lib.build_entities(documents, links, countries),
        RunStamp.now(context.run.run_id, entities_lib.CODE_VERSION),
    )
    path = store.write(ENTITIES.name, frame)
    by_source = frame.group_by("source").len().sort("source").rows()
    by_type = frame.group_by("entity_type").len().sort("len", descending=True).rows()
    context.log.info(f"wrote {frame.height} entities: {dict(by_source)}")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                ENTITIES,
                frame,
                str(path),
                ["name", "entity_type", "source", "aliases", "url"],
                column_lineage={
                    "name": [("documents", "title")],
                    "url": [("documents", "url")],
                    "description": [("documents", "description")],
                    "aliases": [("documents", "title"), ("web_snapshots", "links")],
                    "doc_id": [("documents", "doc_id")],
                },
            ),
            "by_source": dg.MetadataValue.json({str(k): v for k, v in by_source}),
            "by_type": dg.MetadataValue.json({str(k): v for k, v in by_type}),
            "aliases_total": int(frame.get_column("aliases").list.len().sum() or 0),
            "factbook": factbook.source_version(),
            "factbook_parse_problems": len(problems),
        },
        data_version=content_data_version(frame, ENTITIES),
        check_results=[
            dg.AssetCheckResult(
                check_name="unique_entity_ids",
                passed=bool(frame.get_column("entity_id").is_unique().all()),
            )
        ],
    )


class MentionsConfig(dg.Config):
    """Linking thresholds (lakehouse.knowledge.mentions.LinkSettings) and the embedder."""

    context_weight: float = mentions.LinkSettings.context_weight
    nil_similarity: float = mentions.LinkSettings.nil_similarity
    min_score: float = mentions.LinkSettings.min_score
    common_word_share: float = mentions.LinkSettings.common_word_share
    model_path: str | None = None  # a local sentence-transformers model; None: all-MiniLM-L6-v2
    dtype: str = "auto"


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@dg.asset(
    key=MENTIONS_KEY,
    deps=[DOCUMENTS_KEY, ENTITIES_KEY],
    group_name="knowledge",
    code_version=mentions.CODE_VERSION,
    kinds={"parquet", "polars", "pytorch"},
    check_specs=[
        dg.AssetCheckSpec("spans_match_document_text", asset=MENTIONS_KEY),
        dg.AssetCheckSpec("linked_entities_exist", asset=MENTIONS_KEY),
    ],
)
def mentions_asset(
    context: dg.AssetExecutionContext, config: MentionsConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Every alias occurrence in every sentence, linked by context or kept unlinked."""
    store = lakehouse.open()
    documents = store.read(DOCUMENTS.name)
    entity_rows = store.read(ENTITIES.name)
    settings = mentions.LinkSettings(
        context_weight=config.context_weight,
        nil_similarity=config.nil_similarity,
        min_score=config.min_score,
        common_word_share=config.common_word_share,
    )
    embedder = Embedder(config.model_path, dtype=config.dtype)
    frame = mentions.build_mentions(
        documents,
        entity_rows,
        embedder.encode,
        settings,
        progress=progress_logger(context, "embedded for context"),
    )
    frame = stamp(frame, RunStamp.now(context.run.run_id, mentions.CODE_VERSION))
    path = store.write(MENTIONS.name, frame)
    linked = frame.filter(pl.col("entity_id").is_not_null())
    by_method = dict(frame.group_by("method").len().sort("method").rows())
    context.log.info(f"wrote {frame.height} mentions, {linked.height} linked: {by_method}")
    cut = pl.col("text").str.slice(pl.col("start_char"), pl.col("end_char") - pl.col("start_char"))
    mismatched = (
        frame.join(documents.select("doc_id", "text"), on="doc_id").filter(pl.col("surface") != cut)
    ).height
    dangling = linked.join(entity_rows.select("entity_id"), on="entity_id", how="anti").height
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                MENTIONS,
                frame,
                str(path),
                ["surface", "method", "score", "entity_id"],
                column_lineage={
                    "surface": [("documents", "text")],
                    "doc_id": [("documents", "doc_id")],
                    "entity_id": [("entities", "entity_id")],
                    "alias_key": [("entities", "aliases")],
                },
            ),
            "linked": linked.height,
            "linked_share": _share(linked.height, frame.height),
            "by_method": dg.MetadataValue.json(by_method),
            "documents_with_links": linked.get_column("doc_id").n_unique(),
            "embedding_model": embedder.model_id,
            "link_settings": dg.MetadataValue.json(
                {name: getattr(settings, name) for name in settings.__dataclass_fields__}
            ),
        },
        data_version=content_data_version(frame, MENTIONS),
        check_results=[
            dg.AssetCheckResult(
                check_name="spans_match_document_text",
                passed=mismatched == 0,
                metadata={"mismatched": mismatched},
            ),
            dg.AssetCheckResult(
                check_name="linked_entities_exist",
                passed=dangling == 0,
                metadata={"dangling": dangling},
            ),
        ],
    )


class RelationsConfig(dg.Config):
    """The optional LLM extractor: off unless an OpenAI-compatible endpoint is given."""

    llm_endpoint: str | None = None  # e.g. http://127.0.0.1:8000/v1 (key: $SAILYARD_LLM_API_KEY)
    llm_model: str = ""
    llm_max_sentences: int = 200
    llm_concurrency: int = 4


@dg.asset(
    key=RELATIONS_KEY,
    deps=[DOCUMENTS_KEY, ENTITIES_KEY, MENTIONS_KEY],
    group_name="knowledge",
    code_version=relations.CODE_VERSION,
    kinds={"parquet", "polars"},
    check_specs=[
        dg.AssetCheckSpec("unique_relation_ids", asset=RELATIONS_KEY),
        dg.AssetCheckSpec("endpoints_are_entities", asset=RELATIONS_KEY),
    ],
)
def relations_asset(
    context: dg.AssetExecutionContext, config: RelationsConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Edges and attribute facts from sentences, page mentions, patterns, the Factbook, an LLM."""
    store = lakehouse.open()
    documents = store.read(DOCUMENTS.name)
    entity_rows = store.read(ENTITIES.name)
    mention_rows = store.read(MENTIONS.name)
    countries, _problems = factbook.load_countries()
    own = relations.own_entity_by_doc(entity_rows)
    types = dict(entity_rows.select("entity_id", "entity_type").iter_rows())
    found = [
        *relations.phrase_relations(documents, mention_rows, own),
        *relations.page_mention_relations(documents, mention_rows, own),
        *relations.pattern_relations(documents, mention_rows, own, types),
        *relations.factbook_relations(entity_rows, countries, factbook.source_version(), documents),
    ]
    extra: dict[str, object] = {"llm_extractor": "off (set llm_endpoint to enable)"}
    if config.llm_endpoint:
        settings = llm_relations.LLMExtractorSettings(
            endpoint=config.llm_endpoint,
            model=config.llm_model,
            max_sentences=config.llm_max_sentences,
            concurrency=config.llm_concurrency,
        )
        llm_found, report = llm_relations.llm_relations(
            documents, mention_rows, entity_rows, settings
        )
        found.extend(llm_found)
        extra = {
            "llm_extractor": dg.MetadataValue.json(llm_relations.settings_record(settings)),
            "llm_outcomes": dg.MetadataValue.json(dict(report.counts)),
            "llm_examples": dg.MetadataValue.json(report.examples),
        }
    frame = stamp(
        relations.relation_rows(found), RunStamp.now(context.run.run_id, relations.CODE_VERSION)
    )
    path = store.write(RELATIONS.name, frame)
    by_extractor = dict(frame.group_by("extractor").len().sort("extractor").rows())
    context.log.info(f"wrote {frame.height} relations: {by_extractor}")
    known = entity_rows.select("entity_id")
    dangling = (
        frame.join(known, left_on="subject_id", right_on="entity_id", how="anti").height
        + frame.filter(pl.col("object_id").is_not_null())
        .join(known, left_on="object_id", right_on="entity_id", how="anti")
        .height
    )
    top = frame.group_by("predicate").len().sort(["len", "predicate"], descending=[True, False])
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                RELATIONS,
                frame,
                str(path),
                ["predicate", "object_value", "extractor", "confidence", "evidence"],
                column_lineage={
                    "subject_id": [("mentions", "entity_id"), ("entities", "entity_id")],
                    "object_id": [("mentions", "entity_id"), ("entities", "entity_id")],
                    "evidence": [("documents", "text")],
                    "sentence_id": [("mentions", "sentence_id")],
                },
            ),
            "by_extractor": dg.MetadataValue.json(by_extractor),
            "top_predicates": dg.MetadataValue.json(dict(top.head(15).rows())),
            **extra,
        },
        data_version=content_data_version(frame, RELATIONS),
        check_results=[
            dg.AssetCheckResult(
                check_name="unique_relation_ids",
                passed=bool(frame.get_column("relation_id").is_unique().all()),
            ),
            dg.AssetCheckResult(
                check_name="endpoints_are_entities",
                passed=dangling == 0,
                metadata={"dangling": dangling},
            ),
        ],
    )


@dg.asset(
    key=GRAPH_STATS_KEY,
    deps=[ENTITIES_KEY, MENTIONS_KEY, RELATIONS_KEY],
    group_name="knowledge",
    code_version=graph_stats.CODE_VERSION,
    kinds={"parquet", "polars"},
)
def graph_stats_asset(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Entity/edge counts, degree distribution, components and top predicates, with a plot."""
    store = lakehouse.open()
    summary = graph_stats.summarize_graph(
        store.read(ENTITIES.name), store.read(MENTIONS.name), store.read(RELATIONS.name)
    )
    frame = stamp(summary.rows, RunStamp.now(context.run.run_id, graph_stats.CODE_VERSION))
    path = store.write(GRAPH_STATS.name, frame)
    headline = {
        metric: summary.value(metric)
        for metric in (
            "entities",
            "entity_edges",
            "entities_with_edges",
            "attribute_facts",
            "components",
            "largest_component",
            "degree_p50",
            "degree_p90",
            "degree_max",
        )
    }
    context.log.info(f"graph: {headline}")
    png = graph_overview_png(summary.degrees.tolist(), summary.top_predicates)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(GRAPH_STATS, frame, str(path), ["metric", "key", "value"]),
            **{name: float(value or 0) for name, value in headline.items()},
            "plot": png_markdown(png, "degree distribution and top predicates"),
        },
        data_version=content_data_version(frame, GRAPH_STATS),
    )
