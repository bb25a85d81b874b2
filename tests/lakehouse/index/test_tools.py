import polars as pl
import pytest

from lakehouse.index.chunking import ChunkSettings, chunk_documents
from lakehouse.index.embedder import default_embedder, embed_passages
from lakehouse.index.search_index import SearchIndex, build_index
from lakehouse.index.tools import (
    BlockList,
    page_lookup,
    paginate,
    relevance_ordered_segments,
    search_tool,
    visit_tool,
)

LONG_TEXT = (
    "Lake Baikal is a rift lake in the south of the Russian region of Siberia. "
    "It is the deepest lake in the world, at 1,642 metres. "
    "The lake holds about a fifth of the world's unfrozen fresh surface water. "
    "Baikal is home to thousands of species of plants and animals. "
    "Many of them, such as the Baikal seal, are found nowhere else. "
    "The Trans-Siberian Railway runs along the southern shore of the lake. "
    "The lake freezes over in winter, and the ice can be more than a metre thick."
)
DOCUMENTS = pl.DataFrame(
    {
        "doc_id": ["doc_baikal", "doc_nile", "doc_kiwi"],
        "url": [
            "https://en.wikipedia.org/wiki/Lake_Baikal",
            "https://en.wikipedia.org/wiki/Nile",
            "https://en.wikipedia.org/wiki/Kiwi",
        ],
        "title": ["Lake Baikal", "Nile", "Kiwi"],
        "text": [
            LONG_TEXT,
            "The Nile is a major north-flowing river in northeastern Africa. "
            "It flows into the Mediterranean Sea.",
            "Kiwi are flightless birds endemic to New Zealand. They lay very large eggs.",
        ],
    }
)
BAIKAL_URL = "https://en.wikipedia.org/wiki/Lake_Baikal"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    # Small chunks, so the Baikal page has several passages to rank.
    passages = chunk_documents(DOCUMENTS, ChunkSettings(max_words=25, min_words=3))
    directory = tmp_path_factory.mktemp("tools_index")
    build_index(embed_passages(passages, default_embedder()), directory)
    return SearchIndex(directory)


def test_search_tool_output_matches_the_reference_format(index):
    out = search_tool(index, ["deepest lake in the world", "flightless birds New Zealand"], k=2)
    first, second = out.split("\n=======\n")
    assert first.startswith(
        "A search for 'deepest lake in the world' found 2 results:\n\n## Web Results\n"
        f"1. [Lake Baikal]({BAIKAL_URL})\n\n"
    )
    assert "\n\n2. [" in first
    assert second.startswith("A search for 'flightless birds New Zealand' found 2 results:")
    assert "1. [Kiwi](https://en.wikipedia.org/wiki/Kiwi)" in second


def test_search_tool_lists_each_page_once_and_honours_blocks(index):
    out = search_tool(index, "Lake Baikal Siberia seal railway", k=3)
    assert out.count(BAIKAL_URL) == 1  # several Baikal passages match: one result
    blocked = search_tool(
        index, "Lake Baikal Siberia seal railway", k=3, block=BlockList(urls={BAIKAL_URL})
    )
    assert BAIKAL_URL not in blocked
    assert "found 2 results" in blocked


def test_search_tool_handles_no_results_and_no_queries(index):
    assert search_tool(index, ["zzzqqq"], mode="bm25") == (
        "No results found for 'zzzqqq'. Try with a more general query."
    )
    assert search_tool(index, []).startswith("[search] No query given")


def test_visit_tool_puts_the_passage_relevant_to_the_goal_first(index):
    out = visit_tool(index, DOCUMENTS, BAIKAL_URL, goal="railway along the southern shore")
    assert out.startswith(
        f"The useful information in {BAIKAL_URL} for user goal railway along the southern "
        "shore as follows: \n\nTitle: Lake Baikal\n\nEvidence in page: \n"
    )
    evidence = out.split("Evidence in page: \n", 1)[1]
    assert evidence.index("Trans-Siberian Railway") < evidence.index("deepest lake")
    # Every sentence of the page is shown exactly once (overlaps are not repeated).
    for sentence in LONG_TEXT.split(". "):
        assert evidence.count(sentence.rstrip(".")) == 1


def test_visit_tool_pages_long_pages(index):
    lookup = page_lookup(DOCUMENTS)
    first = visit_tool(index, lookup, BAIKAL_URL, goal="depth", page_chars=200)
    assert "Part 1 of " in first
    assert "page=1" in first
    parts = int(first.split("Part 1 of ")[1].split(" ")[0])
    last = visit_tool(index, lookup, BAIKAL_URL, goal="depth", page=parts - 1, page_chars=200)
    assert f"Part {parts} of {parts} of this page." in last
    beyond = visit_tool(index, lookup, BAIKAL_URL, goal="depth", page=parts, page_chars=200)
    assert "does not exist" in beyond


def test_visit_tool_unknown_blocked_and_several_urls(index):
    unknown = visit_tool(index, DOCUMENTS, "https://example.org/nowhere", goal="anything")
    assert "could not be accessed: no page with this URL is known" in unknown
    blocked = visit_tool(
        index, DOCUMENTS, BAIKAL_URL, goal="depth", block=BlockList(doc_ids={"doc_baikal"})
    )
    assert "blocked" in blocked
    assert "Siberia" not in blocked
    both = visit_tool(
        index,
        DOCUMENTS,
        ["https://EN.wikipedia.org/wiki/Nile", "https://en.wikipedia.org/wiki/Kiwi"],
        "facts",
    )
    nile, kiwi = both.split("\n=======\n")
    assert "Mediterranean" in nile
    assert "flightless" in kiwi


def test_segments_skip_overlaps_and_keep_uncovered_text():
    text = "AAA. BBB. CCC. DDD."
    spans = [(0, 9), (5, 14), (10, 19)]  # "AAA. BBB.", "BBB. CCC.", "CCC. DDD."
    assert relevance_ordered_segments(text, spans, [0.1, 0.2, 0.9]) == [
        "CCC. DDD.",
        "BBB.",
        "AAA.",
    ]
    assert relevance_ordered_segments(text, [(5, 9)], [1.0]) == ["BBB.", "AAA.", "CCC. DDD."]


def test_paginate_packs_segments_and_cuts_oversized_ones():
    assert paginate(["a" * 5, "b" * 5, "c" * 5], 12) == ["aaaaa\n\nbbbbb", "ccccc"]
    pages = paginate(["word " * 30], 40)
    assert all(len(page) <= 40 for page in pages)
    assert " ".join(pages).split() == ["word"] * 30
    assert paginate([], 100) == [""]


def test_block_list_fingerprint():
    assert BlockList().fingerprint() == "none"
    assert BlockList(urls={"u"}).fingerprint() == BlockList(urls=["u"]).fingerprint()
    assert BlockList(urls={"u"}).fingerprint() != BlockList(doc_ids={"u"}).fingerprint()


def test_visit_shows_the_page_description_under_its_title(index):
    described = DOCUMENTS.with_columns(
        pl.when(pl.col("url") == BAIKAL_URL)
        .then(pl.lit("Rift lake in Siberia, Russia (25 million years old)"))
        .otherwise(None)
        .alias("description")
    )
    out = visit_tool(index, described, BAIKAL_URL, goal="age of the lake")
    assert (
        "Title: Lake Baikal\nDescription: Rift lake in Siberia, Russia (25 million years old)\n\n"
        in out
    )
