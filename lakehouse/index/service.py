"""The search and visit tools as one small HTTP service that many rollout workers share.

    POST /search  {"query": [str, ...], "k"?, "mode"?, "snippet_chars"?, "include_hits"?,
                   "block_urls"?, "block_doc_ids"?}
        → {"results": [{"query", "hits": [{"passage_id", "doc_id", "url", "title",
           "snippet", "score"}]}], "text": the `search` tool's text, "index_version",
           "block_list": the fingerprint of the block list applied}
    POST /visit   {"url": str | [str], "goal": str, "page"?, "page_chars"?, "block_urls"?,
                   "block_doc_ids"?} → {"text": the `visit` tool's text, ...}
    GET  /health  → index directory, table, version, row count, embedding model, the
                   service's block list and batching counters

Answers are those of the in-process tools (`lakehouse.index.tools`): the same queries give
the same results and text. Concurrent searches are micro-batched (`batching.SearchBatcher`:
requests arriving within a short window become one embedding call and one `SearchIndex.
search`). A block list given at start is added to every call's own. A request of the wrong
shape gets 422 with {"error", "fields": [{"field", "message"}]} naming each bad field; a
visit without documents loaded gets 503. Only what the tools need is exposed; there is no
authentication, so the service binds to loopback unless told otherwise. The two tool
endpoints are answered by an ASGI middleware ahead of FastAPI's routing (they are the hot
path); FastAPI serves /health.
"""

import asyncio
import ipaddress
import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from lakehouse.errors import SailyardError
from lakehouse.index.batching import (
    DEFAULT_MAX_QUERIES,
    DEFAULT_WINDOW_S,
    Arrival,
    SearchBatcher,
)
from lakehouse.index.search_index import SearchIndex
from lakehouse.index.tools import (
    MIN_PAGE_CHARS,
    NO_BLOCKS,
    PAGE_CHARS,
    SNIPPET_CHARS,
    BlockList,
    PageLookup,
    format_search_output,
    search_queries,
    snippet,
    visit_tool,
)

DEFAULT_PORT = 8765
# Bounds on one request, so no single caller can stall the batch everyone shares.
MAX_K = 100
MAX_QUERIES_PER_REQUEST = 256
MAX_URLS_PER_VISIT = 32
MAX_BLOCKED_PER_REQUEST = 100_000  # an evaluation run may block every page of a test split
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
# torch intra-op threads in a process that serves the tools. The batcher embeds on its own
# thread while the model was loaded (and calibrated) on the main thread: with 2 intra-op
# threads libgomp keeps two worker pools, more workers than the 2 cores, so it stops
# spin-waiting and each parallel op pays a futex wake-up. One query's embedding, 2 cores:
# 11-12 ms that way, 7.0 ms on 1 thread; 5.3 ms on the loading thread, but there the
# spinning workers took 50-1,200 ms per query under CPU contention (1 thread: 7-14 ms).
# Batches of 64 embedded as fast on 1 thread as on 2 (evaluation/perf/search.py).
SERVED_TORCH_THREADS = 1


Answer = tuple[int, dict[str, Any]]  # a tool endpoint's HTTP status and JSON body


@dataclass(frozen=True)
class ServiceSettings:
    """How the service batches and what it always blocks; recorded in /health."""

    batch_window_ms: float = DEFAULT_WINDOW_S * 1000
    max_batch_queries: int = DEFAULT_MAX_QUERIES
    block: BlockList = NO_BLOCKS

    def __post_init__(self) -> None:
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")
        if self.max_batch_queries < 1:
            raise ValueError(f"max_batch_queries must be >= 1, got {self.max_batch_queries}")


def _as_list(value: Any) -> Any:
    """A single string is a list of one (the tools accept both)."""
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_as_list)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block_urls: list[str] = Field(default_factory=list, max_length=MAX_BLOCKED_PER_REQUEST)
    block_doc_ids: list[str] = Field(default_factory=list, max_length=MAX_BLOCKED_PER_REQUEST)

    def block(self, base: BlockList) -> BlockList:
        return base.union(BlockList(self.block_urls, self.block_doc_ids))


class SearchRequest(_Request):
    """The body of POST /search."""

    query: Annotated[StrList, Field(max_length=MAX_QUERIES_PER_REQUEST)]
    k: int = Field(10, ge=1, le=MAX_K)
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    snippet_chars: int = Field(SNIPPET_CHARS, ge=20, le=10_000)
    include_hits: bool = True  # False: only the tool's text (what an agent reads)


class VisitRequest(_Request):
    """The body of POST /visit."""

    url: Annotated[StrList, Field(max_length=MAX_URLS_PER_VISIT)]
    goal: str
    page: int = Field(0, ge=0)
    page_chars: int = Field(PAGE_CHARS, ge=MIN_PAGE_CHARS, le=1_000_000)


def _field_name(location: Sequence[Any]) -> str:
    """("query", 2) → "query[2]"; the body itself (invalid JSON, not an object) → "body"."""
    if not location:
        return "body"
    name = str(location[0])
    for part in location[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def _invalid(error: ValidationError) -> Answer:
    """A 422 naming each bad field."""
    fields = [
        {"field": _field_name(item.get("loc", ())), "message": item.get("msg", "invalid")}
        for item in error.errors()
    ]
    summary = "; ".join(f"{item['field']}: {item['message']}" for item in fields)
    return 422, {"error": f"invalid request: {summary}", "fields": fields}


def _encode(content: dict[str, Any]) -> bytes:
    """JSON serialized directly: FastAPI's generic encoder (jsonable_encoder walking every
    hit) cost more per search than the rest of the HTTP layer."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def _read_body(receive: Any) -> bytes | None:
    """The whole request body; None if the client went away first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(
    send: Any, status: int, content: dict[str, Any], *extra: tuple[bytes, bytes]
) -> None:
    body = _encode(content)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (localhost or a loopback address)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _ToolEndpoints:
    """ASGI middleware that answers POST /search and POST /visit itself; the rest (/health,
    404s) goes on to FastAPI. The tools are the hot path: FastAPI's request machinery
    (exception middleware, router, dependencies, `Request`) measured ~0.1 ms per call
    (evaluation/perf/search.py). A /search request is announced to the batcher as soon as its
    headers are in (before its body is read and parsed), so the batch being formed waits
    for it."""

    def __init__(self, app: Any, service: "_Service") -> None:
        self.app = app
        self.service = service
        self.endpoints = {
            "/search": (SearchRequest, service.search),
            "/visit": (VisitRequest, service.visit),
        }

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path")
        batcher = self.service.batcher
        if scope["type"] != "http" or path not in self.endpoints or batcher is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send_json(send, 405, {"error": f"{path} answers POST only"}, (b"allow", b"POST"))
            return
        model, answer = self.endpoints[path]
        arrival = batcher.expect() if path == "/search" else None
        try:
            raw = await _read_body(receive)
            if raw is None:
                return
            try:
                body = model.model_validate_json(raw)
            except ValidationError as error:
                status, content = _invalid(error)
            else:
                status, content = await answer(body, arrival)
        finally:
            batcher.cancel(arrival)  # a no-op once the request was submitted
        await _send_json(send, status, content)


class _Service:
    """What the endpoints share: the index, the pages, the settings and the batcher."""

    def __init__(
        self, index: SearchIndex, pages: PageLookup | None, settings: ServiceSettings
    ) -> None:
        self.index = index
        self.pages = pages
        self.settings = settings
        self.batcher: SearchBatcher | None = None
        self.documents: int | None = None

    def start(self) -> None:
        self.batcher = SearchBatcher(
            self.index, self.settings.batch_window_ms / 1000, self.settings.max_batch_queries
        )

    async def search(self, body: SearchRequest, arrival: Arrival | None) -> Answer:
        """The `search` tool: top-k pages per query, as hits and as the tool's text."""
        queries = search_queries(body.query)
        block = body.block(self.settings.block)
        future = self.batcher.submit(queries, body.k, body.mode, block, arrival)
        results = await asyncio.wrap_future(future)
        return 200, {
            "results": [
                {
                    "query": query,
                    "hits": [
                        {
                            "passage_id": hit.passage_id,
                            "doc_id": hit.doc_id,
                            "url": hit.url,
                            "title": hit.title,
                            "snippet": snippet(hit.text, body.snippet_chars),
                            "score": hit.score,
                        }
                        for hit in hits
                    ]
                    if body.include_hits
                    else [],
                }
                for query, hits in zip(queries, results, strict=True)
            ],
            "text": format_search_output(queries, results, body.snippet_chars),
            "index_version": self.index.version,
            "block_list": block.fingerprint(),
        }

    async def visit(self, body: VisitRequest, _: Arrival | None) -> Answer:
        """The `visit` tool: each page's text, passages most relevant to the goal first."""
        pages = self.pages
        if pages is None:
            return 503, {"error": "this service has no documents loaded: visit is off"}
        block = body.block(self.settings.block)
        future = self.batcher.call(
            lambda: visit_tool(
                self.index, pages, body.url, body.goal, body.page, body.page_chars, block
            )
        )
        text = await asyncio.wrap_future(future)
        return 200, {
            "text": text,
            "index_version": self.index.version,
            "block_list": block.fingerprint(),
        }

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def health(self) -> dict[str, Any]:
        stats = asdict(self.batcher.stats()) if self.batcher else {}
        stats.pop("batch_sizes", None)
        block = self.settings.block
        return {
            "status": "ok",
            "index_dir": str(self.index.directory),
            "table": self.index.table_name,
            "table_version": self.index.version,
            "row_count": self.index.count(),
            "embedding_model": self.index.embedding_model,
            "vector_index": self.index.vector_index,
            "visit": self.pages is not None,
            "block_list": {
                "urls": len(block.urls),
                "doc_ids": len(block.doc_ids),
                "fingerprint": block.fingerprint(),
            },
            "batching": {
                "window_ms": self.settings.batch_window_ms,
                "max_batch_queries": self.settings.max_batch_queries,
                **stats,
            },
        }


def create_app(
    index: SearchIndex,
    pages: PageLookup | None = None,
    settings: ServiceSettings | None = None,
) -> FastAPI:
    """The service's ASGI app over `index` (and `pages` for visit; None: search only).

    The batcher's thread starts with the app (lifespan) and stops with it.
    """
    service = _Service(index, pages, settings or ServiceSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="Sailyard search and visit tools",
        summary="The reference agent's search and visit tools over a Sailyard index.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the tool endpoints are not FastAPI routes (see _ToolEndpoints)
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = service
    app.add_middleware(_ToolEndpoints, service=service)

    @app.get("/health", response_class=Response)
    async def health() -> Response:
        """What the service serves: index, version, rows, model, block list, batching."""
        content = await run_in_threadpool(service.health)
        return Response(_encode(content), media_type="application/json")

    return app


def check_host(host: str, allow_non_loopback: bool) -> None:
    """Refuse a non-loopback address unless explicitly allowed (the service has no auth)."""
    if not allow_non_loopback and not is_loopback(host):
        raise SailyardError(
            f"refusing to serve the tools on {host!r}: not a loopback address, and the "
            "service has no authentication (pass --host explicitly to bind it anyway)"
        )


def _set_torch_threads(index: SearchIndex, threads: int) -> None:
    """Load the embedding model (its loading sets torch's threads), then set them."""
    index.embedder  # noqa: B018 - the model sets the thread count when it loads
    import torch

    torch.set_num_threads(threads)


def serve(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    allow_non_loopback: bool = False,
    log_level: str = "warning",
) -> None:
    """Serve `app` with uvicorn until interrupted (Ctrl-C or SIGTERM).

    The process is the service's: its torch runs SERVED_TORCH_THREADS intra-op threads.
    """
    check_host(host, allow_non_loopback)
    _set_torch_threads(app.state.service.index, SERVED_TORCH_THREADS)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


class BackgroundServer:
    """`app` served by uvicorn on a thread of this process (tests, benchmarks); port 0 picks
    a free port. Use as a context manager, or `start()` and `stop()`."""

    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        check_host(host, allow_non_loopback=False)
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="tool-service", daemon=True)
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        """Start serving; returns once the port accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the tool service failed to start on {self.host}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the tool service did not start within {timeout} s")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread (in-flight requests finish)."""
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
