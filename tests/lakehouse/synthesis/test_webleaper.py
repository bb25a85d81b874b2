import random
from collections import Counter

import polars as pl
import pytest

from lakehouse.synthesis import spec as S
from lakehouse.synthesis import webleaper as W
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.tasks import TaskDraft, finalize
from lakehouse.synthesis.verbalize import Verbalizer

NAMES = {
    "fr": "France",
    "de": "Germany",
    "es": "Spain",
    "be": "Belgium",
    "it": "Italy",
    "ch": "Switzerland",
    "lu": "Luxembourg",
    "nl": "Netherlands",
    "pt": "Portugal",
    "at": "Austria",
    "pl": "Poland",
    "ru": "Russia",
    "ss": "South Sudan",
    "sd": "Sudan",
    "ke": "Kenya",
    "ug": "Uganda",
}
# Symmetric borders, each pair listed on both pages
PAIRS = [
    ("fr", "es"), ("fr", "be"), ("fr", "de"), ("fr", "it"), ("fr", "ch"), ("fr", "lu"),
    ("de", "be"), ("de", "lu"), ("de", "ch"), ("de", "at"), ("de", "pl"), ("de", "nl"),
    ("es", "pt"), ("be", "nl"), ("be", "lu"), ("it", "ch"), ("it", "at"), ("ch", "at"),
    ("ss", "sd"), ("ss", "ke"), ("ss", "ug"), ("ke", "ug"),
]  # fmt: skip


def neighbours(code: str) -> set[str]:
    return {b for a, b in PAIRS if a == code} | {a for a, b in PAIRS if b == code}


def _relation(rel_id, subject, predicate, obj, value=None):
    return {
        "relation_id": rel_id,
        "subject_id": subject,
        "predicate": predicate,
        "object_id": obj,
        "object_type": "entity",
        "object_value": value or obj,
        "number": None,
        "unit": None,
        "confidence": 1.0,
        "extractor": "factbook",
        "doc_id": f"doc_{subject}",
        "sentence_id": None,
    }


def build_graph() -> KnowledgeGraph:
    """Sixteen countries bordering as in PAIRS, plus:

    - the EU (an organization) lists Switzerland, which does not list it: Switzerland's
      group keeps its four countries;
    - Russia lists Poland, Poland does not list Russia: Poland's group is one-sided;
    - Spain also lists Andorra, which is no entity here: Spain's group is incomplete;
    - Luxembourg's official language is unresolved, so no official-language group is whole.
    """
    entities = [(code, name, "country") for code, name in NAMES.items()]
    entities += [("eu", "European Union", "organization"), ("french", "French", "language")]
    rows = []
    for a, b in PAIRS:
        rows.append(_relation(f"rel_{a}_{b}", a, "borders", b))
        rows.append(_relation(f"rel_{b}_{a}", b, "borders", a))
    rows.append(_relation("rel_eu_ch", "eu", "borders", "ch"))
    rows.append(_relation("rel_ru_pl", "ru", "borders", "pl"))
    rows.append(_relation("rel_es_ad", "es", "borders", None, value="Andorra"))
    for code in ("fr", "be", "ch"):
        rows.append(_relation(f"rel_ol_{code}", code, "official_language", "french"))
    rows.append(_relation("rel_ol_lu", "lu", "official_language", None, value="Luxembourgish"))
    frame = pl.DataFrame(entities, schema=["entity_id", "name", "entity_type"], orient="row")
    frame = frame.with_columns(
        description=pl.lit(None, pl.String),
        doc_id=pl.lit(None, pl.String),
        url=pl.lit(None, pl.String),
        aliases=pl.lit([], pl.List(pl.String)),
    )
    return KnowledgeGraph.from_tables(frame, pl.DataFrame(rows))


@pytest.fixture(scope="module")
def graph():
    return build_graph()


@pytest.fixture(scope="module")
def drafts(graph):
    return W.generate(graph, seed=5, limit=200)


def by_kind(drafts, kind):
    return [d for d in drafts if d.kind == kind]


def test_groups_leave_out_what_cannot_be_a_whole_gold_set_and_say_why(graph):
    dropped = Counter()
    found = {(g.predicate, g.direction, g.anchor): g for g in W.groups(graph, dropped)}
    assert ("borders", "objects", "es") not in found  # Andorra is not in the graph
    assert ("borders", "objects", "pl") not in found  # Russia's side only
    assert not any(p == "official_language" and d == "subjects" for p, d, _a in found)
    assert dropped["incomplete"] >= 2  # Spain, and French (Luxembourg's list is unresolved)
    assert dropped["one_sided"] >= 1  # Poland (and the countries whose lists disagree with it)
    assert ("borders", "subjects", "fr") not in found  # symmetric: the anchor's side only
    swiss = found[("borders", "objects", "ch")]
    assert swiss.members == {"fr", "de", "it", "at"}  # Switzerland's own list: no EU
    assert S.execute(swiss.spec(), graph).entities == swiss.members
    assert found[("borders", "objects", "fr")].members == neighbours("fr")


def test_basic_sets_are_every_neighbour_and_finalize(graph, drafts):
    basic = by_kind(drafts, W.BASIC)
    assert basic
    for draft in basic:
        anchor = S.constants(draft.spec)[0]
        assert draft.expected == neighbours(anchor)
        assert 3 <= len(draft.expected) <= 40
        assert NAMES[anchor] in draft.question
        task = finalize(draft, graph)
        assert task.answer_entity_ids == sorted(draft.expected)
    france = next(d for d in basic if S.constants(d.spec) == ["fr"])
    assert france.question in (
        "Which countries border France? Name them all.",
        "List all the countries that border France.",
    )
    assert set(finalize(france, graph).answer.split("; ")) == {
        "Spain", "Belgium", "Germany", "Italy", "Switzerland", "Luxembourg"
    }  # fmt: skip


def test_a_question_naming_a_member_is_not_generated(graph, drafts):
    # Sudan borders South Sudan: "Which countries border South Sudan?" names Sudan.
    assert not any(S.constants(d.spec) == ["ss"] for d in by_kind(drafts, W.BASIC))
    ss_group = next(g for g in W.groups(graph) if g.anchor == "ss")
    leaking = TaskDraft(
        generator=W.GENERATOR,
        generator_version=W.VERSION,
        kind=W.BASIC,
        question="List all the countries that border South Sudan.",
        spec=ss_group.spec(),
        answer_type="set",
        expected=ss_group.members,
        seed=0,
        template="set_basic/list",
    )
    assert W.names_an_answer(graph, leaking)


def test_unions_are_the_full_union_of_two_overlapping_groups(graph, drafts):
    unions = by_kind(drafts, W.UNION)
    assert unions
    for draft in unions:
        assert draft.spec["op"] == "or"
        first, second = S.constants(draft.spec)
        assert draft.expected == neighbours(first) | neighbours(second)
        assert neighbours(first) & neighbours(second)  # they overlap
        assert first not in draft.expected
        assert second not in draft.expected
        assert f"border {NAMES[first]} or border {NAMES[second]}" in draft.question
        finalize(draft, graph)
    assert len({frozenset(S.constants(d.spec)) for d in unions}) == len(unions)


def test_reverse_union_members_determine_the_anchor_uniquely(graph, drafts):
    reverse = by_kind(drafts, W.REVERSE_UNION)
    assert reverse
    for draft in reverse:
        (hidden,) = draft.obfuscations
        anchor, given = hidden["entity"], hidden["given"]
        shared = set.intersection(*(neighbours(m) for m in given))
        assert shared == {anchor}
        assert draft.expected == neighbours(anchor) - set(given)
        assert anchor not in S.constants(draft.spec)  # the spec names only the members
        assert NAMES[anchor] not in draft.question
        assert "border the same country. Which other countries border it?" in draft.question
        assert finalize(draft, graph).answer_entity_ids == sorted(draft.expected)


def test_identifying_members_skips_choices_sharing_two_neighbours(graph):
    found = {g.anchor: g for g in W.groups(graph)}
    config = W.WebLeaperConfig(min_size=1, given_sizes=(2,))
    closed = W.closed_predicates(graph)
    # Luxembourg's neighbours France, Germany and Belgium pairwise share another neighbour
    assert list(W.identifying_members(graph, found["lu"], random.Random(0), config, closed)) == []
    for given in W.identifying_members(graph, found["fr"], random.Random(0), config, closed):
        assert S.execute(W.anchor_spec(found["fr"], given), graph).unique() == "fr"
        assert set.intersection(*(neighbours(m) for m in given)) == {"fr"}


def test_size_bounds_are_respected(graph):
    config = W.WebLeaperConfig(min_size=4, max_size=5)
    for draft in W.generate(graph, seed=1, limit=100, config=config):
        assert 4 <= len(draft.expected) <= 5


def test_plural_clauses_agree_with_a_plural_head(graph):
    verbalizer = Verbalizer(graph)
    spec = S.edge("language", S.entity("french"))
    assert W.plural_relative(verbalizer, spec, "country") == (
        "have French among their spoken languages"
    )


def test_generation_is_deterministic_and_limited(graph):
    first = W.generate(graph, seed=11, limit=7)
    again = W.generate(graph, seed=11, limit=7)
    assert [(d.question, S.canonical(d.spec)) for d in first] == [
        (d.question, S.canonical(d.spec)) for d in again
    ]
    assert len(first) == 7
    assert [d.kind for d in first[:3]] == list(W.KINDS)  # the kinds take turns
    assert all(d.seed == 11 and d.generator_version == W.VERSION for d in first)
