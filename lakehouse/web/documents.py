"""From web snapshots to documents: extract, filter for quality, deduplicate exactly and near.

Extraction per content type lives in lakehouse.web.extract; this module decides what is kept.
Every snapshot ends in exactly one place: a row of `documents`, or a row of
`document_rejects` that says why not (the reason is queryable; nothing is dropped silently).
The per-snapshot work is one plain function, `process_snapshot`, so the asset and the
benchmark's plain-loop baseline run the very same code.
"""

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from lakehouse.ids import sha256_hex, stable_id
from lakehouse.tables import DOCUMENT_CLUSTERS, DOCUMENT_REJECTS, DOCUMENTS
from lakehouse.web.drops import DropReason, Rejection
from lakehouse.web.extract import ExtractedDocument, extract
from lakehouse.web.near_duplicates import NearDupSettings, near_duplicate_clusters
from lakehouse.web.normalize import count_words, dedup_key
from lakehouse.workers import ProgressCallback, map_batches

CODE_VERSION = "documents-3"
NEAR_DUP_DEFAULTS = NearDupSettings()
__all__ = [
    "AcceptedDocument",
    "BuiltDocuments",
    "DropReason",
    "QualitySettings",
    "Rejection",
    "build_documents",
]


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the quality filters."""

    # Gopher (Rae et al. 2021, App. A) keeps web documents of 50-100,000 words; Wikipedia
    # summaries are short by design (shortest recorded: 8 words), so the floor here is 5.
    min_words: int = 5
    # Gopher asks 80% of words to contain a letter; short summaries dense with dates and
    # number lists sit lower (measured on the recorded crawl: Fibonacci sequence 0.76,
    # Logarithm 0.80), so prose is kept down to 60%.
    min_alpha_word_ratio: float = 0.6
    drop_disambiguation: bool = True
    # HTML pages whose main text is under this share of their visible text are mostly
    # navigation (index and listing pages); see `sailyard bench web` for the measured spread.
    min_main_text_ratio: float = 0.1
    languages: tuple[str, ...] | None = None  # keep only these ISO 639-1 codes (None: all)


@dataclass(frozen=True, slots=True)
class AcceptedDocument:
    """A document that passed every filter, with its word count and exact-dedup hash."""

    extracted: ExtractedDocument
    n_words: int
    text_sha256: str  # sha256 of the dedup key (case-folded, single-spaced text)


# A disambiguation or set-index page opens with "X may refer to:" and a list. Real articles
# also say "may refer to" (e.g. "Longevity may refer to especially long-lived members..."),
# so the colon inside the first sentence is required (measured: 1 of 10,033 summaries).
_DISAMBIGUATION = re.compile(r"^[^.:]*\bmay (?:also )?refer to\b[^.]*:", re.IGNORECASE)
_ALPHA = re.compile(r"[^\W\d_]")


def quality_rejection(
    document: ExtractedDocument, n_words: int, settings: QualitySettings
) -> Rejection | None:
    """The first quality filter the document fails, or None when it passes them all."""
    if not document.text:
        return Rejection(DropReason.EMPTY_TEXT, "no text after normalization")
    if n_words < settings.min_words:
        return Rejection(DropReason.TOO_SHORT, f"{n_words} words < {settings.min_words}")
    words = document.text.split()
    alpha_ratio = sum(1 for word in words if _ALPHA.search(word)) / len(words)
    if alpha_ratio < settings.min_alpha_word_ratio:
        return Rejection(
            DropReason.LOW_ALPHA_WORDS,
            f"{alpha_ratio:.2f} of words have a letter < {settings.min_alpha_word_ratio}",
        )
    ratio = document.main_text_ratio
    if ratio is not None and ratio < settings.min_main_text_ratio:
        return Rejection(
            DropReason.BOILERPLATE,
            f"main text is {ratio:.0%} of the page's text < {settings.min_main_text_ratio:.0%}",
        )
    if settings.languages is not None and document.language not in settings.languages:
        return Rejection(
            DropReason.LANGUAGE,
            f"language {document.language!r} not in {list(settings.languages)}",
        )
    if settings.drop_disambiguation and _DISAMBIGUATION.search(document.text):
        return Rejection(DropReason.DISAMBIGUATION, "text says the title 'may refer to' others")
    return None


def process_snapshot(
    status: int | None,
    error: str | None,
    content_type: str | None,
    headers_json: str | None,
    body: bytes | None,
    settings: QualitySettings,
) -> AcceptedDocument | Rejection:
    """Everything that happens to one snapshot on its own: checks, extraction, quality, hash."""
    if error is not None:
        return Rejection(DropReason.FETCH_ERROR, error)
    if status is None or not 200 <= status < 300:
        return Rejection(DropReason.HTTP_STATUS, f"HTTP status {status}")
    if not body:
        return Rejection(DropReason.EMPTY_TEXT, "empty body")
    headers = _parse_headers(headers_json)
    extracted = extract(content_type, body, headers)
    if isinstance(extracted, Rejection):
        return extracted
    n_words = count_words(extracted.text)
    rejection = quality_rejection(extracted, n_words, settings)
    if rejection is not None:
        return rejection
    return AcceptedDocument(extracted, n_words, sha256_hex(dedup_key(extracted.text)))


def _parse_headers(headers_json: str | None) -> dict[str, str]:
    if not headers_json:
        return {}
    try:
        headers = json.loads(headers_json)
    except json.JSONDecodeError:
        return {}
    return {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


FetchFields = tuple[int | None, str | None, str | None, str | None, bytes | None]
# Snapshots per batch sent to a worker: at most this many (pickling and scheduling cost little
# next to ~100 µs per summary or ~10 ms per HTML page), and at least BATCHES_PER_WORKER
# batches per worker so that uneven pages (a 2 MB page beside 2 KB ones) balance out.
MAX_BATCH_SIZE = 1000
BATCHES_PER_WORKER = 32


def batch_size_for(n_items: int, workers: int) -> int:
    return max(1, min(MAX_BATCH_SIZE, math.ceil(n_items / (workers * BATCHES_PER_WORKER))))


@dataclass(frozen=True)
class _BatchProcessor:
    """A picklable per-batch function for the worker pool (settings travel with it)."""

    settings: QualitySettings

    def __call__(self, batch: Sequence[FetchFields]) -> list[AcceptedDocument | Rejection]:
        return [process_snapshot(*fetch, self.settings) for fetch in batch]


def latest_snapshot_per_url(snapshots: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split successful snapshots into (latest per URL, older ones) by production time.

    Failed fetches are all kept in the first frame: they are rejected later with their own
    reason, and a failed re-fetch does not supersede an older good copy.
    """
    ordered = snapshots.sort(["_produced_at", "crawl_id", "snapshot_id"], descending=True)
    ok = ordered.filter(pl.col("error").is_null() & pl.col("status").is_between(200, 299))
    failed = ordered.filter(~(pl.col("error").is_null() & pl.col("status").is_between(200, 299)))
    rank = pl.int_range(pl.len()).over("url")
    latest = ok.filter(rank == 0)
    older = ok.filter(rank > 0).join(
        latest.select("url", pl.col("snapshot_id").alias("superseded_by")), on="url"
    )
    return pl.concat([latest, failed]), older


def _process_largest_first(
    fetches: list[FetchFields],
    settings: QualitySettings,
    workers: int,
    progress: ProgressCallback | None,
) -> list[AcceptedDocument | Rejection]:
    """`process_snapshot` over all fetches, biggest bodies first, results in input order.

    Scheduling the largest pages first (longest-processing-time first) keeps both workers
    busy to the end instead of one finishing a 2 MB page while the other idles.
    """
    order = sorted(range(len(fetches)), key=lambda i: -len(fetches[i][4] or b""))
    batch_size = batch_size_for(len(fetches), workers)
    processed = map_batches(
        _BatchProcessor(settings), [fetches[i] for i in order], workers, batch_size, progress
    )
    outcomes: list[AcceptedDocument | Rejection] = [None] * len(fetches)  # type: ignore[list-item]
    for position, index in enumerate(order):
        outcomes[index] = processed[position]
    return outcomes


@dataclass(frozen=True)
class BuiltDocuments:
    """The rows one documents build produces (not yet stamped with run columns)."""

    documents: pl.DataFrame
    rejects: pl.DataFrame
    clusters: pl.DataFrame  # near-duplicate cluster membership, canonical members included


def build_documents(
    snapshots: pl.DataFrame,
    settings: QualitySettings,
    workers: int = 1,
    progress: ProgressCallback | None = None,
    near_dup: NearDupSettings | None = NEAR_DUP_DEFAULTS,
) -> BuiltDocuments:
    """Documents, rejects and near-duplicate clusters from every snapshot given.

    The per-snapshot work and the MinHash signatures run in `workers` processes; dedup and
    row building stay here. Deterministic: the same snapshots give the same rows in the same
    order, whatever order they arrive in and however many workers run. Of exact duplicates the
    lexicographically first URL is kept; of a near-duplicate cluster, the longest text (ties:
    first URL). `near_dup=None` turns near-duplicate detection off.
    """
    current, superseded = latest_snapshot_per_url(snapshots)
    documents: dict[str, list] = {name: [] for name in DOCUMENTS.columns}
    rejects: dict[str, list] = {name: [] for name in DOCUMENT_REJECTS.columns}

    def reject(snapshot_id, crawl_id, url, reason: DropReason, detail, duplicate_of=None):
        for column, value in (
            ("reject_id", stable_id("rej", snapshot_id, reason.value)),
            ("snapshot_id", snapshot_id),
            ("crawl_id", crawl_id),
            ("url", url),
            ("reason", reason.value),
            ("detail", detail),
            ("duplicate_of", duplicate_of),
        ):
            rejects[column].append(value)

    for snapshot_id, crawl_id, url, newer in superseded.select(
        "snapshot_id", "crawl_id", "url", "superseded_by"
    ).iter_rows():
        reject(snapshot_id, crawl_id, url, DropReason.SUPERSEDED, f"newer snapshot {newer}", newer)

    kept_doc_ids: dict[str, str] = {}  # text_sha256 -> doc_id of the kept document
    current = current.sort("url", "snapshot_id")
    fetches = current.select("status", "error", "content_type", "headers", "body").rows()
    outcomes = _process_largest_first(fetches, settings, workers, progress)
    identities = current.select("snapshot_id", "crawl_id", "url").iter_rows()
    for (snapshot_id, crawl_id, url), outcome in zip(identities, outcomes, strict=True):
        if isinstance(outcome, Rejection):
            reject(snapshot_id, crawl_id, url, outcome.reason, outcome.detail)
            continue
        if outcome.text_sha256 in kept_doc_ids:
            kept = kept_doc_ids[outcome.text_sha256]
            reject(
                snapshot_id, crawl_id, url, DropReason.EXACT_DUPLICATE, f"same text as {kept}", kept
            )
            continue
        doc_id = stable_id("doc", url, outcome.text_sha256)
        kept_doc_ids[outcome.text_sha256] = doc_id
        doc = outcome.extracted
        for column, value in (
            ("doc_id", doc_id),
            ("url", url),
            ("title", doc.title),
            ("text", doc.text),
            ("language", doc.language),
            ("description", doc.description),
            ("topic", doc.topic),
            ("date", doc.date),
            ("text_sha256", outcome.text_sha256),
            ("n_chars", len(doc.text)),
            ("n_words", outcome.n_words),
            ("snapshot_id", snapshot_id),
            ("crawl_id", crawl_id),
        ):
            documents[column].append(value)
    # Each document and reject was made from exactly one snapshot.
    parent_is_snapshot = pl.concat_list(pl.col("snapshot_id")).alias("parent_ids")
    kept_frame = pl.DataFrame(documents, schema=DOCUMENTS.columns).with_columns(parent_is_snapshot)
    clusters = _near_duplicate_members(kept_frame, near_dup, workers)
    dropped = clusters.filter(~pl.col("is_canonical"))
    for snapshot_id, crawl_id, url, canonical, similarity in (
        dropped.join(kept_frame.select("doc_id", "crawl_id"), on="doc_id")
        .select("snapshot_id", "crawl_id", "url", "canonical_doc_id", "similarity")
        .iter_rows()
    ):
        reject(
            snapshot_id,
            crawl_id,
            url,
            DropReason.NEAR_DUPLICATE,
            f"Jaccard {similarity:.2f} with {canonical}",
            canonical,
        )
    return BuiltDocuments(
        documents=kept_frame.join(dropped.select("doc_id"), on="doc_id", how="anti").sort("doc_id"),
        rejects=pl.DataFrame(rejects, schema=DOCUMENT_REJECTS.columns)
        .with_columns(parent_is_snapshot)
        .sort("reject_id"),
        clusters=clusters.sort("cluster_id", "member_id"),
    )


def _near_duplicate_members(
    documents: pl.DataFrame, settings: NearDupSettings | None, workers: int
) -> pl.DataFrame:
    """`document_clusters` rows: every member of every near-duplicate cluster of documents.

    Documents are ordered longest text first (ties: URL), so each cluster keeps its most
    complete version as the canonical member.
    """
    schema = {**DOCUMENT_CLUSTERS.columns, "parent_ids": pl.List(pl.String)}
    if settings is None or documents.height < 2:
        return pl.DataFrame(schema=schema)
    ordered = documents.sort(["n_chars", "url"], descending=[True, False])
    members = near_duplicate_clusters(
        ordered.get_column("doc_id").to_list(),
        ordered.get_column("text").to_list(),
        settings,
        workers=workers,
    )
    return (
        members.join(documents.select("doc_id", "snapshot_id", "url"), on="doc_id")
        .with_columns(
            pl.struct("cluster_id", "doc_id")
            .map_elements(
                lambda m: stable_id("ndm", m["cluster_id"], m["doc_id"]), return_dtype=pl.String
            )
            .alias("member_id"),
            (pl.col("doc_id") == pl.col("canonical_doc_id")).alias("is_canonical"),
            pl.concat_list(pl.col("snapshot_id")).alias("parent_ids"),
        )
        .select(list(schema))
    )
