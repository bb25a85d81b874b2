"""`sailyard bench search`: the index group's speed and quality, against baselines run here.

Corpora (English Wikipedia summaries, replayed, extracted and chunked as the assets do):
- "corpus": every summary (size full: 10,032 documents → ~11.3k passages), embedded once
  with the default embedder and cached under `<lakehouse root>/bench/search/` (keyed by
  the passage ids and the model id), so reruns skip the ~2 minutes of embedding;
- "×N": the corpus plus N-1 perturbed copies (full: ×9 → ~101.6k passages). Embedding 100k
  passages would take ~20 min here, so a copy perturbs the embedded corpus instead: each
  vector gets Gaussian noise of norm ~VECTOR_NOISE and is re-normalized (cosine ≈ 0.89 to
  its original: a near-duplicate page, which makes the ANN index's job harder, not easier),
  and TEXT_EDIT_SHARE of each passage's words are replaced by random corpus words (BM25
  scores vary between copies). Copies get their own passage, document ids and URLs.
Both indices are built with `build_index` in the cache directory (a rebuild of unchanged
passages is skipped).

Measured, with the queries' vectors given (embedding is measured on its own):
- latency p50/p95 and queries/s of one query per call, and queries/s of batches of `batch`
  queries, for bm25, dense and hybrid; baselines: bm25s (BM25 in sparse matrices, the same
  passage texts, English stop words, no stemmer) and exact numpy search (`vectors @ q` +
  argpartition), one query per call and batched; dense recall@10 against numpy's exact top 10;
- end to end from the query text (one embedding call per call), one query per call vs
  batched: what the tool service does;
- the HTTP tool service (`sailyard serve-tools` in a subprocess, on loopback) against the
  in-process `search_tool` on the same queries, alternating the two (the added latency: per
  query the best of PAIRED_ROUNDS calls each way, then the median of the differences), again
  in bm25 mode (no embedding: the HTTP path alone); and concurrent clients, with the number
  of batches the service formed (`python -m evaluation.perf.search service` runs this alone);
- embedding throughput: `embed_passages` (lakehouse.index.embedder) vs calling
  `SentenceTransformer.encode` directly on the same passages, in the same dtype, alternating
  slice by slice (best of EMBED_ROUNDS per slice);
- retrieval quality on the corpus index: recall@1/5/10 and MRR per mode (pages: one result
  per document, as the search tool lists them) on a benchmark file (evaluation/retrieval.py
  describes the format) or on questions built from the corpus's page descriptions; the same
  for bm25s and exact dense search.
The targets (2 cores, ×9 corpus) are checked and printed at the end.
"""

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console, RenderableType
from rich.table import Table

from evaluation.perf.report import BenchReport, Measurement, best_of
from evaluation.retrieval import (
    RECALL_CUTOFFS,
    GoldIndex,
    Question,
    RetrievalQuality,
    load_questions,
    questions_from_descriptions,
    score_rankings,
)
from lakehouse import paths
from lakehouse.errors import SailyardError
from lakehouse.ids import sha256_hex
from lakehouse.index.chunking import chunk_documents
from lakehouse.index.client import ToolClient
from lakehouse.index.embedder import Embedder, default_embedder, default_model_path, embed_passages
from lakehouse.index.search_index import SEARCH_MODES, SearchIndex, build_index
from lakehouse.index.tools import search_tool
from lakehouse.lineage import RunStamp, stamp
from lakehouse.web.documents import QualitySettings, build_documents
from lakehouse.web.replay import ReplaySettings, replay_snapshots
from lakehouse.workers import default_workers

K = 10
VECTOR_NOISE = 0.5  # norm of a copy's vector noise: cosine 1/sqrt(1 + 0.5²) ≈ 0.89
TEXT_EDIT_SHARE = 0.1  # share of a copy's words replaced
CORPUS_SEED = 0
WARMUP_CALLS = 5
SERVICE_START_TIMEOUT_S = 180.0
PAGE_OVERFETCH = 4  # baselines rank this many passages per wanted page (as unique_docs does)
# Best of 3 interleaved rounds: single rounds of 512 passages varied by ±10% between runs here.
EMBED_ROUNDS = 3
# Service vs in-process: each query 3 times each way, alternating. Under the host's noise
# single pairs varied the added latency between runs by 2-3× (2.9-6.2 ms); the best of 3
# per side measures what the HTTP path itself costs.
PAIRED_ROUNDS = 3
EMBED_SLICE_SIZE = 64  # the embedding comparison alternates per slice of this many passages


@dataclass(frozen=True)
class BenchSize:
    """How much of everything one run measures."""

    name: str
    n_docs: int | None  # recorded summaries replayed (None: all)
    times: int  # the large corpus: the corpus and times - 1 perturbed copies of it
    latency_queries: int
    questions: int  # generated benchmark questions (a given file is used whole)
    batch: int
    embed_sample: int  # passages for the embedding-throughput comparison
    clients: int  # concurrent HTTP clients


SIZES = {
    "full": BenchSize("full", None, 9, 200, 300, 64, 512, 16),
    "quick": BenchSize("quick", 120, 2, 16, 24, 8, 32, 4),
}


@dataclass(frozen=True)
class Latency:
    """Per-call latency percentiles of one workload (one query per call unless batched)."""

    name: str
    calls: int
    queries_per_call: int
    p50_ms: float
    p95_ms: float
    queries_per_s: float


@dataclass(frozen=True)
class Target:
    """A performance or quality goal and whether this run met it."""

    goal: str
    measured: str
    met: bool


@dataclass
class SearchReport(BenchReport):
    """The search bench report: throughput rows plus latencies, quality and targets."""

    latencies: list[Latency] = field(default_factory=list)
    quality: dict[str, RetrievalQuality] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)  # named numbers the targets use

    def latency(self, name: str) -> Latency:
        return next(item for item in self.latencies if item.name == name)

    def renderables(self) -> list[RenderableType]:
        """Latency table, throughput vs baselines, retrieval quality, targets."""
        latency = Table(title="latency (per call)", title_justify="left")
        for column in ("workload", "calls", "queries/call", "p50 ms", "p95 ms", "queries/s"):
            latency.add_column(column, justify="left" if column == "workload" else "right")
        for item in self.latencies:
            latency.add_row(
                item.name,
                f"{item.calls:,}",
                str(item.queries_per_call),
                f"{item.p50_ms:.2f}",
                f"{item.p95_ms:.2f}",
                f"{item.queries_per_s:,.0f}",
            )
        quality = Table(title="retrieval quality (pages)", title_justify="left")
        for column in ("retriever", "questions", *(f"recall@{k}" for k in RECALL_CUTOFFS), "MRR"):
            quality.add_column(column, justify="left" if column == "retriever" else "right")
        for name, scores in self.quality.items():
            quality.add_row(
                name,
                str(scores.questions),
                *(f"{scores.recall(k):.3f}" for k in RECALL_CUTOFFS),
                f"{scores.mrr:.3f}",
            )
        targets = Table(title="targets", title_justify="left")
        for column in ("goal", "measured", "met"):
            targets.add_column(column)
        for target in self.targets:
            targets.add_row(
                target.goal, target.measured, "[green]yes[/]" if target.met else "[red]no[/]"
            )
        return [latency, self.table(), quality, targets]


# -- corpora -------------------------------------------------------------------------------


def corpus_documents(n_docs: int | None) -> pl.DataFrame:
    """The English summaries as documents (replayed and extracted as the web group does)."""
    run = RunStamp.now("bench-search", "bench")
    snapshots = stamp(replay_snapshots("bench", ReplaySettings(limit=n_docs)), run)
    return build_documents(snapshots, QualitySettings(), workers=default_workers()).documents


def embedded_passages(
    documents: pl.DataFrame, embedder: Embedder, cache_dir: Path, console: Console
) -> tuple[pl.DataFrame, bool]:
    """Chunked, embedded passages of `documents`, from the cache when it has them; and
    whether the cache had them."""
    passages = chunk_documents(documents)
    key = sha256_hex("\x1f".join([embedder.model_id, *sorted(passages["passage_id"])]))[:16]
    cached = cache_dir / f"passages-{key}.parquet"
    if cached.exists():
        return pl.read_parquet(cached), True
    console.print(f"embedding {passages.height:,} passages with {embedder.model_id} (cached after)")
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / (time.perf_counter() - started)
        console.print(f"  {done:,}/{total:,} passages ({rate:,.0f}/s)")

    embedded = embed_passages(passages, embedder, progress=progress)
    temporary = cached.with_name(cached.name + ".tmp")
    embedded.write_parquet(temporary)
    os.replace(temporary, cached)
    return embedded, False


def vectors_of(passages: pl.DataFrame) -> np.ndarray:
    """The passages' embeddings as one (n, d) float32 array."""
    dimension = int(passages["embedding"].list.len()[0])
    return passages["embedding"].cast(pl.Array(pl.Float32, dimension)).to_numpy()


def _perturbed_text(text: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    words = text.split()
    for position in rng.sample(range(len(words)), max(1, round(len(words) * TEXT_EDIT_SHARE))):
        words[position] = rng.choice(vocabulary)
    return " ".join(words)


def replicated_passages(
    passages: pl.DataFrame, times: int, seed: int = CORPUS_SEED
) -> pl.DataFrame:
    """`passages` plus `times - 1` perturbed copies (see the module docstring)."""
    vectors = vectors_of(passages)
    texts = passages["text"].to_list()
    vocabulary = [word for text in texts[:2_000] for word in text.split()]
    text_rng = random.Random(seed)
    vector_rng = np.random.default_rng(seed)
    frames = [passages]
    for copy in range(1, times):
        noise = vector_rng.standard_normal(vectors.shape, dtype=np.float32)
        noisy = vectors + noise * np.float32(VECTOR_NOISE / np.sqrt(vectors.shape[1]))
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        suffix = f"~copy{copy}"
        frames.append(
            passages.with_columns(
                pl.col("passage_id") + suffix,
                pl.col("doc_id") + suffix,
                pl.col("url") + f"?copy={copy}",
                pl.Series("text", [_perturbed_text(t, text_rng, vocabulary) for t in texts]),
                pl.Series("embedding", noisy).cast(pl.List(pl.Float32)),
            )
        )
    return pl.concat(frames)


def _index(passages: pl.DataFrame, directory: Path, console: Console, label: str) -> SearchIndex:
    info = build_index(passages, directory)
    how = f"built in {info.seconds:.1f} s" if info.rebuilt else "unchanged since the last run"
    console.print(f"index of {label}: {info.vector_index or 'exact scan'}, {how}")
    return SearchIndex(directory, embedder=default_embedder())


# -- timing helpers ------------------------------------------------------------------------


def _timed(calls: Sequence[Callable[[], object]]) -> np.ndarray:
    """Seconds of each call, after WARMUP_CALLS untimed ones."""
    for call in calls[:WARMUP_CALLS]:
        call()
    seconds = np.zeros(len(calls))
    for position, call in enumerate(calls):
        started = time.perf_counter()
        call()
        seconds[position] = time.perf_counter() - started
    return seconds


def _latency(name: str, seconds: np.ndarray, per_call: int = 1) -> Latency:
    return Latency(
        name=name,
        calls=len(seconds),
        queries_per_call=per_call,
        p50_ms=float(np.percentile(seconds, 50) * 1000),
        p95_ms=float(np.percentile(seconds, 95) * 1000),
        queries_per_s=len(seconds) * per_call / float(seconds.sum()),
    )


def _batches(items: Sequence, size: int) -> list:
    return [items[start : start + size] for start in range(0, len(items), size)]


# -- baselines -----------------------------------------------------------------------------


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k most similar vectors for each query (exact, by dot product)."""
    scores = np.atleast_2d(queries) @ vectors.T
    k = min(k, vectors.shape[0])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


class Bm25sBaseline:
    """bm25s over the same passage texts (English stop words; no stemmer installed)."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._bm25s = bm25s
        started = time.perf_counter()
        self.retriever = bm25s.BM25()
        self.retriever.index(
            bm25s.tokenize(list(texts), stopwords="en", show_progress=False),
            show_progress=False,
        )
        self.build_seconds = time.perf_counter() - started
        self.size = len(texts)

    def top(self, queries: Sequence[str], k: int, threads: int = 1) -> np.ndarray:
        """Passage indices of the top k for each query."""
        tokens = self._bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        indices, _ = self.retriever.retrieve(
            tokens, k=min(k, self.size), show_progress=False, n_threads=threads
        )
        return indices


def _pages(ranked_passages: np.ndarray, doc_ids: np.ndarray, k: int) -> list[list[str]]:
    """Each row of passage indices as its first k distinct documents."""
    pages = []
    for row in ranked_passages:
        seen: list[str] = []
        for doc in doc_ids[row]:
            if doc not in seen:
                seen.append(doc)
                if len(seen) == k:
                    break
        pages.append(seen)
    return pages


# -- the parts of the run ------------------------------------------------------------------


def _measure_index(
    report: SearchReport,
    label: str,
    index: SearchIndex,
    passages: pl.DataFrame,
    queries: list[str],
    query_vectors: np.ndarray,
    size: BenchSize,
    repeat: int,
    console: Console,
) -> None:
    """Latency, batching and the baselines on one index, query vectors given."""
    console.print(f"{label}: latency and batches of {size.batch}, 3 modes + baselines")
    started = time.perf_counter()
    index.search(queries[:1], "hybrid", K, vectors=query_vectors[:1])  # loads the hit columns
    report.notes.append(
        f"{label}: first search (opens the table, loads the hit columns) "
        f"{time.perf_counter() - started:.2f} s"
    )
    n = len(queries)
    dense_hits: list[list[str]] = []
    for mode in SEARCH_MODES:
        calls = [
            lambda q=q, v=v, mode=mode: index.search([q], mode, K, vectors=v[None])
            for q, v in zip(queries, query_vectors, strict=True)
        ]
        seconds = _timed(calls)
        single = _latency(f"{label}: {mode}", seconds)
        report.latencies.append(single)
        report.add(
            Measurement(f"{label}: {mode}, 1 query/call", n, float(seconds.sum()), "queries")
        )
        pairs = list(
            zip(_batches(queries, size.batch), _batches(query_vectors, size.batch), strict=True)
        )
        _, batched = best_of(
            repeat,
            lambda pairs=pairs, mode=mode: [
                index.search(list(qs), mode, K, vectors=vs) for qs, vs in pairs
            ],
        )
        name = f"{label}: {mode}, {size.batch} queries/call"
        report.add(Measurement(name, n, batched, "queries"))
        report.add(
            Measurement(f"{label}: {mode}, 1 query/call", n, float(seconds.sum()), "queries", name)
        )
        report.figures[f"{label}:{mode}:p50_ms"] = single.p50_ms
        report.figures[f"{label}:{mode}:batch_speedup"] = (n / batched) / single.queries_per_s
        if mode == "dense":
            dense_hits = [
                [hit.passage_id for hit in hits]
                for hits in index.search(queries, "dense", K, vectors=query_vectors)
            ]

    vectors = vectors_of(passages)
    passage_ids = passages["passage_id"].to_numpy()
    exact = exact_top(vectors, query_vectors, K)
    recall = np.mean(
        [
            len(set(found) & set(passage_ids[row])) / len(row)
            for found, row in zip(dense_hits, exact, strict=True)
        ]
    )
    report.figures[f"{label}:dense_recall"] = float(recall)
    report.notes.append(f"{label}: dense recall@{K} vs exact numpy search {recall:.3f}")

    seconds = _timed([lambda v=v: exact_top(vectors, v, K) for v in query_vectors])
    report.latencies.append(_latency(f"{label}: numpy exact (baseline)", seconds))
    report.add(
        Measurement(
            f"numpy exact, 1 query/call ({label})",
            n,
            float(seconds.sum()),
            "queries",
            f"{label}: dense, 1 query/call",
        )
    )
    chunks = _batches(query_vectors, size.batch)
    _, batched = best_of(repeat, lambda: [exact_top(vectors, chunk, K) for chunk in chunks])
    report.add(
        Measurement(
            f"numpy exact, {size.batch} queries/call ({label})",
            n,
            batched,
            "queries",
            f"{label}: dense, {size.batch} queries/call",
        )
    )

    bm25s = Bm25sBaseline(passages["text"].to_list())
    report.notes.append(f"{label}: bm25s index built in {bm25s.build_seconds:.1f} s")
    seconds = _timed([lambda q=q: bm25s.top([q], K) for q in queries])
    report.latencies.append(_latency(f"{label}: bm25s (baseline)", seconds))
    report.add(
        Measurement(
            f"bm25s, 1 query/call ({label})",
            n,
            float(seconds.sum()),
            "queries",
            f"{label}: bm25, 1 query/call",
        )
    )
    text_chunks = _batches(queries, size.batch)
    workers = default_workers()
    _, batched = best_of(
        repeat, lambda: [bm25s.top(chunk, K, threads=workers) for chunk in text_chunks]
    )
    report.add(
        Measurement(
            f"bm25s, {size.batch} queries/call, {workers} threads ({label})",
            n,
            batched,
            "queries",
            f"{label}: bm25, {size.batch} queries/call",
        )
    )


def _measure_from_text(
    report: SearchReport,
    label: str,
    index: SearchIndex,
    queries: list[str],
    size: BenchSize,
    repeat: int,
    console: Console,
) -> None:
    """End to end from the query texts (embedding included): one per call vs batched."""
    console.print(f"{label}: end to end from text (embedding included)")
    embedder = index.embedder
    seconds = _timed([lambda q=q: embedder.encode([q]) for q in queries])
    report.latencies.append(_latency("query embedding", seconds))
    chunks = _batches(queries, size.batch)
    _, batched = best_of(repeat, lambda: [embedder.encode(chunk) for chunk in chunks])
    name = f"query embedding, {size.batch} queries/call"
    report.add(Measurement(name, len(queries), batched, "queries"))
    report.add(
        Measurement(
            "query embedding, 1 query/call", len(queries), float(seconds.sum()), "queries", name
        )
    )
    for mode in ("dense", "hybrid"):
        seconds = _timed([lambda q=q, mode=mode: index.search([q], mode, K) for q in queries])
        single = _latency(f"{label}: {mode} from text", seconds)
        report.latencies.append(single)
        _, batched = best_of(
            repeat, lambda mode=mode: [index.search(list(chunk), mode, K) for chunk in chunks]
        )
        name = f"{label}: {mode} from text, {size.batch} queries/call"
        report.add(Measurement(name, len(queries), batched, "queries"))
        report.add(
            Measurement(
                f"{label}: {mode} from text, 1 query/call",
                len(queries),
                float(seconds.sum()),
                "queries",
                name,
            )
        )
        report.figures[f"{label}:{mode}:text_batch_speedup"] = (
            len(queries) / batched
        ) / single.queries_per_s


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _ServiceProcess:
    """`sailyard serve-tools` over an index, in a subprocess on a free loopback port."""

    def __init__(self, index_dir: Path, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "serve-tools.log"
        command = [
            sys.executable,
            "-m",
            "dagster_project.cli",
            "--home",
            str(workdir / "home"),
            "serve-tools",
            "--index-dir",
            str(index_dir),
            "--port",
            str(self.port),
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, client: ToolClient) -> None:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SailyardError(
                    f"sailyard serve-tools exited with {self.process.returncode}: "
                    + self.log.read_text(errors="replace")[-2000:]
                )
            try:
                client.health()
                return
            except SailyardError:
                time.sleep(0.25)
        raise SailyardError(
            f"sailyard serve-tools did not answer within {SERVICE_START_TIMEOUT_S} s"
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _paired(
    local: Callable[[str], str], remote: Callable[[str], str], queries: list[str]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Seconds of each query PAIRED_ROUNDS times each way, alternating which goes first:
    (local, remote) arrays of shape (queries, rounds), and how many first rounds gave the
    same text both ways."""
    sides = (local, remote)
    seconds = np.full((2, len(queries), PAIRED_ROUNDS), np.inf)
    same = 0
    for position, query in enumerate(queries):
        for round_ in range(PAIRED_ROUNDS):
            texts = {}
            for side in (0, 1) if (position + round_) % 2 else (1, 0):
                started = time.perf_counter()
                texts[side] = sides[side](query)
                seconds[side, position, round_] = time.perf_counter() - started
            same += round_ == 0 and texts[0] == texts[1]
    return seconds[0], seconds[1], same


def _added_ms(local: np.ndarray, remote: np.ndarray) -> float:
    """Per query the best of its rounds each way; the median of the differences, in ms."""
    return float(np.median(remote.min(axis=1) - local.min(axis=1)) * 1000)


def _measure_service(
    report: SearchReport,
    label: str,
    index: SearchIndex,
    queries: list[str],
    size: BenchSize,
    console: Console,
) -> None:
    """The HTTP service vs in-process search_tool (paired), and concurrent clients."""
    console.print(
        f"{label}: HTTP tool service (subprocess) vs in-process, then {size.clients} clients"
    )
    with tempfile.TemporaryDirectory(prefix="sailyard-bench-serve-") as temp:
        service = _ServiceProcess(index.directory, Path(temp))
        client = ToolClient(service.url)
        try:
            service.wait_ready(client)
            for query in queries[:WARMUP_CALLS]:
                client.search_tool([query])
                search_tool(index, [query])
            local, remote, same = _paired(
                lambda q: search_tool(index, [q]), lambda q: client.search_tool([q]), queries
            )
            report.latencies.append(_latency(f"{label}: search_tool in-process", local[:, 0]))
            report.latencies.append(_latency(f"{label}: search_tool over HTTP", remote[:, 0]))
            added = _added_ms(local, remote)
            report.figures["service_added_ms"] = added
            # bm25 embeds nothing: what the HTTP path alone adds (client, server, batcher)
            bm25_local, bm25_remote, _ = _paired(
                lambda q: search_tool(index, [q], mode="bm25"),
                lambda q: client.search_tool([q], mode="bm25"),
                queries,
            )
            bm25_added = _added_ms(bm25_local, bm25_remote)
            report.figures["service_added_bm25_ms"] = bm25_added
            report.notes.append(
                f"{label}: HTTP service adds {added:.2f} ms per single-query call (per query the "
                f"best of {PAIRED_ROUNDS} alternating calls each way; median of the differences); "
                f"{bm25_added:.2f} ms in bm25 mode (no embedding: the HTTP path alone); "
                f"same text as in-process for {same}/{len(queries)}"
            )
            before = client.health()["batching"]
            shares = [queries[start :: size.clients] for start in range(size.clients)]

            def work(share: list[str]) -> None:
                with ToolClient(service.url) as own:
                    for query in share:
                        own.search_tool([query])

            threads = [threading.Thread(target=work, args=(share,)) for share in shares]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            after = client.health()["batching"]
            name = f"{label}: service, {size.clients} concurrent clients, 1 query/call"
            report.add(Measurement(name, len(queries), elapsed, "queries"))
            report.add(
                Measurement(
                    f"{label}: service, 1 client, 1 query/call",
                    len(queries),
                    float(remote[:, 0].sum()),
                    "queries",
                    name,
                )
            )
            batches = after["batches"] - before["batches"]
            report.figures["service_batches"] = batches
            report.notes.append(
                f"{label}: {size.clients} concurrent clients' {len(queries)} requests were "
                f"answered in {batches} batches (largest so far {after['largest_batch']} queries)"
            )
        finally:
            client.close()
            service.stop()


def run_service_benchmark(
    console: Console, root: str | None = None, size: str | None = None
) -> SearchReport:
    """Only the tool-service part of `run_search_benchmark` (same index, queries and cache):
    `python -m evaluation.perf.search service [--size quick]`."""
    chosen = _bench_size(size)
    cache_dir = paths.lakehouse_root(root) / "bench" / "search" / chosen.name
    cache_dir.mkdir(parents=True, exist_ok=True)
    report = SearchReport(stage="search (tool service)")
    started = time.perf_counter()
    documents = corpus_documents(chosen.n_docs)
    passages, _ = embedded_passages(documents, default_embedder(), cache_dir, console)
    large = replicated_passages(passages, chosen.times)
    label = f"{large.height:,} passages"
    index = _index(large, cache_dir / f"index-x{chosen.times}", console, label)
    questions = questions_from_descriptions(documents, chosen.questions, seed=CORPUS_SEED)
    queries = [q.question for q in questions[: chosen.latency_queries]]
    _measure_service(report, label, index, queries, chosen, console)
    index.close()
    report.notes.append(
        f"size {chosen.name}: {label}, {len(queries)} queries; "
        f"whole run {time.perf_counter() - started:.0f} s"
    )
    return report


def _measure_embedding(
    report: SearchReport,
    passages: pl.DataFrame,
    embedder: Embedder,
    size: BenchSize,
    repeat: int,
    console: Console,
) -> None:
    """embed_passages vs SentenceTransformer.encode on the same passages, same dtype."""
    import torch
    from sentence_transformers import SentenceTransformer

    sample = passages.sample(min(size.embed_sample, passages.height), seed=CORPUS_SEED)
    sample = sample.select("passage_id", "text")
    texts = sample["text"].to_list()
    console.print(f"embedding {len(texts)} passages: embed_passages vs SentenceTransformer.encode")
    direct = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    if embedder.dtype == "bf16":
        direct = direct.to(torch.bfloat16)

    slices = [
        sample.slice(start, EMBED_SLICE_SIZE) for start in range(0, sample.height, EMBED_SLICE_SIZE)
    ]
    embed_passages(sample.head(8), embedder)  # warm-up both
    direct.encode(texts[:8], batch_size=embedder.batch_size, show_progress_bar=False)
    ours_best = np.full(len(slices), np.inf)
    theirs_best = np.full(len(slices), np.inf)
    # Alternating slice by slice, best of EMBED_ROUNDS per slice: machine noise (seconds
    # long here) hits both alike instead of whichever ran during it.
    for _ in range(max(repeat, EMBED_ROUNDS)):
        for position, piece in enumerate(slices):
            piece_texts = piece["text"].to_list()
            started = time.perf_counter()
            embed_passages(piece, embedder)
            ours_best[position] = min(ours_best[position], time.perf_counter() - started)
            started = time.perf_counter()
            direct.encode(piece_texts, batch_size=embedder.batch_size, show_progress_bar=False)
            theirs_best[position] = min(theirs_best[position], time.perf_counter() - started)
    ours, theirs = float(ours_best.sum()), float(theirs_best.sum())
    name = f"embed_passages ({embedder.model_id})"
    report.add(Measurement(name, len(texts), ours, "passages"))
    report.add(
        Measurement(
            f"SentenceTransformer.encode, {embedder.dtype}", len(texts), theirs, "passages", name
        )
    )
    report.figures["embed_ratio"] = theirs / ours


def _measure_quality(
    report: SearchReport,
    index: SearchIndex,
    passages: pl.DataFrame,
    documents: pl.DataFrame,
    questions: list[Question],
    size: BenchSize,
    console: Console,
) -> None:
    """recall@1/5/10 and MRR per mode, bm25s and exact dense search, on the corpus index."""
    gold_index = GoldIndex.of(documents)
    answerable = [(q, gold_index.gold_docs(q)) for q in questions]
    skipped = sum(1 for _, gold in answerable if not gold)
    answerable = [(q, gold) for q, gold in answerable if gold]
    if not answerable:
        raise SailyardError("no benchmark question has a gold page in the corpus")
    texts = [q.question for q, _ in answerable]
    golds = [gold for _, gold in answerable]
    console.print(f"retrieval quality on {len(texts)} questions")
    vectors = index.embedder.encode(texts)
    for mode in SEARCH_MODES:
        rankings = []
        for chunk, chunk_vectors in zip(
            _batches(texts, size.batch), _batches(vectors, size.batch), strict=True
        ):
            for hits in index.search(chunk, mode, K, vectors=chunk_vectors, unique_docs=True):
                rankings.append([hit.doc_id for hit in hits])
        report.quality[mode] = score_rankings(rankings, golds)
    doc_ids = passages["doc_id"].to_numpy()
    depth = K * PAGE_OVERFETCH
    bm25s = Bm25sBaseline(passages["text"].to_list())
    report.quality["bm25s (baseline)"] = score_rankings(
        _pages(bm25s.top(texts, depth, threads=default_workers()), doc_ids, K), golds
    )
    exact = exact_top(vectors_of(passages), vectors, depth)
    report.quality["numpy exact dense (baseline)"] = score_rankings(
        _pages(exact, doc_ids, K), golds
    )
    if skipped:
        report.notes.append(f"quality: {skipped} question(s) have no gold page in the corpus")


def _targets(report: SearchReport, large: str, corpus: str) -> list[Target]:
    figures = report.figures
    hybrid_p50 = figures[f"{large}:hybrid:p50_ms"]
    recall = figures[f"{large}:dense_recall"]
    added = figures["service_added_ms"]
    text_speedup = figures[f"{large}:hybrid:text_batch_speedup"]
    vector_speedup = figures[f"{large}:hybrid:batch_speedup"]
    embed_ratio = figures["embed_ratio"]
    quality = report.quality
    best_single = max(quality["bm25"].recall(10), quality["dense"].recall(10))
    hybrid_recall = quality["hybrid"].recall(10)
    return [
        Target(
            f"hybrid p50 ≤ 8 ms at {large} (query vectors given)",
            f"{hybrid_p50:.2f} ms",
            hybrid_p50 <= 8.0,
        ),
        Target(f"dense recall@10 ≥ 0.95 of exact at {large}", f"{recall:.3f}", recall >= 0.95),
        Target("HTTP service adds ≤ 2 ms per query", f"{added:.2f} ms", added <= 2.0),
        Target(
            f"batched hybrid ≥ 5× one-at-a-time at {large}, from text (the service's path)",
            f"{text_speedup:.1f}× (vectors given: {vector_speedup:.1f}×)",
            text_speedup >= 5.0,
        ),
        Target(
            "embed_passages ≥ 0.95× SentenceTransformer.encode",
            f"{embed_ratio:.2f}×",
            embed_ratio >= 0.95,
        ),
        Target(
            f"hybrid recall@10 > best single mode ({corpus})",
            f"{hybrid_recall:.3f} vs {best_single:.3f}",
            hybrid_recall > best_single,
        ),
    ]


def _bench_size(size: str | None) -> BenchSize:
    chosen = SIZES.get(size or "full")
    if chosen is None:
        raise SailyardError(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    return chosen


def run_search_benchmark(
    repeat: int,
    console: Console,
    root: str | None = None,
    benchmark_file: str | None = None,
    size: str | None = None,
) -> SearchReport:
    """Run every measurement above; `size` is "full" (default) or "quick"."""
    chosen = _bench_size(size)
    questions = load_questions(benchmark_file) if benchmark_file else None
    cache_dir = paths.lakehouse_root(root) / "bench" / "search" / chosen.name
    cache_dir.mkdir(parents=True, exist_ok=True)
    report = SearchReport(stage="search")
    started = time.perf_counter()

    console.print(f"corpus: English summaries ({chosen.n_docs or 'all'}), cache {cache_dir}")
    documents = corpus_documents(chosen.n_docs)
    embedder = default_embedder()
    passages, was_cached = embedded_passages(documents, embedder, cache_dir, console)
    corpus_label = f"{passages.height:,} passages"
    corpus_index = _index(passages, cache_dir / "index-corpus", console, corpus_label)
    large = replicated_passages(passages, chosen.times)
    large_label = f"{large.height:,} passages"
    large_index = _index(large, cache_dir / f"index-x{chosen.times}", console, large_label)

    if questions is None:
        questions = questions_from_descriptions(documents, chosen.questions, seed=CORPUS_SEED)
        source = f"{len(questions)} page descriptions → their page (seed {CORPUS_SEED})"
    else:
        source = f"{len(questions)} questions from {benchmark_file}"
    latency_queries = [q.question for q in questions[: chosen.latency_queries]]
    while len(latency_queries) < chosen.latency_queries:  # a short benchmark file: cycle it
        latency_queries += latency_queries[: chosen.latency_queries - len(latency_queries)]
    query_vectors = embedder.encode(latency_queries)

    for label, index, rows in (
        (corpus_label, corpus_index, passages),
        (large_label, large_index, large),
    ):
        _measure_index(
            report, label, index, rows, latency_queries, query_vectors, chosen, repeat, console
        )
    _measure_from_text(report, large_label, large_index, latency_queries, chosen, repeat, console)
    _measure_service(report, large_label, large_index, latency_queries, chosen, console)
    _measure_embedding(report, passages, embedder, chosen, repeat, console)
    _measure_quality(report, corpus_index, passages, documents, questions, chosen, console)
    report.targets = _targets(report, large_label, corpus_label)

    report.notes.append(
        f"size {chosen.name}: {documents.height:,} documents → {corpus_label}; ×{chosen.times} "
        f"→ {large_label} (copies: vector noise {VECTOR_NOISE}, {TEXT_EDIT_SHARE:.0%} of words "
        f"replaced); embeddings {'from the cache' if was_cached else 'computed'}; "
        f"{len(latency_queries)} latency queries; quality: {source}; "
        f"k={K}; {default_workers()} cores; whole run {time.perf_counter() - started:.0f} s"
    )
    corpus_index.close()
    large_index.close()
    return report


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="One part of `sailyard bench search`.")
    parser.add_argument("part", choices=["service"], help="service: the HTTP tool service")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--root", help="lakehouse root (default: $SAILYARD_HOME or ./.sailyard)")
    arguments = parser.parse_args()
    out = Console()
    result = run_service_benchmark(out, arguments.root, arguments.size)
    for renderable in result.renderables()[:2]:
        out.print(renderable)
