import polars as pl
import pytest
from rich.console import Console

from evaluation.linking_quality import (
    ALIAS_OVERLAPPED,
    CORRECT,
    GOLD_SCHEMA,
    MOST_POPULAR,
    NO_ALIAS,
    NO_MATCH,
    UNLINKED,
    WRONG,
    GoldDrop,
    error_patterns,
    gold_items,
    heading_aliases,
    majority_vote,
    naive_decisions,
    qualified_names,
    score_items,
    summarize,
    summarize_by,
    with_code_doc_aliases,
)
from evaluation.perf.linking import (
    CODE_DOC_ALIASES,
    TITLE_ALIASES,
    measure_linking,
    naive_name,
    sailyard_name,
    section_of,
)
from lakehouse.errors import SailyardError
from lakehouse.knowledge.entities import ENTITY_ROW_SCHEMA
from lakehouse.knowledge.mentions import SELF, UNIQUE_ALIAS, build_alias_index, matches_in_text
from tests.evaluation.test_web_crawl_bench import needs_docs, small_docs_site

SITE = "http://127.0.0.1:8000"


def _entity(entity_id, name, url=None, doc_id=None, aliases=()):
    row = dict.fromkeys(ENTITY_ROW_SCHEMA)
    row.update(
        entity_id=entity_id,
        name=name,
        url=url or f"{SITE}/{entity_id}.html",
        doc_id=doc_id,
        aliases=[name, *aliases],
        parent_ids=[],
    )
    return row


ENTITIES = pl.DataFrame(
    [
        _entity("e_os", "os — Miscellaneous operating system interfaces¶", doc_id="d_os"),
        _entity("e_path", "os.path — Common pathname manipulations¶", doc_id="d_path"),
        _entity("e_glossary", "Glossary¶", doc_id="d_glossary"),
    ],
    schema=ENTITY_ROW_SCHEMA,
)
DOCUMENTS = pl.DataFrame(
    {
        "doc_id": ["d_os", "d_path", "d_glossary"],
        "snapshot_id": ["s_os", "s_path", "s_glossary"],
        "url": [f"{SITE}/e_os.html", f"{SITE}/e_path.html", f"{SITE}/e_glossary.html"],
        "text": [
            "The os.path module joins paths; see the Glossary. A Tool is a thing.",
            "Use os.path.join() and os.getcwd(); os.path is a module. A Tool again.",
            "Glossary. pathname: a name.",
        ],
    }
)


def _link(source, target, text):
    url = target if target.startswith("http") else f"{SITE}/{target}.html"
    return {"source_snapshot_id": source, "url": url, "text": text}


LINKS = pl.DataFrame(
    [
        _link("s_os", "e_path", "os.path"),
        _link("s_os", "e_path", "OS.Path"),  # the same match key: one item of 2 links
        _link("s_os", "e_glossary", "Glossary"),
        _link("s_os", "e_os", "os.path"),  # a fragment-only link, normalized to its own page
        _link("s_os", "https://example.org/", "Tool"),
        _link("s_os", "e_path", "[1]"),
        _link("s_os", "e_path", "path"),  # "path" is only part of "os.path"'s word "ospath"
        _link("s_gone", "e_path", "os.path"),
        _link("s_path", "e_os", "Tool"),  # one page, one anchor, two targets: ambiguous
        _link("s_path", "e_glossary", "Tool"),
    ]
)


def test_gold_items_keep_named_in_text_links_and_count_every_drop():
    gold = gold_items(LINKS, DOCUMENTS, ENTITIES)
    assert gold.n_links == 10
    assert gold.items.rows() == [
        ("d_os", "Glossary", "glossary", "e_glossary", 1),
        ("d_os", "OS.Path", "ospath", "e_path", 2),  # spellings tie: the first in order
    ]
    assert gold.ambiguous.rows() == [("d_path", "Tool", "tool", ["e_glossary", "e_os"])]
    assert gold.dropped == {
        GoldDrop.SELF_LINK: 1,
        GoldDrop.TARGET_NOT_AN_ENTITY: 1,
        GoldDrop.NOT_A_NAME: 1,
        GoldDrop.NOT_IN_TEXT: 1,
        GoldDrop.SOURCE_NOT_A_DOCUMENT: 1,
    }
    kept = gold.n_links - sum(gold.dropped.values())
    assert kept == gold.items.get_column("n_links").sum() + 2  # + the two ambiguous links


def test_majority_vote_prefers_the_most_common_then_a_link_then_the_smallest_id():
    votes = [("e2", "context"), ("e1", "context"), ("e2", SELF), ("e2", SELF)]
    assert majority_vote(votes) == ("e2", SELF)
    assert majority_vote(votes[:3]) == ("e2", "context")  # methods tie: alphabetical
    assert majority_vote([(None, "nil_context"), ("e2", "context")]) == ("e2", "context")
    assert majority_vote([("e2", "context"), ("e1", UNIQUE_ALIAS)]) == ("e1", UNIQUE_ALIAS)
    assert majority_vote([(None, "nil_context"), (None, "low_score"), ("e1", "context")]) == (
        None,
        "low_score",
    )
    with pytest.raises(ValueError, match="no votes"):
        majority_vote([])


ITEMS = pl.DataFrame(
    [
        ("d1", "A", "a", "e_a", 1),
        ("d1", "B", "b", "e_b", 1),
        ("d2", "A", "a", "e_a", 1),
        ("d2", "C", "c", "e_c", 1),
        ("d3", "D", "d", "e_d", 1),
        ("d3", "E", "e", "e_e", 1),
    ],
    schema=GOLD_SCHEMA,
    orient="row",
)
MENTIONS = pl.DataFrame(
    {
        "doc_id": ["d1", "d1", "d1", "d1", "d2", "d2", "d9"],
        "alias_key": ["a", "a", "a", "b", "a", "c", "d"],
        "entity_id": ["e_a", "e_a", "e_x", "e_x", None, "e_c", "e_d"],
        "method": [UNIQUE_ALIAS, "context", "context", "context", "nil_context", SELF, "x"],
    }
)


def test_score_items_takes_the_majority_and_tells_the_outcomes_apart():
    scored = score_items(ITEMS, MENTIONS, alias_keys={"a", "b", "c", "d"})
    assert scored.select("doc_id", "anchor_key", "predicted_entity_id", "outcome").rows() == [
        ("d1", "a", "e_a", CORRECT),  # 2 of 3 votes
        ("d1", "b", "e_x", WRONG),
        ("d2", "a", None, UNLINKED),
        ("d2", "c", "e_c", CORRECT),
        ("d3", "d", None, NO_MATCH),  # "d" matched only in another document
        ("d3", "e", None, NO_MATCH),
    ]
    assert scored.get_column("n_mentions").to_list() == [3, 1, 1, 1, 0, 0]
    assert scored.get_column("no_match_reason").to_list()[-2:] == [ALIAS_OVERLAPPED, NO_ALIAS]
    assert scored.get_column("method").to_list()[:4] == [
        "context",  # the winner's votes (context, unique_alias) tie: alphabetical
        "context",
        "nil_context",
        SELF,
    ]


def test_summarize_gives_precision_recall_and_their_breakdown():
    quality = summarize(score_items(ITEMS, MENTIONS, alias_keys={"d"}))
    assert quality.n_items == 6
    assert quality.outcomes == {CORRECT: 2, WRONG: 1, UNLINKED: 1, NO_MATCH: 2}
    assert quality.n_linked == 3
    assert quality.precision == pytest.approx(2 / 3)
    assert quality.recall == pytest.approx(2 / 6)
    assert quality.f1 == pytest.approx(2 * (2 / 3) * (1 / 3) / (2 / 3 + 1 / 3))
    assert quality.unlinked_by_method == {"nil_context": 1}
    assert quality.no_match_by_reason == {ALIAS_OVERLAPPED: 1, NO_ALIAS: 1}
    assert quality.by_method == {"context": (2, 1), SELF: (1, 1)}
    assert quality.method_precision("context") == 0.5
    assert quality.method_precision("absent") == 0.0
    assert "P 0.667, R 0.333, F1 0.444 over 6 gold items" in quality.summary()


def test_an_empty_gold_set_scores_zero_without_dividing_by_zero():
    quality = summarize(score_items(ITEMS.head(0), MENTIONS))
    assert (quality.n_items, quality.precision, quality.recall, quality.f1) == (0, 0.0, 0.0, 0.0)


def test_summarize_by_groups_documents_largest_first():
    scored = score_items(ITEMS, MENTIONS)
    groups = summarize_by(scored, {"d1": "library", "d2": "library", "d3": "howto"})
    assert list(groups) == ["library", "howto"]
    assert groups["library"].n_items == 4
    assert groups["library"].recall == pytest.approx(2 / 4)
    assert groups["howto"].outcomes[NO_MATCH] == 2


def test_error_patterns_are_the_most_frequent_first():
    scored = score_items(pl.concat([ITEMS, ITEMS]), MENTIONS, alias_keys={"d"})
    patterns = error_patterns(scored, NO_MATCH, limit=1)
    assert patterns.rows() == [("D", "d", "e_d", None, ALIAS_OVERLAPPED, 2)]
    wrong = error_patterns(scored, WRONG, limit=10)
    assert wrong.select("anchor", "why", "n_items").rows() == [("B", "context", 2)]


def test_the_naive_linker_links_every_match_to_self_unique_or_most_popular():
    entities = pl.DataFrame(
        [
            _entity("e_planet", "Mercury (planet)", doc_id="d_planet", aliases=["Mercury"]),
            _entity("e_element", "Mercury (element)", doc_id="d_element", aliases=["Mercury"]),
            _entity("e_venus", "Venus"),
        ],
        schema=ENTITY_ROW_SCHEMA,
    )
    index = build_alias_index(entities)
    matches = [
        *matches_in_text("d_planet", "Mercury is near Venus.", index),
        *matches_in_text("d_other", "Mercury (element) and mercury, Mercury (element).", index),
        *matches_in_text("d_other2", "Mercury rose.", index),
    ]
    decisions = naive_decisions(matches, index, {"d_planet": "e_planet"})
    linked = [(m.surface, d.entity_id, d.method) for m, d in zip(matches, decisions, strict=True)]
    assert linked == [
        ("Mercury", "e_planet", SELF),
        ("Venus", "e_venus", UNIQUE_ALIAS),
        ("Mercury (element", "e_element", UNIQUE_ALIAS),  # the span ends at the last letter
        ("mercury", "e_element", MOST_POPULAR),  # 2 unique-candidate matches vs 0
        ("Mercury (element", "e_element", UNIQUE_ALIAS),
        ("Mercury", "e_element", MOST_POPULAR),
    ]


def test_heading_aliases_strip_the_mark_the_number_and_the_tagline():
    assert heading_aliases("os.path — Common pathname manipulations¶") == [
        "os.path — Common pathname manipulations",
        "os.path",
    ]
    assert heading_aliases("3. Data model¶") == ["Data model"]
    assert heading_aliases("Built-in Types") == []
    # A long head is a phrase, not a name.
    assert heading_aliases("The very long head here — tagline") == []


def test_qualified_names_go_to_the_longest_module_prefix():
    modules = {"os": "e_os", "os.path": "e_path"}
    found = qualified_names(DOCUMENTS.get_column("text"), modules)
    assert found == {"e_path": {"os.path.join"}, "e_os": {"os.getcwd"}}


def test_code_doc_aliases_add_module_names_and_their_members():
    extended = with_code_doc_aliases(ENTITIES, DOCUMENTS)
    aliases = dict(extended.select("entity_id", "aliases").iter_rows())
    # The title without its mark has the title's match key: not added again.
    assert aliases["e_path"] == [
        "os.path — Common pathname manipulations¶",
        "os.path",
        "os.path.join",
    ]
    assert aliases["e_os"][-2:] == ["os", "os.getcwd"]
    assert aliases["e_glossary"] == ["Glossary¶"]


def test_a_head_two_pages_share_names_no_module():
    entities = pl.DataFrame(
        [_entity("e1", "email — A package¶"), _entity("e2", "email — Examples¶")],
        schema=ENTITY_ROW_SCHEMA,
    )
    documents = pl.DataFrame({"doc_id": ["d"], "text": ["Use email.message here."]})
    aliases = with_code_doc_aliases(entities, documents).get_column("aliases").to_list()
    assert all("email.message" not in names for names in aliases)


@pytest.mark.parametrize(
    ("url", "section"),
    [
        (f"{SITE}/library/os.html", "library"),
        (f"{SITE}/genindex-A.html", "genindex"),
        (f"{SITE}/py-modindex.html", "py"),
        (f"{SITE}/glossary.html", "glossary"),
        (f"{SITE}/", "/"),
    ],
)
def test_section_of_a_url(url, section):
    assert section_of(url) == section


def test_a_missing_site_says_how_to_install_it(tmp_path):
    with pytest.raises(SailyardError, match=r"apt-get install python3\.11-doc"):
        measure_linking(tmp_path / "absent", repeat=1, console=Console(quiet=True))


@needs_docs
@pytest.mark.slow
def test_linking_benchmark_on_a_small_copy_of_the_docs(tmp_path):
    report = measure_linking(small_docs_site(tmp_path), repeat=1, console=Console(quiet=True))
    names = [m.name for m in report.measurements]
    for aliases in (TITLE_ALIASES, CODE_DOC_ALIASES):
        assert sailyard_name(aliases) in names
        assert report.ratio(sailyard_name(aliases)) > 0
        ours = report.quality[sailyard_name(aliases)]
        naive = report.quality[naive_name(aliases)]
        assert ours.n_items == naive.n_items > 0
        assert 0.0 <= ours.recall <= 1.0
        assert sum(ours.outcomes.values()) == ours.n_items
    notes = "\n".join(report.notes)
    assert "gold:" in notes
    assert "ran on the same matches: yes" in notes
    assert report.renderables()
