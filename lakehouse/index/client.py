"""An HTTP client of the tool service (lakehouse.index.service), and the switch between it and
the in-process tools.

`ToolClient` has the methods of `tools.LocalTools` (`search_tool`, `visit_tool`: same
arguments, same text), so agent code takes a `tools.Tools` and configuration decides where
the index lives: `open_tools(endpoint=...)` for a shared service, `open_tools(index=...,
documents=...)` for one in this process. The client keeps one keep-alive HTTP/1.1 connection
per calling thread (`http.client`), so a call costs one round trip on loopback; httpx's
request machinery measured 0.35-0.4 ms more per call here (evaluation/perf/search.py).
"""

import http.client
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from lakehouse.errors import SailyardError
from lakehouse.index.search_index import SearchIndex, SearchMode
from lakehouse.index.tools import (
    NO_BLOCKS,
    NO_QUERY_MESSAGE,
    PAGE_CHARS,
    SNIPPET_CHARS,
    BlockList,
    LocalTools,
    PageLookup,
    Tools,
    search_queries,
)

DEFAULT_TIMEOUT_S = 120.0  # a visit of many long pages under load can take seconds


class ToolServiceError(SailyardError):
    """The tool service refused a request (its message names the bad field) or is down."""


@dataclass(frozen=True, slots=True)
class ServiceHit:
    """One search result as the service returns it (a snippet, not the whole passage)."""

    passage_id: str
    doc_id: str
    url: str
    title: str
    snippet: str
    score: float


@dataclass(frozen=True)
class SearchResponse:
    """Hits per query (the non-blank ones, in order) and the `search` tool's text."""

    queries: list[str]
    hits: list[list[ServiceHit]]
    text: str
    index_version: int
    block_list: str  # fingerprint of the block list the service applied


def _block_fields(block: BlockList) -> dict[str, list[str]]:
    return {"block_urls": sorted(block.urls), "block_doc_ids": sorted(block.doc_ids)}


_JSON_HEADERS = {"Content-Type": "application/json"}
# A kept-alive connection the server has closed since (uvicorn drops idle ones after 5 s)
# fails on its next request with one of these; the request is then sent once more on a new
# connection (safe: the tools only read).
_STALE_CONNECTION = (ConnectionError, http.client.BadStatusLine)


def _exchange(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None
) -> tuple[int, bytes]:
    """One request and its whole response; a connection that failed is closed, never reused
    (its next request opens a new one)."""
    try:
        connection.request(method, path, body, _JSON_HEADERS)
        response = connection.getresponse()
        return response.status, response.read()
    except BaseException:
        connection.close()
        raise


class _Connections:
    """One keep-alive HTTP/1.1 connection to the service per calling thread."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ToolServiceError(
                f"the tool service URL must be http(s)://host[:port], got {base_url!r}"
            )
        self._class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self._address = (parts.hostname, parts.port)
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        # every thread's connection, for close(); weak, so one of a finished thread goes
        # with that thread's local storage
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._class(*self._address, timeout=self.timeout)
            self._local.connection = connection
            with self._lock:
                self._all.add(connection)
        return connection

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body) of one request; raises OSError or http.client.HTTPException."""
        connection = self._connection()
        reused = connection.sock is not None
        try:
            return _exchange(connection, method, self._prefix + path, body)
        except _STALE_CONNECTION:
            if not reused:
                raise
        return _exchange(connection, method, self._prefix + path, body)  # a new connection

    def close(self) -> None:
        with self._lock:
            connections, self._all = list(self._all), weakref.WeakSet()
            self._local = threading.local()
        for connection in connections:
            connection.close()


class ToolClient:
    """The `search` and `visit` tools answered by a tool service at `base_url`."""

    def __init__(
        self,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        block: BlockList = NO_BLOCKS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.block = block
        self._http = _Connections(self.base_url, timeout)

    def __repr__(self) -> str:
        return f"ToolClient({self.base_url!r})"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._answer("POST", path, payload)

    def _answer(self, method: str, path: str, payload: bytes | None = None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            status, raw = self._http.request(method, path, payload)
        except TimeoutError as error:
            raise ToolServiceError(
                f"the tool service at {url} did not answer within {self._http.timeout:g} s"
            ) from error
        except (OSError, http.client.HTTPException) as error:
            raise ToolServiceError(
                f"cannot reach the tool service at {url}: {error or type(error).__name__}"
            ) from error
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if 200 <= status < 300 and isinstance(answer, dict):
            return answer
        text = raw.decode("utf-8", errors="replace")
        if 200 <= status < 300:
            raise ToolServiceError(
                f"tool service {path} answered {status} without a JSON object: {text[:200]}"
            )
        message = answer.get("error") if isinstance(answer, dict) else None
        raise ToolServiceError(f"tool service {path} answered {status}: {message or text}")

    def health(self) -> dict[str, Any]:
        """The service's /health: index, version, rows, model, block list, batching."""
        return self._answer("GET", "/health")

    def search(
        self,
        queries: str | Sequence[str],
        k: int = 10,
        block: BlockList = NO_BLOCKS,
        mode: SearchMode = "hybrid",
        snippet_chars: int = SNIPPET_CHARS,
    ) -> SearchResponse:
        """The top-k pages per query as hits, with the tool's text."""
        answer = self._search(queries, k, block, mode, snippet_chars, include_hits=True)
        return SearchResponse(
            queries=[result["query"] for result in answer["results"]],
            hits=[[ServiceHit(**hit) for hit in result["hits"]] for result in answer["results"]],
            text=answer["text"],
            index_version=answer["index_version"],
            block_list=answer["block_list"],
        )

    def _search(
        self,
        queries: str | Sequence[str],
        k: int,
        block: BlockList,
        mode: SearchMode,
        snippet_chars: int,
        include_hits: bool,
    ) -> dict[str, Any]:
        body = {
            "query": search_queries(queries),
            "k": k,
            "mode": mode,
            "snippet_chars": snippet_chars,
            "include_hits": include_hits,
            **_block_fields(self.block.union(block)),
        }
        return self._post("/search", body)

    def search_tool(
        self,
        queries: str | Sequence[str],
        k: int = 10,
        block: BlockList = NO_BLOCKS,
        mode: SearchMode = "hybrid",
        snippet_chars: int = SNIPPET_CHARS,
    ) -> str:
        """`tools.search_tool` over HTTP: the same text for the same arguments."""
        if not search_queries(queries):
            return NO_QUERY_MESSAGE
        return self._search(queries, k, block, mode, snippet_chars, include_hits=False)["text"]

    def visit_tool(
        self,
        url: str | Sequence[str],
        goal: str,
        page: int = 0,
        page_chars: int = PAGE_CHARS,
        block: BlockList = NO_BLOCKS,
    ) -> str:
        """`tools.visit_tool` over HTTP: the same text for the same arguments."""
        body = {
            "url": url if isinstance(url, str) else list(url),
            "goal": goal,
            "page": page,
            "page_chars": page_chars,
            **_block_fields(self.block.union(block)),
        }
        return self._post("/visit", body)["text"]

    def close(self) -> None:
        """Close every thread's connection (a later call opens a new one)."""
        self._http.close()

    def __enter__(self) -> "ToolClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_tools(
    endpoint: str | None = None,
    *,
    index: SearchIndex | None = None,
    documents: pl.DataFrame | PageLookup | None = None,
    block: BlockList = NO_BLOCKS,
) -> Tools:
    """The tools an agent calls: a `ToolClient` of `endpoint` when one is configured,
    else `LocalTools` over `index` and `documents` in this process."""
    if endpoint:
        return ToolClient(endpoint, block=block)
    if index is None or documents is None:
        raise SailyardError("open_tools needs an endpoint, or an index and its documents")
    return LocalTools(index, documents, block)
