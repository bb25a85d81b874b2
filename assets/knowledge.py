"""The knowledge group: `entities` (pages and Factbook countries with their aliases).

Thin wiring: the work is in lakehouse.knowledge. Mentions, relations and graph statistics
follow in later changes.
"""

import dagster as dg

from assets.metadata import content_data_version, table_metadata
from assets.web import DOCUMENTS_KEY, WEB_SNAPSHOTS_KEY
from dagster_project.resources import LakehouseResource
from lakehouse.knowledge import entities as entities_lib
from lakehouse.knowledge import factbook
from lakehouse.lineage import RunStamp, stamp
from lakehouse.tables import DOCUMENTS, ENTITIES, WEB_SNAPSHOTS

ENTITIES_KEY = dg.AssetKey(ENTITIES.name)


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
