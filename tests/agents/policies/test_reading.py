from agents.format import render_tool_response
from agents.policies.reading import (
    find_fact,
    find_form,
    python_output,
    rank_of,
    search_results,
    sentence_around,
    visited_pages,
)
from lakehouse.index.search_index import Hit
from lakehouse.index.tools import RESULT_SEPARATOR, format_search_output


def hit(doc: str, url: str, title: str, text: str = "text") -> Hit:
    return Hit(f"p_{doc}", doc, url, title, text, 1.0)


def test_search_results_are_read_per_query_with_ranks_and_urls():
    text = format_search_output(
        ["georgia", "nothing"],
        [
            [
                hit("a", "https://en.wikipedia.org/wiki/Georgia_(country)", "Georgia (country)"),
                hit("b", "https://x.org/b", "[Bracketed] title", "A snippet\n\nover lines"),
            ],
            [],
        ],
    )
    blocks = search_results(render_tool_response(text))
    assert [len(b) for b in blocks] == [2, 0]
    first, second = blocks[0]
    assert (first.rank, first.url) == (1, "https://en.wikipedia.org/wiki/Georgia_(country)")
    assert second.title == "[Bracketed] title"
    assert second.snippet == "A snippet over lines"
    assert rank_of(blocks[0], ["https://X.org/b"]).rank == 2  # normalized URLs
    assert rank_of(blocks[0], ["https://x.org/c"]) is None


def test_visited_pages_keep_the_text_and_flag_unreadable_ones():
    header = "The useful information in {} for user goal g as follows: \n\n"
    good = header.format("https://a.org/") + "Title: A\n\nEvidence in page: \nA is big.\n\n"
    good += "Part 1 of 2 of this page; visit again with page=1 for more.\n\n"
    bad = (
        header.format("https://b.org/")
        + "Evidence in page: \nThe provided webpage content could not be accessed: gone.\n\n"
    )
    pages = visited_pages(render_tool_response(good + RESULT_SEPARATOR + bad))
    assert [(p.url, p.title, p.text, p.available) for p in pages] == [
        ("https://a.org/", "A", "A is big.", True),
        ("https://b.org/", "", pages[1].text, False),
    ]


def test_forms_match_whole_names_only():
    text = "Senegal borders Guinea-Bissau (341 km), Mali and Nigeria; Guinea (330 km) too."
    assert find_form(text, ["Niger"]) is None  # not inside Nigeria
    found = find_form(text, ["Guinea"])
    assert text[found.start : found.end] == "Guinea"
    assert found.start == text.index("Guinea (")
    assert find_form("born in 19050 or 1,905", ["1905"]) is None
    assert find_form("Sao Tome", ["São Tomé"]) is not None  # accents folded
    assert find_form("Mexico borders US (3,155 km).", ["US"]) is not None
    assert find_form("It suits us well.", ["US"]) is None  # acronyms keep their case


def test_a_fact_is_quoted_from_the_sentence_naming_its_other_end():
    text = "Paris is large. Lyon is in France. The capital of France is Paris."
    found = find_fact(text, ["Paris"], context=["France"])
    assert found.sentence == "The capital of France is Paris."
    assert find_fact(text, ["Paris"]).sentence == "Paris is large."


def test_long_sentences_are_trimmed_around_the_match():
    text = "word " * 100 + "TARGET " + "more " * 100 + "."
    start = text.index("TARGET")
    quote = sentence_around(text, start, start + 6, limit=60)
    assert "TARGET" in quote
    assert len(quote) <= 62
    assert quote.startswith("…")


def test_python_output_is_what_was_printed():
    assert python_output(render_tool_response("stdout:\n6\nstderr:\nwarn")) == "6"
    assert python_output(render_tool_response("stdout:\nChad\n[exit code 1]")) == "Chad"


def test_a_name_inside_a_longer_name_is_the_last_resort():
    text = (
        "The official name of South Sudan is Republic of South Sudan. "
        "South Sudan borders Ethiopia (1,299 km) and Sudan (2,158 km)."
    )
    found = find_fact(text, ["Sudan"], context=["South Sudan"])
    assert found.start == text.index("Sudan (2,158")
    assert find_fact("Papua New Guinea is an island.", ["Guinea"]).form == "Guinea"
