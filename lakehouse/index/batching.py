"""Micro-batching of search requests: many callers, one `SearchIndex.search` per batch.

Rollout workers send many small requests (a few queries each) at the same time. Searching
them one by one embeds each query alone and runs one LanceDB query per request; merged, a
batch is one embedding call and one multi-vector query (`SearchIndex.search` on the batch).

One worker thread owns the index. It takes the first waiting request, then keeps adding
requests until one of: the batch holds `max_queries` queries, `window_s` has passed since it
took the first request, or no other request is known to be arriving. Callers announce an
arrival with `expect()` as early as they can (the HTTP service does it when a request's
headers are read, before its body is parsed), so a lone request never waits for the window
and a burst of concurrent ones is merged. Requests that queued while a batch ran form the
next batch at once.

Within a batch, the texts of every dense or hybrid request are embedded in one call; then
each group of requests with the same mode, k and block list is one `search` call (searches
cannot mix block lists or k). Other work that must use the index (visits) is queued with
`call` and runs on the same thread, after the batch's searches.
"""

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from lakehouse.index.search_index import Hit, SearchIndex, SearchMode
from lakehouse.index.tools import NO_BLOCKS, BlockList

Result = TypeVar("Result")
# Measured by `sailyard bench search` (evaluation/perf/search.py): 64 queries in one call
# run several times the queries/s of one-at-a-time calls; larger batches add latency for
# the first requests of the batch with little more throughput.
DEFAULT_MAX_QUERIES = 64
DEFAULT_WINDOW_S = 0.002


@dataclass(frozen=True)
class _SearchJob:
    queries: tuple[str, ...]
    k: int
    mode: SearchMode
    block: BlockList
    future: Future

    @property
    def size(self) -> int:
        return len(self.queries)


@dataclass(frozen=True)
class _CallJob:
    work: Callable[[], Any]
    future: Future
    size: int = 0


class Arrival:
    """A request announced with `SearchBatcher.expect()`, not yet submitted."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = True


@dataclass
class BatchStats:
    """Counters since the batcher started (read them with `SearchBatcher.stats()`)."""

    requests: int = 0  # search requests answered
    queries: int = 0
    batches: int = 0  # batches that held at least one search request
    search_calls: int = 0  # SearchIndex.search calls (one per mode/k/block group of a batch)
    embed_calls: int = 0
    calls: int = 0  # other work run on the index thread (visits)
    largest_batch: int = 0  # most queries in one batch
    batch_sizes: list[int] = field(default_factory=list)  # queries per batch, last 1,000


_STOP = object()
_WAKE = object()  # an announced request went away without submitting: re-check arrivals
_KEPT_BATCH_SIZES = 1_000


class SearchBatcher:
    """Merges concurrent search requests into batched `SearchIndex.search` calls."""

    def __init__(
        self,
        index: SearchIndex,
        window_s: float = DEFAULT_WINDOW_S,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        if max_queries < 1:
            raise ValueError(f"max_queries must be at least 1, got {max_queries}")
        self.index = index
        self.window_s = window_s
        self.max_queries = max_queries
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._arriving = 0
        self._stats = BatchStats()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="search-batcher", daemon=True)
        self._thread.start()

    # -- callers ---------------------------------------------------------------------------
    def expect(self) -> Arrival:
        """Announce a request that will be submitted soon (the batch being formed waits for
        it, up to the window); pass the result to `submit`/`call`, or to `cancel`."""
        with self._lock:
            self._arriving += 1
        return Arrival()

    def cancel(self, arrival: Arrival | None) -> None:
        """An announced request that will not be submitted (e.g. it was invalid)."""
        if self._settle(arrival):
            self._queue.put(_WAKE)

    def submit(
        self,
        queries: Sequence[str],
        k: int = 10,
        mode: SearchMode = "hybrid",
        block: BlockList = NO_BLOCKS,
        arrival: Arrival | None = None,
    ) -> "Future[list[list[Hit]]]":
        """Queue a search; the future gets one hit list per query (pages: one passage each,
        as the `search` tool lists them), or the exception the search raised."""
        future: Future = Future()
        if not queries:
            future.set_result([])
            self.cancel(arrival)
            return future
        self._put(_SearchJob(tuple(queries), k, mode, block, future), arrival)
        return future

    def call(self, work: Callable[[], Result], arrival: Arrival | None = None) -> "Future[Result]":
        """Run `work()` on the index thread (after the current batch's searches)."""
        future: Future = Future()
        self._put(_CallJob(work, future), arrival)
        return future

    def stats(self) -> BatchStats:
        """A copy of the counters."""
        with self._lock:
            return BatchStats(**{**vars(self._stats), "batch_sizes": list(self._stats.batch_sizes)})

    def close(self, timeout: float | None = 10.0) -> None:
        """Finish queued work, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def __enter__(self) -> "SearchBatcher":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _put(self, job: _SearchJob | _CallJob, arrival: Arrival | None) -> None:
        if self._closed:
            raise RuntimeError("the search batcher is closed")
        # Queued and settled in one step under the lock the index thread reads the count
        # with: it sees the request either still arriving or already queued, never neither
        # (a missed job) nor both (a wait for the window on a request it already holds).
        with self._lock:
            self._queue.put(job)
            if arrival is not None and arrival.pending:
                arrival.pending = False
                self._arriving -= 1

    def _settle(self, arrival: Arrival | None) -> bool:
        if arrival is None or not arrival.pending:
            return False
        with self._lock:
            arrival.pending = False
            self._arriving -= 1
        return True

    # -- the index thread ------------------------------------------------------------------
    def _run(self) -> None:
        carry = None
        stopping = False
        while not stopping:
            first, carry = (carry if carry is not None else self._queue.get()), None
            if first is _STOP:
                break
            if first is _WAKE:
                continue
            batch = [first]
            size = first.size
            deadline = time.monotonic() + self.window_s
            while size < self.max_queries:
                job = self._next(deadline)
                if job is None:
                    break
                if job is _WAKE:
                    continue
                if job is _STOP:
                    stopping = True
                    break
                if size + job.size > self.max_queries:
                    carry = job
                    break
                batch.append(job)
                size += job.size
            self._execute(batch)

    def _next(self, deadline: float) -> object | None:
        """The next queued job: at once if one is waiting; else wait while a request is
        announced and the window lasts; None when the batch should close."""
        with self._lock:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                if self._arriving == 0:
                    return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return self._queue.get(timeout=remaining)
        except queue.Empty:
            return None

    def _execute(self, batch: list) -> None:
        searches = [job for job in batch if isinstance(job, _SearchJob)]
        if searches:
            self._search(searches)
        for job in batch:
            if isinstance(job, _CallJob):
                _resolve(job.future, job.work)
                with self._lock:
                    self._stats.calls += 1

    def _search(self, jobs: list[_SearchJob]) -> None:
        texts = sorted({q for job in jobs if job.mode != "bm25" for q in job.queries})
        vectors: dict[str, np.ndarray] = {}
        embed_calls = 0
        if texts:
            encoded, error = _attempt(lambda: self.index.embedder.encode(texts))
            if error is not None:  # every waiting caller gets the error, not a hang
                for job in jobs:
                    job.future.set_exception(error)
                return
            vectors = dict(zip(texts, encoded, strict=True))
            embed_calls = 1
        groups: dict[tuple, list[_SearchJob]] = {}
        for job in jobs:
            groups.setdefault((job.mode, job.k, job.block), []).append(job)
        for (mode, k, block), members in groups.items():
            queries = [q for job in members for q in job.queries]
            query_vectors = np.stack([vectors[q] for q in queries]) if mode != "bm25" else None
            results, error = _attempt(
                lambda q=queries, m=mode, n=k, b=block, v=query_vectors: self.index.search(
                    q,
                    mode=m,
                    k=n,
                    block_urls=sorted(b.urls),
                    block_doc_ids=sorted(b.doc_ids),
                    vectors=v,
                    unique_docs=True,
                )
            )
            if error is not None:  # e.g. a bad mode: reported to this group's callers only
                for job in members:
                    job.future.set_exception(error)
                continue
            start = 0
            for job in members:
                job.future.set_result(results[start : start + job.size])
                start += job.size
        size = sum(job.size for job in jobs)
        with self._lock:
            stats = self._stats
            stats.requests += len(jobs)
            stats.queries += size
            stats.batches += 1
            stats.search_calls += len(groups)
            stats.embed_calls += embed_calls
            stats.largest_batch = max(stats.largest_batch, size)
            stats.batch_sizes = [*stats.batch_sizes[-(_KEPT_BATCH_SIZES - 1) :], size]


def _attempt(work: Callable[[], Result]) -> tuple[Result | None, Exception | None]:
    """(work(), None), or (None, the exception it raised): the index thread never dies of
    one request's error; the callers waiting on it get the exception instead."""
    try:
        return work(), None
    except Exception as error:  # noqa: BLE001 - handed to the waiting callers, who report it
        return None, error


def _resolve(future: Future, work: Callable[[], Any]) -> None:
    result, error = _attempt(work)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
