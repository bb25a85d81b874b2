"""The search index: passages in a LanceDB table with a vector index and a full-text index.

`build_index` writes embedded passages to a table under a directory (overwrite mode: the
same passages always give the same rows, and an unchanged build is skipped), then indexes
it: LanceDB's native BM25 full-text index on `text`, BTREE indices on `doc_id` and `url` (for
block-list prefilters and per-page lookups) and, from `ann_min_rows` rows on, an ANN vector
index (below that an exact scan is as fast). `add_passages` upserts rows later and
`optimize_index` folds them into the indices (unindexed rows are searched by exact scan
meanwhile, so they are never missed).

`SearchIndex` queries one version of the table: "bm25", "dense" or "hybrid" (reciprocal rank
fusion of the two ranked lists, done here so the constant and the weights are explicit). A
batch of queries is embedded in one call and searched as one multi-vector query, its full-text
queries concurrently; a hybrid query runs both retrievers concurrently. Blocked URLs and
documents are filtered inside the query (prefilter), so they never take a result slot.
"""

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import lancedb
import numpy as np
import polars as pl
import pyarrow as pa
from lancedb.index import FTS, BTree, IvfHnswSq, IvfPq
from lancedb.table import AsyncTable

from lakehouse.ids import sha256_hex
from lakehouse.index.embedder import Embedder, default_embedder
from lakehouse.workers import default_workers

SearchMode = Literal["bm25", "dense", "hybrid"]
SEARCH_MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
VECTOR_COLUMN = "vector"
TEXT_COLUMN = "text"
# Columns copied from the passages table into the index (plus the vector).
STORED_COLUMNS = (
    "passage_id",
    "doc_id",
    "url",
    "title",
    "chunk_index",
    "start_char",
    "end_char",
    "text",
    "embedding_model",
)
HIT_COLUMNS = ["passage_id", "doc_id", "url", "title", "text"]
SCALAR_INDEX_COLUMNS = ("doc_id", "url")
INFO_SUFFIX = ".info.json"
INDEX_CODE_VERSION = "search-index-1"


# Measured here (2 cores; 101,646 real MiniLM passage vectors: the English summaries' 11,294
# passages plus 8 perturbed copies; 200 description queries; k=10; recall vs numpy exact):
#   IVF_HNSW_SQ, build 43 s:  ef default 0.885 (p50 4.9 ms); ef=64 0.975 (p50 4-5 ms);
#                             ef=128 0.980 (5 ms); ef=64 + refine 2 0.990 (6.2 ms)
#   IVF_PQ 96 sub-vectors, build 137 s: 0.844 without refine; refine 5 0.994-0.997
#                             (11-12 ms); refine 10 0.997-1.000 (11-13 ms)
#   exact scan in LanceDB: 166 ms at 100k; numpy exact: 6.7 ms single, 5.0 ms/query batched
# IVF_HNSW_SQ with ef=64 clears the 0.95 target at under half IVF_PQ's latency and a third
# of its build time, so it is the default. nprobes made no difference (LanceDB's default
# partition count keeps 100k rows in very few partitions).
# Exact scan vs IVF_HNSW_SQ, p50 per query: 1k rows 4.2 vs 3.8 ms, 2k 4.5 vs 3.2, 5k 6.7 vs
# 3.7, 11k 14.6 vs 3.6 (HNSW recall ≥ 0.99 at these sizes): below 5k rows exact stays fast.


@dataclass(frozen=True)
class IndexSettings:
    """How the table is indexed; recorded in IndexInfo and part of its fingerprint."""

    ann_min_rows: int = 5_000  # below this an exact scan (see the measurements above)
    vector_index: Literal["ivf_hnsw_sq", "ivf_pq"] = "ivf_hnsw_sq"
    num_partitions: int | None = None  # None: LanceDB's default for the row count
    num_sub_vectors: int = 96  # ivf_pq only: 4 dimensions per sub-vector for 384-d vectors
    hnsw_m: int = 20  # ivf_hnsw_sq only: LanceDB's defaults
    hnsw_ef_construction: int = 300
    fts_stem: bool = True  # English stemming and stop words: LanceDB's FTS defaults
    fts_remove_stop_words: bool = True

    def __post_init__(self) -> None:
        if self.vector_index not in ("ivf_hnsw_sq", "ivf_pq"):
            raise ValueError(
                f"vector_index must be ivf_hnsw_sq or ivf_pq, not {self.vector_index!r}"
            )
        if self.ann_min_rows < 0:
            raise ValueError(f"ann_min_rows must be >= 0, got {self.ann_min_rows}")

    def fingerprint(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class SearchSettings:
    """Query-time knobs: fusion constant and weights, candidate depth, ANN search effort."""

    # Cormack, Clarke & Büttcher (SIGIR 2009): k=60 was near-best across TREC runs.
    # Measured here (1,000 unique page descriptions → their page, seed 1, on the 11,294
    # passages of the English summaries; page recall@10 / MRR, as `sailyard bench search`
    # scores them): bm25 0.881 / 0.674, dense 0.868 / 0.593; hybrid with rrf_k=60 0.919-0.921
    # / 0.681, rrf_k=20 0.925-0.930 / 0.684, rrf_k=10 0.928-0.934 / 0.688; dense_weight 1.5
    # lowered MRR at every rrf_k (0.672-0.677); fusion_depth 50 vs 20-30 (which the tool's
    # unique-doc depth of k × 4 = 40 overrides) changed recall@10 by ≤ 0.006. Hybrid beats
    # both single modes at every setting, so the cited defaults stay: the gain of a smaller
    # rrf_k is ~1% of questions on one kind of question.
    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    fusion_depth: int = 50  # candidates taken from each ranked list before fusing
    unique_docs_overfetch: int = 4  # passages fetched per wanted hit when collapsing docs
    nprobes: int = 20  # IVF partitions searched per query
    # HNSW search breadth: recall@10 0.975 at 100k (measurements above); raised to twice
    # the candidate count for deeper lists (hybrid fusion, unique-doc over-fetch).
    ef: int = 64
    refine_factor: int | None = None  # re-rank limit × factor candidates with full vectors

    def __post_init__(self) -> None:
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.bm25_weight < 0 or self.dense_weight < 0:
            raise ValueError("fusion weights must be >= 0")
        if min(self.fusion_depth, self.unique_docs_overfetch, self.nprobes, self.ef) < 1:
            raise ValueError("fusion_depth, unique_docs_overfetch, nprobes and ef must be >= 1")


@dataclass(frozen=True)
class IndexInfo:
    """What a build or an update left on disk: cite `version` (and `fingerprint`) in scores."""

    directory: str
    table_name: str
    version: int  # the LanceDB table version the indices were built on
    row_count: int
    vector_index: str | None  # None: exact scan
    embedding_model: str
    dimension: int
    fingerprint: str  # hash of the rows' ids, texts and models plus the index settings
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    rebuilt: bool = True  # False when build_index found the same build already on disk


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a passage and its score (BM25, cosine similarity, or fused RRF)."""

    passage_id: str
    doc_id: str
    url: str
    title: str
    text: str
    score: float


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]],
    weights: Mapping[str, float] | None = None,
    k: int = 60,
) -> list[tuple[str, float]]:
    """Items of several ranked lists ordered by Σ weight / (k + rank), ranks from 1.

    Ties are broken by the item's best rank in any list, then by the item itself, so the
    order is deterministic. A list without a weight gets 1.0; a list of weight 0 is ignored.
    """
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for name, ranked in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        if weight == 0:
            continue
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best_rank[item] = min(best_rank.get(item, rank), rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], best_rank[pair[0]], pair[0]))


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def block_filter(block_urls: Sequence[str] = (), block_doc_ids: Sequence[str] = ()) -> str | None:
    """A LanceDB `where` clause excluding the given URLs and documents (None if none)."""
    clauses = []
    if block_urls:
        clauses.append(f"url NOT IN ({_sql_list(sorted(set(block_urls)))})")
    if block_doc_ids:
        clauses.append(f"doc_id NOT IN ({_sql_list(sorted(set(block_doc_ids)))})")
    return " AND ".join(clauses) or None


# -- building ------------------------------------------------------------------------------


def _info_path(directory: Path, table_name: str) -> Path:
    return directory / f"{table_name}{INFO_SUFFIX}"


def _read_info(directory: Path, table_name: str) -> IndexInfo | None:
    try:
        return IndexInfo(**json.loads(_info_path(directory, table_name).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_info(info: IndexInfo) -> None:
    path = _info_path(Path(info.directory), info.table_name)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(info), indent=1, sort_keys=True))
    os.replace(temporary, path)


def _passages_to_arrow(passages: pl.DataFrame) -> tuple[pa.Table, str, int]:
    """The rows to store (STORED_COLUMNS + vector), their one embedding model and dimension."""
    missing = [name for name in (*STORED_COLUMNS, "embedding") if name not in passages.columns]
    if missing:
        raise ValueError(f"passages lack columns {missing} (embed them with embed_passages)")
    if passages.height == 0:
        raise ValueError("no passages to index")
    lengths = passages.get_column("embedding").list.len()
    if passages.get_column("embedding").null_count() or lengths.min() != lengths.max():
        raise ValueError("every passage needs an embedding, all of one dimension")
    models = passages.get_column("embedding_model").unique().to_list()
    if len(models) != 1:
        raise ValueError(f"passages must come from one embedding model, found {models}")
    dimension = int(lengths[0])
    if passages.get_column("passage_id").n_unique() != passages.height:
        raise ValueError("passage ids must be unique")
    frame = passages.select(
        *STORED_COLUMNS,
        pl.col("embedding").cast(pl.Array(pl.Float32, dimension)).alias(VECTOR_COLUMN),
    )
    return frame.to_arrow().cast(_arrow_schema(dimension)), models[0], dimension


def _arrow_schema(dimension: int) -> pa.Schema:
    """Plain (not large) strings: LanceDB's BTREE index does not take large_string columns."""
    integers = ("chunk_index", "start_char", "end_char")
    return pa.schema(
        [pa.field(name, pa.int32() if name in integers else pa.string()) for name in STORED_COLUMNS]
        + [pa.field(VECTOR_COLUMN, pa.list_(pa.float32(), dimension))]
    )


def _fingerprint(rows: pl.DataFrame, settings: IndexSettings) -> str:
    """Order-independent hash of what defines the index content: ids, texts, model, settings."""
    keyed = rows.select("passage_id", "embedding_model", "text").sort("passage_id")
    parts = [INDEX_CODE_VERSION, settings.fingerprint()]
    for passage_id, model, text in keyed.iter_rows():
        parts.append(f"{passage_id}\x1f{model}\x1f{sha256_hex(text)}")
    return sha256_hex("\x1e".join(parts))


def _vector_index_config(settings: IndexSettings) -> IvfHnswSq | IvfPq:
    if settings.vector_index == "ivf_pq":
        return IvfPq(
            distance_type="cosine",
            num_partitions=settings.num_partitions,
            num_sub_vectors=settings.num_sub_vectors,
        )
    return IvfHnswSq(
        distance_type="cosine",
        num_partitions=settings.num_partitions,
        m=settings.hnsw_m,
        ef_construction=settings.hnsw_ef_construction,
    )


def _vector_index_name(table: lancedb.table.Table) -> str | None:
    for index in table.list_indices():
        if VECTOR_COLUMN in index.columns:
            return str(index.index_type)
    return None


def _create_indices(table: lancedb.table.Table, settings: IndexSettings) -> None:
    table.create_index(
        TEXT_COLUMN,
        config=FTS(stem=settings.fts_stem, remove_stop_words=settings.fts_remove_stop_words),
    )
    for column in SCALAR_INDEX_COLUMNS:
        table.create_index(column, config=BTree())
    if table.count_rows() >= settings.ann_min_rows:
        table.create_index(VECTOR_COLUMN, config=_vector_index_config(settings))


def _table_info(
    directory: Path, table_name: str, table, settings: IndexSettings, seconds: float
) -> IndexInfo:
    rows = table.search().select(["passage_id", "embedding_model", "text"]).limit(None)
    frame = pl.from_arrow(rows.to_arrow())
    models = frame.get_column("embedding_model").unique().sort().to_list()
    return IndexInfo(
        directory=str(directory),
        table_name=table_name,
        version=int(table.version),
        row_count=frame.height,
        vector_index=_vector_index_name(table),
        embedding_model=",".join(models),
        dimension=int(table.schema.field(VECTOR_COLUMN).type.list_size),
        fingerprint=_fingerprint(frame, settings),
        settings=asdict(settings),
        seconds=round(seconds, 3),
    )


def _record_build(
    directory: Path,
    table_name: str,
    table: lancedb.table.Table,
    settings: IndexSettings,
    started: float,
) -> IndexInfo:
    """Describe the table as it now is and save that beside it (the skip check reads it)."""
    info = _table_info(directory, table_name, table, settings, time.perf_counter() - started)
    _write_info(info)
    return info


def build_index(
    passages: pl.DataFrame,
    directory: str | os.PathLike[str],
    table_name: str = "passages",
    settings: IndexSettings | None = None,
    force: bool = False,
) -> IndexInfo:
    """Write embedded passages to `directory/table_name` (overwrite) and index them.

    Idempotent: the table always holds exactly these rows; when the directory already holds
    a build of the same rows with the same settings (and nothing was added since), it is
    kept as is (`rebuilt=False`) unless `force`.
    """
    settings = settings or IndexSettings()
    directory = Path(directory).resolve()
    data, _, _ = _passages_to_arrow(passages)
    wanted = _fingerprint(passages, settings)
    db = lancedb.connect(directory)
    previous = _read_info(directory, table_name)
    if not force and previous is not None and previous.fingerprint == wanted:
        try:
            current_version = db.open_table(table_name).version
        except (FileNotFoundError, ValueError):
            current_version = None
        if current_version == previous.version:
            return replace(previous, rebuilt=False)
    started = time.perf_counter()
    table = db.create_table(table_name, data, mode="overwrite")
    _create_indices(table, settings)
    return _record_build(directory, table_name, table, settings, started)


def add_passages(
    passages: pl.DataFrame,
    directory: str | os.PathLike[str],
    table_name: str = "passages",
    settings: IndexSettings | None = None,
    optimize: bool = True,
) -> IndexInfo:
    """Upsert passages (by passage_id) into an existing index, then `optimize_index`.

    Adding the same rows twice leaves one copy. The embedding model must match the table's.
    """
    settings = settings or IndexSettings()
    directory = Path(directory).resolve()
    data, model, _ = _passages_to_arrow(passages)
    table = lancedb.connect(directory).open_table(table_name)
    existing = table.search().select(["embedding_model"]).limit(1).to_arrow()
    if existing.num_rows and existing.column("embedding_model")[0].as_py() != model:
        raise ValueError(
            f"passages embedded with {model!r} cannot join an index of "
            f"{existing.column('embedding_model')[0].as_py()!r}"
        )
    started = time.perf_counter()
    (
        table.merge_insert("passage_id")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute(data)
    )
    if optimize:
        return optimize_index(directory, table_name, settings, started=started)
    return _record_build(directory, table_name, table, settings, started)


def optimize_index(
    directory: str | os.PathLike[str],
    table_name: str = "passages",
    settings: IndexSettings | None = None,
    started: float | None = None,
) -> IndexInfo:
    """Fold unindexed rows into every index (compacting files); build the ANN index once the
    table has grown past `ann_min_rows`."""
    settings = settings or IndexSettings()
    directory = Path(directory).resolve()
    started = time.perf_counter() if started is None else started
    table = lancedb.connect(directory).open_table(table_name)
    table.optimize()
    if _vector_index_name(table) is None and table.count_rows() >= settings.ann_min_rows:
        table.create_index(VECTOR_COLUMN, config=_vector_index_config(settings))
    return _record_build(directory, table_name, table, settings, started)


# -- searching -----------------------------------------------------------------------------

# Why queries go through LanceDB's async API, return only row ids, and read the passages'
# texts from memory (measured here, 2 cores, 101,646 passages, p50 of 200 queries, k=10):
#   the sync API costs ~3-4 ms more per query than the async one run on the caller's thread
#   (dense: 8.6 vs 4.2-5.1 ms; even a 30-row table took 6.9 ms sync, 2.6-3.8 ms async);
#   selecting the text columns costs another 2-4 ms (random reads of each candidate's row):
#   dense k=50 4.2 ms with row ids only vs 6.0 ms with passage_id alone, hybrid depth 50
#   15.6 ms with all columns vs 5.3 ms with row ids (dense and BM25 run concurrently).
# So the hit columns (HIT_COLUMNS, ~60 MB at 100k passages) are loaded once per SearchIndex
# (0.23 s at 100k) and candidates are mapped to them by row id. Row ids are row addresses of
# the checked-out version, which a SearchIndex never leaves.
# Batches: the vectors of a batch are one multi-vector query (64 queries: 0.8 ms/query vs
# 4-6 ms one at a time); LanceDB has no multi-query full-text search, so a batch's BM25
# queries are awaited concurrently (64 queries: 2.2-3.2 ms/query vs 6-7 ms one at a time).


@dataclass(frozen=True)
class _Payload:
    """The hit columns of every row of one table version, ordered by row id: candidates are
    looked up by position, and only the hits returned become objects."""

    row_ids: np.ndarray  # uint64, sorted
    columns: dict[str, np.ndarray]  # HIT_COLUMNS as object arrays, aligned with row_ids

    @classmethod
    def of(cls, arrow: pa.Table) -> "_Payload":
        arrow = arrow.sort_by("_rowid")
        return cls(
            row_ids=arrow.column("_rowid").to_numpy().astype(np.uint64),
            columns={
                name: arrow.column(name).to_numpy(zero_copy_only=False) for name in HIT_COLUMNS
            },
        )

    def positions(self, ranked: "_Ranked") -> "_Ranked":
        """(row id, score) pairs as (position, score) pairs."""
        wanted = np.fromiter((row_id for row_id, _ in ranked), dtype=np.uint64, count=len(ranked))
        positions = np.searchsorted(self.row_ids, wanted)
        if len(positions) and (
            positions.max() >= len(self.row_ids) or (self.row_ids[positions] != wanted).any()
        ):
            raise RuntimeError("the index returned a row id outside the version it was opened at")
        return list(zip(positions.tolist(), (score for _, score in ranked), strict=True))

    def hit(self, position: int, score: float) -> Hit:
        return Hit(
            **{name: self.columns[name][position] for name in HIT_COLUMNS}, score=float(score)
        )


_Ranked = list[tuple[int, float]]  # (row id or payload position, score), best first


class SearchIndex:
    """Read-only queries over one version of a built index (the latest unless `version`).

    Safe to share between threads: each thread runs its queries on its own event loop.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        table_name: str = "passages",
        settings: SearchSettings | None = None,
        embedder: Embedder | None = None,
        version: int | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.table_name = table_name
        self.settings = settings or SearchSettings()
        self._embedder = embedder
        self._table = lancedb.connect(self.directory).open_table(table_name)
        if version is not None:
            self._table.checkout(version)
        self.version = int(self._table.version)
        self.vector_index = _vector_index_name(self._table)
        self.info = _read_info(self.directory, table_name)
        first = self._table.search().select(["embedding_model"]).limit(1).to_arrow()
        self.embedding_model = (
            first.column("embedding_model")[0].as_py() if first.num_rows else None
        )
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()  # guards _loops
        self._payload_lock = threading.Lock()
        self._payload: _Payload | None = None

    def __repr__(self) -> str:
        return f"SearchIndex({str(self.directory)!r}, {self.table_name!r}, v{self.version})"

    @property
    def embedder(self) -> Embedder:
        """The query embedder (the process-wide default unless one was given)."""
        if self._embedder is None:
            self._embedder = default_embedder()
        if self.embedding_model and not _same_model(self._embedder.model_id, self.embedding_model):
            raise ValueError(
                f"index embedded with {self.embedding_model!r}; queries would be embedded "
                f"with {self._embedder.model_id!r}"
            )
        return self._embedder

    def count(self) -> int:
        return self._table.count_rows()

    def close(self) -> None:
        """Close the event loops the querying threads opened (they are not used again)."""
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            if not loop.is_closed() and not loop.is_running():
                loop.close()
        self._local = threading.local()

    # -- running LanceDB's async queries from synchronous code -----------------------------
    def _thread_state(self) -> tuple[asyncio.AbstractEventLoop, AsyncTable]:
        state = getattr(self._local, "state", None)
        if state is None or state[0].is_closed():
            loop = asyncio.new_event_loop()
            table = loop.run_until_complete(self._open_async())
            state = self._local.state = (loop, table)
            with self._lock:
                self._loops.append(loop)
        return state

    async def _open_async(self) -> AsyncTable:
        table = await (await lancedb.connect_async(self.directory)).open_table(self.table_name)
        await table.checkout(self.version)
        return table

    def _run(self, work: Callable[[AsyncTable], Awaitable[Any]]) -> Any:
        """Await `work(table)` on this thread's loop (from async code: on a helper thread)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            loop, table = self._thread_state()
            return loop.run_until_complete(work(table))
        return _helper_pool().submit(self._run, work).result()

    def _rows(self) -> _Payload:
        with self._payload_lock:
            if self._payload is None:
                arrow = self._run(
                    lambda table: table.query().select(HIT_COLUMNS).with_row_id().to_arrow()
                )
                self._payload = _Payload.of(arrow)
            return self._payload

    # -- the two retrievers, each giving per query a list of (row id, score) ---------------
    async def _dense(
        self, table: AsyncTable, vectors: np.ndarray, depth: int, where: str | None
    ) -> list[_Ranked]:
        if len(vectors) == 0:
            return []
        query = (
            table.query()
            .nearest_to(vectors if len(vectors) > 1 else vectors[0])
            .column(VECTOR_COLUMN)
            .distance_type("cosine")
            .select(["_rowid", "_distance"])
            .with_row_id()
            .limit(depth)
        )
        if self.vector_index is not None:
            query = query.nprobes(self.settings.nprobes).ef(max(self.settings.ef, 2 * depth))
            if self.settings.refine_factor is not None:
                query = query.refine_factor(self.settings.refine_factor)
        if where:
            query = query.where(where)  # a prefilter: LanceDB's default
        result = await query.to_arrow()
        positions = (
            result.column("query_index").to_pylist()
            if "query_index" in result.column_names
            else [0] * result.num_rows
        )
        ranked: list[_Ranked] = [[] for _ in range(len(vectors))]
        for position, row_id, distance in zip(
            positions,
            result.column("_rowid").to_pylist(),
            result.column("_distance").to_pylist(),
            strict=True,
        ):
            ranked[position].append((row_id, 1.0 - distance))
        for rows in ranked:
            rows.sort(key=lambda pair: -pair[1])
        return ranked

    async def _bm25_one(
        self, table: AsyncTable, query: str, depth: int, where: str | None
    ) -> _Ranked:
        if not query.strip():
            return []
        search = (
            table.query()
            .nearest_to_text(query, columns=TEXT_COLUMN)
            .select(["_rowid", "_score"])
            .with_row_id()
            .limit(depth)
        )
        if where:
            search = search.where(where)
        result = await search.to_arrow()
        row_ids = result.column("_rowid").to_pylist()
        return list(zip(row_ids, result.column("_score").to_pylist(), strict=True))

    async def _retrieve(
        self,
        table: AsyncTable,
        queries: list[str],
        vectors: np.ndarray | None,
        bm25_depth: int | None,
        dense_depth: int | None,
        where: str | None,
    ) -> tuple[list[_Ranked], list[_Ranked]]:
        """Both retrievers for a batch, concurrently: one multi-vector query and one
        full-text query per text (LanceDB has no multi-query full-text search)."""
        none: list[_Ranked] = [[] for _ in queries]
        work = []
        if dense_depth is not None and vectors is not None:
            work.append(self._dense(table, vectors, dense_depth, where))
        if bm25_depth is not None:
            work.extend(self._bm25_one(table, query, bm25_depth, where) for query in queries)
        done = await asyncio.gather(*work)
        dense = done.pop(0) if dense_depth is not None and vectors is not None else none
        lexical = list(done) if bm25_depth is not None else none
        return lexical, dense

    def _query_vectors(self, queries: Sequence[str], vectors: np.ndarray | None) -> np.ndarray:
        if vectors is not None:
            vectors = np.asarray(vectors, dtype=np.float32).reshape(len(queries), -1)
            return vectors
        return self.embedder.encode(list(queries))

    def search(
        self,
        queries: Sequence[str] | np.ndarray,
        mode: SearchMode = "hybrid",
        k: int = 10,
        block_urls: Sequence[str] = (),
        block_doc_ids: Sequence[str] = (),
        *,
        vectors: np.ndarray | None = None,
        unique_docs: bool = False,
    ) -> list[list[Hit]]:
        """The top-k passages for each query, best first; never a blocked URL or document.

        `queries` are texts, or (dense mode only) a 2-D array of query vectors; `vectors`
        supplies precomputed embeddings for text queries. With `unique_docs` each document
        appears at most once (its best passage), as a web search engine lists pages.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"mode must be one of {SEARCH_MODES}, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if isinstance(queries, np.ndarray):
            if mode != "dense":
                raise ValueError(f"{mode} search needs query texts, not vectors")
            vectors = np.atleast_2d(queries)  # one 1-D vector is one query
            queries = [""] * len(vectors)
        if isinstance(queries, str):
            raise TypeError("queries must be a list of strings (wrap a single query in a list)")
        queries = list(queries)
        if not queries:
            return []
        where = block_filter(block_urls, block_doc_ids)
        wanted = k * self.settings.unique_docs_overfetch if unique_docs else k
        depth = max(wanted, self.settings.fusion_depth) if mode == "hybrid" else wanted
        use_bm25 = mode == "bm25" or (mode == "hybrid" and self.settings.bm25_weight > 0)
        use_dense = mode == "dense" or (mode == "hybrid" and self.settings.dense_weight > 0)
        query_vectors = self._query_vectors(queries, vectors) if use_dense else None
        lexical, dense = self._run(
            lambda table: self._retrieve(
                table,
                queries,
                query_vectors,
                depth if use_bm25 else None,
                depth if use_dense else None,
                where,
            )
        )
        payload = self._rows()
        if mode == "bm25":
            ranked = [payload.positions(pairs) for pairs in lexical]
        elif mode == "dense":
            ranked = [payload.positions(pairs) for pairs in dense]
        else:
            ranked = [
                self._fuse(payload, payload.positions(bm25), payload.positions(semantic))
                for bm25, semantic in zip(lexical, dense, strict=True)
            ]
        blocked_urls, blocked_docs = frozenset(block_urls), frozenset(block_doc_ids)
        return [
            _hits(payload, pairs, k, unique_docs, blocked_urls, blocked_docs) for pairs in ranked
        ]

    def _fuse(self, payload: _Payload, lexical: _Ranked, semantic: _Ranked) -> _Ranked:
        """The two ranked lists fused by RRF (ties broken by passage id, as documented)."""
        passage_ids = payload.columns["passage_id"]
        position_of = {passage_ids[position]: position for position, _ in (*semantic, *lexical)}
        fused = reciprocal_rank_fusion(
            {
                "bm25": [passage_ids[position] for position, _ in lexical],
                "dense": [passage_ids[position] for position, _ in semantic],
            },
            {"bm25": self.settings.bm25_weight, "dense": self.settings.dense_weight},
            k=self.settings.rrf_k,
        )
        return [(position_of[passage_id], score) for passage_id, score in fused]

    def passages_of(self, doc_id: str) -> pl.DataFrame:
        """Every indexed passage of one document with its vector, in chunk order."""
        rows = (
            self._table.search()
            .where(f"doc_id = {_sql_list([doc_id])}")
            .select(["passage_id", "chunk_index", "start_char", "end_char", "text", VECTOR_COLUMN])
            .limit(None)
            .to_arrow()
        )
        return pl.from_arrow(rows).sort("chunk_index")


@lru_cache(maxsize=1)
def _helper_pool() -> ThreadPoolExecutor:
    """Threads that run searches called from inside a running event loop (async code)."""
    return ThreadPoolExecutor(max_workers=default_workers(), thread_name_prefix="search-index")


def _same_model(query_model_id: str, index_model_id: str) -> bool:
    """Whether two model ids name the same model (the dtype after the last '/' may differ)."""
    return query_model_id.rsplit("/", 1)[0] == index_model_id.rsplit("/", 1)[0]


def _hits(
    payload: _Payload,
    ranked: _Ranked,
    k: int,
    unique_docs: bool,
    blocked_urls: frozenset[str],
    blocked_docs: frozenset[str],
) -> list[Hit]:
    urls, doc_ids = payload.columns["url"], payload.columns["doc_id"]
    hits: list[Hit] = []
    seen_docs: set[str] = set()
    for position, score in ranked:
        doc_id = doc_ids[position]
        # The prefilter already excluded these; checked again so a blocked page can never leak.
        if urls[position] in blocked_urls or doc_id in blocked_docs:
            continue
        if unique_docs:
            if doc_id in seen_docs:
                continue
            seen_docs.add(doc_id)
        hits.append(payload.hit(position, score))
        if len(hits) == k:
            break
    return hits
