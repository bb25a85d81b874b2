"""The one Dagster `Definitions` root: every asset, check, resource and job of Sailyard."""

import dagster as dg

from assets.index import passages, search_index_asset
from assets.knowledge import entities, graph_stats_asset, mentions_asset, relations_asset
from assets.models import base_model
from assets.partitions import CRAWLS
from assets.synthesis import qa_tasks
from assets.trajectories import trajectories
from assets.web import WEB_SNAPSHOTS_KEY, extract_documents, web_snapshots
from dagster_project.console_log import concise_console
from dagster_project.profiles import PROFILES, run_config
from dagster_project.resources import LakehouseResource, VllmServerResource

ASSETS = [
    web_snapshots,
    extract_documents,
    entities,
    mentions_asset,
    relations_asset,
    graph_stats_asset,
    passages,
    search_index_asset,
    qa_tasks,
    base_model,
    trajectories,
]

# Crawls are partitioned and everything downstream reads all crawls at once, so the graph
# runs as two jobs: replay (or crawl) one partition, then build everything else.
replay_crawl_job = dg.define_asset_job(
    name="replay_crawl",
    selection=dg.AssetSelection.assets(WEB_SNAPSHOTS_KEY),
    partitions_def=CRAWLS,
    config=run_config(PROFILES["smoke"], ["web_snapshots"]),
    description="Replay the recorded Wikipedia crawl into one `crawls` partition (smoke slice "
    "by default; set limit to null for all 10,033 articles).",
)
build_from_crawls_job = dg.define_asset_job(
    name="build_from_crawls",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(WEB_SNAPSHOTS_KEY),
    description="Build every asset downstream of the crawls from all crawl partitions.",
)

defs = dg.Definitions(
    assets=ASSETS,
    resources={"lakehouse": LakehouseResource(), "vllm": VllmServerResource()},
    jobs=[replay_crawl_job, build_from_crawls_job],
    loggers={"console": concise_console},
)
