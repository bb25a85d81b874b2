"""The reference agent's `search` and `visit` tools, answered from the local index.

The output strings follow the public DeepResearch agent's tools (Alibaba-NLP/DeepResearch,
inference/tool_search.py and tool_visit.py) so trajectories look like the reference ones:
per query "A search for '…' found N results:" and "## Web Results" with numbered
"[title](url)" entries and snippets; per page "The useful information in URL for user goal
GOAL as follows:" and "Evidence in page:"; several queries or URLs joined by "=======".
Instead of the reference's LLM page summary, `visit` returns the page's own text with the
passages most similar to the goal first, in pages of `page_chars` characters.

Both tools honour a `BlockList` (evaluation runs block given pages): blocked pages never
appear in search results, and visiting one says it is blocked. `LocalTools` binds both to
one index; `lakehouse.index.client.ToolClient` has the same methods over HTTP (`Tools`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from lakehouse.ids import sha256_hex
from lakehouse.index.chunking import chunk_document
from lakehouse.index.search_index import Hit, SearchIndex, SearchMode
from lakehouse.web.urls import normalize_url

RESULT_SEPARATOR = "\n=======\n"  # between queries or URLs, as the reference tools join them
SNIPPET_CHARS = 300  # ~ a search engine snippet (two lines); passages are ~450 chars
PAGE_CHARS = 6000  # ~1,500 tokens of page text per visit call
MIN_PAGE_CHARS = 200
NO_QUERY_MESSAGE = "[search] No query given: pass 'query' as a list of non-empty strings."


@dataclass(frozen=True)
class BlockList:
    """Pages an evaluation run hides from the agent, by URL and by document id."""

    urls: frozenset[str] = frozenset()
    doc_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "urls", frozenset(self.urls))
        object.__setattr__(self, "doc_ids", frozenset(self.doc_ids))

    def blocks(self, url: str | None, doc_id: str | None = None) -> bool:
        return (url is not None and url in self.urls) or (
            doc_id is not None and doc_id in self.doc_ids
        )

    def union(self, other: "BlockList") -> "BlockList":
        """Everything either list blocks (a service's own list plus one call's)."""
        return BlockList(self.urls | other.urls, self.doc_ids | other.doc_ids)

    def fingerprint(self) -> str:
        """A hash to record beside a benchmark score (empty block list: 'none')."""
        if not self.urls and not self.doc_ids:
            return "none"
        return sha256_hex("\x1f".join(["urls", *sorted(self.urls), "docs", *sorted(self.doc_ids)]))


NO_BLOCKS = BlockList()


@dataclass(frozen=True, slots=True)
class Page:
    """A document as `visit` reads it."""

    doc_id: str
    url: str
    title: str
    text: str
    description: str = ""  # the page's short description, shown under its title


PageLookup = Callable[[str], Page | None]


def page_lookup(documents: pl.DataFrame) -> PageLookup:
    """A url → Page function over a documents frame (doc_id, url, title, text and, where the
    frame has one, description); build it once and pass it to every visit call."""
    if "description" not in documents.columns:
        documents = documents.with_columns(pl.lit(None, dtype=pl.String).alias("description"))
    columns = documents.select("doc_id", "url", "title", "text", "description")
    pages = {
        url: Page(doc_id, url, title or "", text or "", description or "")
        for doc_id, url, title, text, description in columns.rows()
    }
    return pages.get


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The passage as a search engine snippet: whitespace collapsed, cut at a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + " …"


def format_search_results(
    query: str, hits: Sequence[Hit], snippet_chars: int = SNIPPET_CHARS
) -> str:
    """One query's results in the reference agent's search format."""
    if not hits:
        return f"No results found for '{query}'. Try with a more general query."
    entries = [
        f"{rank}. [{hit.title}]({hit.url})\n\n{snippet(hit.text, snippet_chars)}"
        for rank, hit in enumerate(hits, start=1)
    ]
    return (
        f"A search for '{query}' found {len(entries)} results:\n\n## Web Results\n"
        + "\n\n".join(entries)
    )


def search_queries(queries: object) -> list[str]:
    """The queries the `search` tool runs: a string or the non-blank strings of a list
    (anything else a model wrote in the call is ignored)."""
    if isinstance(queries, str):
        queries = [queries]
    if not isinstance(queries, Sequence):
        return []
    return [query for query in queries if isinstance(query, str) and query.strip()]


def format_search_output(
    queries: Sequence[str], results: Sequence[Sequence[Hit]], snippet_chars: int = SNIPPET_CHARS
) -> str:
    """The `search` tool's text for the results of `search_queries(...)`."""
    if not queries:
        return NO_QUERY_MESSAGE
    return RESULT_SEPARATOR.join(
        format_search_results(query, hits, snippet_chars)
        for query, hits in zip(queries, results, strict=True)
    )


def search_tool(
    index: SearchIndex,
    queries: str | Sequence[str],
    k: int = 10,
    block: BlockList = NO_BLOCKS,
    mode: SearchMode = "hybrid",
    snippet_chars: int = SNIPPET_CHARS,
) -> str:
    """The `search` tool: the top-k pages (one passage each) for every query, as text."""
    queries = search_queries(queries)
    if not queries:
        return NO_QUERY_MESSAGE
    results = index.search(
        queries,
        mode=mode,
        k=k,
        block_urls=sorted(block.urls),
        block_doc_ids=sorted(block.doc_ids),
        unique_docs=True,
    )
    return format_search_output(queries, results, snippet_chars)


# -- visit ---------------------------------------------------------------------------------


def _uncovered(start: int, end: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Parts of [start, end) outside every covered interval."""
    pieces = [(start, end)]
    for low, high in covered:
        next_pieces = []
        for a, b in pieces:
            if high <= a or low >= b:
                next_pieces.append((a, b))
                continue
            if a < low:
                next_pieces.append((a, low))
            if high < b:
                next_pieces.append((high, b))
        pieces = next_pieces
    return pieces


def relevance_ordered_segments(
    text: str, spans: Sequence[tuple[int, int]], scores: Sequence[float]
) -> list[str]:
    """The page text as segments: passages by descending score, each without the text an
    earlier segment already showed (overlaps), then any text no passage covered."""
    order = sorted(range(len(spans)), key=lambda i: (-scores[i], spans[i][0]))
    covered: list[tuple[int, int]] = []
    segments: list[str] = []
    for position in order:
        for a, b in _uncovered(*spans[position], covered):
            if text[a:b].strip():
                segments.append(text[a:b].strip())
        covered.append(spans[position])
    for a, b in _uncovered(0, len(text), covered):
        if text[a:b].strip():
            segments.append(text[a:b].strip())
    return segments


def paginate(segments: Sequence[str], page_chars: int) -> list[str]:
    """Segments packed in order into pages of at most `page_chars` characters (a segment
    longer than a page is cut at whitespace)."""
    pieces: list[str] = []
    for segment in segments:
        while len(segment) > page_chars:
            cut = segment.rfind(" ", 0, page_chars)
            cut = cut if cut > page_chars // 2 else page_chars
            pieces.append(segment[:cut].rstrip())
            segment = segment[cut:].lstrip()
        if segment:
            pieces.append(segment)
    pages: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}\n\n{piece}" if current else piece
        if current and len(candidate) > page_chars:
            pages.append(current)
            current = piece
        else:
            current = candidate
    if current or not pages:
        pages.append(current)
    return pages


def _visit_header(url: str, goal: str) -> str:
    return f"The useful information in {url} for user goal {goal} as follows: \n\n"


def _unavailable(url: str, goal: str, reason: str) -> str:
    return (
        _visit_header(url, goal)
        + "Evidence in page: \nThe provided webpage content could not be accessed: "
        + reason
        + "\n\n"
    )


def _ranked_pages(
    index: SearchIndex, page: Page, goal_vector: np.ndarray | None, page_chars: int
) -> list[str]:
    """The page's parts: its indexed passages (or fresh chunks) ranked by cosine to the goal."""
    passages = index.passages_of(page.doc_id)
    if passages.height:
        spans = list(
            zip(passages["start_char"].to_list(), passages["end_char"].to_list(), strict=True)
        )
        vectors = passages["vector"].to_numpy()
    else:  # a document that is not indexed: chunk it here
        chunks = chunk_document(page.text)
        spans = [(chunk.start_char, chunk.end_char) for chunk in chunks]
        vectors = (
            index.embedder.encode([chunk.text for chunk in chunks])
            if goal_vector is not None
            else None
        )
    if goal_vector is None or not spans:
        scores = [0.0] * len(spans)  # no goal: document order
    else:
        scores = (
            np.asarray(vectors, dtype=np.float32).reshape(len(spans), -1) @ goal_vector
        ).tolist()
    return paginate(relevance_ordered_segments(page.text, spans, scores), page_chars)


def visit_tool(
    index: SearchIndex,
    documents: pl.DataFrame | PageLookup,
    url: str | Sequence[str],
    goal: str,
    page: int = 0,
    page_chars: int = PAGE_CHARS,
    block: BlockList = NO_BLOCKS,
) -> str:
    """The `visit` tool: each page's text, passages most relevant to `goal` first, paged.

    `documents` is the documents table or (faster for many calls) a `page_lookup` of it.
    `page` (from 0) selects the part of a long page. An unknown or blocked URL gets a
    message saying so in the reference format.
    """
    if page_chars < MIN_PAGE_CHARS:
        raise ValueError(f"page_chars must be at least {MIN_PAGE_CHARS}, got {page_chars}")
    lookup = page_lookup(documents) if isinstance(documents, pl.DataFrame) else documents
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        return "[visit] No url given: pass 'url' as a string or a list of strings."
    goal = goal if isinstance(goal, str) else ""
    goal_vector = index.embedder.encode([goal])[0] if goal.strip() else None
    return RESULT_SEPARATOR.join(
        _visit_one(index, lookup, str(one), goal, goal_vector, page, page_chars, block)
        for one in urls
    )


def _visit_one(
    index: SearchIndex,
    lookup: PageLookup,
    url: str,
    goal: str,
    goal_vector: np.ndarray | None,
    page: int,
    page_chars: int,
    block: BlockList,
) -> str:
    normalized = normalize_url(url)
    if block.blocks(url) or block.blocks(normalized):
        return _unavailable(url, goal, "this page is blocked in this run.")
    found = lookup(url) or (lookup(normalized) if normalized else None)
    if found is None:
        return _unavailable(url, goal, "no page with this URL is known. Please check the URL.")
    if block.blocks(found.url, found.doc_id):
        return _unavailable(url, goal, "this page is blocked in this run.")
    pages = _ranked_pages(index, found, goal_vector, page_chars)
    if not 0 <= page < len(pages):
        return _unavailable(
            url, goal, f"page={page} does not exist: this page has parts 0 to {len(pages) - 1}."
        )
    footer = ""
    if len(pages) > 1:
        footer = f"Part {page + 1} of {len(pages)} of this page"
        footer += (
            f"; visit again with page={page + 1} for more.\n\n"
            if page + 1 < len(pages)
            else ".\n\n"
        )
    return (
        _visit_header(url, goal)
        + f"Title: {found.title}\n"
        + (f"Description: {found.description}\n" if found.description else "")
        + "\n"
        + "Evidence in page: \n"
        + pages[page]
        + "\n\n"
        + footer
    )


# -- one interface for in-process and HTTP tools -------------------------------------------


class Tools(Protocol):
    """What agent code calls: `LocalTools` (in-process) and `ToolClient` (HTTP, in
    lakehouse.index.client) both have these methods, so configuration picks one."""

    def search_tool(
        self,
        queries: str | Sequence[str],
        k: int = 10,
        block: BlockList = NO_BLOCKS,
        mode: SearchMode = "hybrid",
        snippet_chars: int = SNIPPET_CHARS,
    ) -> str: ...

    def visit_tool(
        self,
        url: str | Sequence[str],
        goal: str,
        page: int = 0,
        page_chars: int = PAGE_CHARS,
        block: BlockList = NO_BLOCKS,
    ) -> str: ...


class LocalTools:
    """The `search` and `visit` tools over an index in this process; `block` is added to
    every call's own block list (as a tool service's start-up block list is)."""

    def __init__(
        self,
        index: SearchIndex,
        documents: pl.DataFrame | PageLookup,
        block: BlockList = NO_BLOCKS,
    ) -> None:
        self.index = index
        self.pages = page_lookup(documents) if isinstance(documents, pl.DataFrame) else documents
        self.block = block

    def search_tool(
        self,
        queries: str | Sequence[str],
        k: int = 10,
        block: BlockList = NO_BLOCKS,
        mode: SearchMode = "hybrid",
        snippet_chars: int = SNIPPET_CHARS,
    ) -> str:
        """`search_tool` on this index."""
        return search_tool(self.index, queries, k, self.block.union(block), mode, snippet_chars)

    def visit_tool(
        self,
        url: str | Sequence[str],
        goal: str,
        page: int = 0,
        page_chars: int = PAGE_CHARS,
        block: BlockList = NO_BLOCKS,
    ) -> str:
        """`visit_tool` on this index and these documents."""
        return visit_tool(
            self.index, self.pages, url, goal, page, page_chars, self.block.union(block)
        )
