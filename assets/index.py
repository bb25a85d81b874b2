"""The index group: `passages` (chunks with embeddings) → `search_index` (LanceDB).

Thin wiring: the work is in lakehouse.index. The search index's data version is its LanceDB
table version plus a fingerprint of the rows and settings it was built from.
"""

import dagster as dg
import polars as pl

from assets.metadata import content_data_version, progress_logger, table_metadata
from assets.web import DOCUMENTS_KEY
from dagster_project.resources import LakehouseResource
from lakehouse import paths
from lakehouse.index import chunking, search_index
from lakehouse.index.embedder import Embedder, embed_passages
from lakehouse.lineage import RunStamp, stamp
from lakehouse.tables import DOCUMENTS, PASSAGES

PASSAGES_KEY = dg.AssetKey(PASSAGES.name)
SEARCH_INDEX_KEY = dg.AssetKey("search_index")
PASSAGES_CODE_VERSION = f"{chunking.CHUNKER_VERSION}+embed-1"
SEARCH_TABLE = "passages"


class PassagesConfig(dg.Config):
    """Chunking (lakehouse.index.chunking.ChunkSettings) and the embedding model."""

    max_words: int = chunking.ChunkSettings.max_words
    overlap_sentences: int = chunking.ChunkSettings.overlap_sentences
    min_words: int = chunking.ChunkSettings.min_words
    model_path: str | None = None  # a local sentence-transformers model; None: all-MiniLM-L6-v2
    dtype: str = "auto"  # auto (bf16 where fast and within cosine 0.995 of fp32), bf16, fp32


@dg.asset(
    key=PASSAGES_KEY,
    deps=[DOCUMENTS_KEY],
    group_name="index",
    code_version=PASSAGES_CODE_VERSION,
    kinds={"parquet", "polars", "pytorch"},
    check_specs=[dg.AssetCheckSpec("offsets_match_document_text", asset=PASSAGES_KEY)],
)
def passages(
    context: dg.AssetExecutionContext, config: PassagesConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """One sentence-aware, overlapping chunk of a document, with its embedding."""
    store = lakehouse.open()
    documents = store.read(DOCUMENTS.name)
    settings = chunking.ChunkSettings(
        max_words=config.max_words,
        overlap_sentences=config.overlap_sentences,
        min_words=config.min_words,
    )
    chunks = chunking.chunk_documents(documents, settings)
    embedder = Embedder(config.model_path, dtype=config.dtype)
    context.log.info(
        f"{chunks.height} passages from {documents.height} documents; embedding with "
        f"{embedder.model_id} ({embedder.dtype_choice})"
    )
    frame = stamp(
        embed_passages(chunks, embedder, progress=progress_logger(context, "embedded")),
        RunStamp.now(context.run.run_id, PASSAGES_CODE_VERSION),
    )
    path = store.write(PASSAGES.name, frame)
    cut = pl.col("text_doc").str.slice(
        pl.col("start_char"), pl.col("end_char") - pl.col("start_char")
    )
    mismatched = (
        frame.join(documents.select("doc_id", "text"), on="doc_id", suffix="_doc")
        .filter(pl.col("text") != cut)
        .height
    )
    return dg.MaterializeResult(
        metadata={
            **table_metadata(
                PASSAGES,
                frame,
                str(path),
                ["title", "chunk_index", "n_words", "text"],
                column_lineage={
                    "text": [("documents", "text")],
                    "doc_id": [("documents", "doc_id")],
                    "url": [("documents", "url")],
                    "title": [("documents", "title")],
                },
            ),
            "embedding_model": embedder.model_id,
            "dtype_choice": str(embedder.dtype_choice),
            "words_median": float(frame.get_column("n_words").median() or 0),
        },
        data_version=content_data_version(frame, PASSAGES),
        check_results=[
            dg.AssetCheckResult(
                check_name="offsets_match_document_text",
                passed=mismatched == 0,
                metadata={"mismatched": mismatched},
            )
        ],
    )


@dg.asset(
    key=SEARCH_INDEX_KEY,
    deps=[PASSAGES_KEY],
    group_name="index",
    code_version=search_index.INDEX_CODE_VERSION,
    kinds={"lancedb"},
)
def search_index_asset(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """The LanceDB table of passages with a vector index and a native full-text index."""
    store = lakehouse.open()
    frame = store.read(PASSAGES.name)
    info = search_index.build_index(frame, paths.lancedb_dir(store.root), SEARCH_TABLE)
    context.log.info(
        f"index {info.table_name} v{info.version}: {info.row_count} rows, vector index "
        f"{info.vector_index or 'none (exact scan)'}, {'rebuilt' if info.rebuilt else 'unchanged'}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": info.row_count,
            "dagster/uri": dg.MetadataValue.path(f"{info.directory}/{info.table_name}.lance"),
            "table_version": info.version,
            "vector_index": info.vector_index or "none (exact scan)",
            "embedding_model": info.embedding_model,
            "fingerprint": info.fingerprint,
            "build_seconds": round(info.seconds, 2),
            "rebuilt": info.rebuilt,
        },
        data_version=dg.DataVersion(f"v{info.version}-{info.fingerprint[:12]}"),
    )
