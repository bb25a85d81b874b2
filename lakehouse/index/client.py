"""An HTTP client of the tool service (lakehouse.index.service), and the switch between it and
the in-process tools.

`ToolClient` has the methods of `tools.LocalTools` (`search_tool`, `visit_tool`: same
arguments, same text), so agent code takes a `tools.Tools` and configuration decides where
the index lives: `open_tools(endpoint=...)` for a shared service, `open_tools(index=...,
documents=...)` for one in this process. The client keeps one connection pool (keep-alive),
so a call costs one round trip on loopback.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
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
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"ToolClient({self.base_url!r})"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(path, lambda: self._http.post(path, json=body))

    def _answer(self, path: str, send: Callable[[], httpx.Response]) -> dict[str, Any]:
        try:
            response = send()
        except httpx.HTTPError as error:
            raise ToolServiceError(
                f"cannot reach the tool service at {self.base_url}{path}: {error}"
            ) from error
        if response.status_code >= 400:
            try:
                message = response.json().get("error") or response.text
            except ValueError:
                message = response.text
            raise ToolServiceError(
                f"tool service {path} answered {response.status_code}: {message}"
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        """The service's /health: index, version, rows, model, block list, batching."""
        return self._answer("/health", lambda: self._http.get("/health"))

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
        """Close the connection pool."""
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
