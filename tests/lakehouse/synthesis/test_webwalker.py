import random

import polars as pl
import pytest

from lakehouse.synthesis import spec as S
from lakehouse.synthesis import webwalker as W
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.synthesis.tasks import finalize

ROOT_URL = "https://example.org/wiki/Root"
# page → (name, type, description)
PAGES = {
    "r": ("Root", "concept", None),
    "a": ("Alpha", "concept", None),
    "b": ("Beta", "concept", None),
    "d": ("Delta", "concept", None),
    "e": ("Epsilon", "concept", None),
    "c": ("Carla Poet", "person", "Poet"),
    "t": ("Tomas Painter", "person", "Painter"),
    "f": ("Frida Painter", "person", "Painter"),
    "k": ("Karl", "person", None),
    "g": ("Greta Painter", "person", "Painter"),  # unreachable from r: born 1843 like Tomas
    "h": ("Hugo Sculptor", "person", "Sculptor"),  # unreachable: 1840s and 1890s like Frida
}
YEARS = {  # person → (birth, death)
    "c": (1850, 1910),
    "t": (1843, 1901),
    "f": (1847, 1899),
    "k": (1860, 1893),
    "g": (1843, 1920),
    "h": (1845, 1895),
}
# Page mentions. From r: a, b (1 link); c, d, e (2); t, f, k (3). t is reached both by
# r→a→c→t and r→b→e→t; breadth first in id order takes the first.
LINKS = {
    "r": ["a", "b"],
    "a": ["c", "d"],
    "b": ["c", "e"],
    "c": ["t"],
    "d": ["f", "k"],
    "e": ["t"],
    "g": ["h"],
}


def _relation(rel_id, subject, predicate, obj=None, year=None):
    return {
        "relation_id": rel_id,
        "subject_id": subject,
        "predicate": predicate,
        "object_id": obj,
        "object_type": "entity" if obj else "year",
        "object_value": obj or str(year),
        "number": None if year is None else float(year),
        "unit": None,
        "confidence": 0.5 if obj else 1.0,
        "extractor": "page_mention" if obj else "pattern",
        "doc_id": f"doc_{subject}",
        "sentence_id": None,
    }


def build_graph() -> KnowledgeGraph:
    entities = pl.DataFrame(
        [
            (page, name, description, kind, f"doc_{page}", ROOT_URL if page == "r" else None)
            for page, (name, kind, description) in PAGES.items()
        ],
        schema=["entity_id", "name", "description", "entity_type", "doc_id", "url"],
        orient="row",
    ).with_columns(aliases=pl.lit([], pl.List(pl.String)))
    rows = [
        _relation(f"rel_{source}_{target}", source, "mentions", target)
        for source, targets in LINKS.items()
        for target in targets
    ]
    for person, (born, died) in YEARS.items():
        rows.append(_relation(f"rel_born_{person}", person, "birth_year", year=born))
        rows.append(_relation(f"rel_died_{person}", person, "death_year", year=died))
    return KnowledgeGraph.from_tables(entities, pl.DataFrame(rows))


@pytest.fixture(scope="module")
def graph():
    return build_graph()


@pytest.fixture(scope="module")
def census(graph):
    return W.Census(graph)


def reached_within(graph, root, depth):
    return sorted(S.execute(S.reachable(root, depth), graph).entities)


def test_breadth_first_matches_reachable_and_gives_the_first_shortest_path(graph):
    parents = W.breadth_first(graph, "r", 3)
    assert sorted(set(parents) - {"r"}) == reached_within(graph, "r", 3)
    assert W.path_to(parents, "t") == ["r", "a", "c", "t"]  # not r, b, e, t
    assert W.path_to(parents, "k") == ["r", "a", "d", "k"]
    assert W.path_to(parents, "r") == ["r"]


def test_one_condition_identifies_the_target_among_reachable_pages(graph, census):
    found = W.identifying(
        graph, census, "t", reached_within(graph, "r", 3), random.Random(0), W.WebWalkerConfig()
    )
    # The 1840s also hold Frida; a death in the 1900s is Tomas's alone in the whole graph,
    # so it would name him without the walk. Born in 1843: Tomas here, Greta elsewhere.
    assert found == (W.Condition("who was born in 1843", "birth_year", 1843, 1843),)
    spec = W.described(S.reachable("r", 3), "person", found)
    assert S.execute(spec, graph).entities == {"t"}
    assert census.matches(found, "person") == 2


def test_two_conditions_when_no_single_one_will_do(graph, census):
    found = W.identifying(
        graph, census, "f", reached_within(graph, "r", 3), random.Random(0), W.WebWalkerConfig()
    )
    assert found is not None
    assert len(found) == 2
    spec = W.described(S.reachable("r", 3), "person", found)
    assert S.execute(spec, graph).entities == {"f"}
    assert census.matches(found, "person") >= 2


def test_a_target_that_is_unique_in_the_whole_graph_is_not_asked(graph, census):
    # Every condition on Carla matches her alone graph-wide: the walk would not be needed.
    reached = reached_within(graph, "r", 2)
    config = W.WebWalkerConfig()
    assert W.identifying(graph, census, "c", reached, random.Random(0), config) is None
    loose = W.WebWalkerConfig(min_global_matches=1)
    assert W.identifying(graph, census, "c", reached, random.Random(0), loose) is not None


def test_census_counts_pages_meeting_every_condition(census):
    decade = W.Condition("who was born in the 1840s", "birth_year", 1840, 1849)
    nineties = W.Condition("who died in the 1890s", "death_year", 1890, 1899)
    painter = W.Condition('described as "Painter"', description="Painter")
    assert census.matches([decade], "person") == 4  # t, f, g, h
    assert census.matches([decade, nineties], "person") == 2  # f, h
    assert census.matches([painter], None) == 3
    assert census.matches([decade], "concept") == 0


def test_drafts_walk_the_gold_path_to_a_unique_target_and_finalize(graph):
    drafts = W.generate(graph, seed=3, limit=20)
    assert drafts
    assert len({d.gold_path[-1] for d in drafts}) == len(drafts)  # one task per target
    assert len({d.gold_path[0] for d in drafts}) == len(drafts)  # and per root
    for draft in drafts:
        root, target = draft.gold_path[0], draft.gold_path[-1]
        (walk,) = [node for node in S.walk(draft.spec) if node["op"] == "reachable"]
        depth = walk["depth"]
        assert walk["root"] == root
        assert len(draft.gold_path) - 1 == depth  # the target is exactly `depth` links away
        for source, linked in zip(draft.gold_path, draft.gold_path[1:], strict=False):
            assert linked in graph.links[source]
        assert draft.gold_path == W.path_to(W.breadth_first(graph, root, depth), target)
        found = draft.spec["of"] if draft.spec["op"] == "value" else draft.spec
        assert S.execute(found, graph).entities == {target}
        task = finalize(draft, graph)
        assert task.hops >= depth
        assert set(draft.gold_path) <= set(task.gold_entity_ids)
        if draft.answer_type == "entity":
            assert task.answer == PAGES[target][0]
        else:
            attribute = draft.spec["attribute"]
            assert draft.expected == str(YEARS[target][attribute == "death_year"])
            assert PAGES[target][0] not in draft.question


def test_the_question_states_the_root_the_depth_and_the_conditions(graph):
    config = W.WebWalkerConfig(depths=(3,), value_share=1.0)
    drafts = W.generate(graph, seed=0, limit=20, config=config)
    from_root = next(d for d in drafts if d.gold_path[0] == "r")
    start = f"Starting from the page of Root ({ROOT_URL}) and following links at most 3 times, "
    # Frida: both her years are the conditions, so only "which person" is left to ask
    assert from_root.gold_path == ["r", "a", "d", "f"]
    assert from_root.question == (
        start + "which person who was born in the 1840s and who died in the 1890s do you reach?"
    )
    assert from_root.obfuscations[0]["entity"] == "f"
    assert from_root.obfuscations[0]["kind"] == "attribute_range"


def test_a_value_question_asks_the_attribute_the_conditions_leave(graph):
    config = W.WebWalkerConfig(depths=(2,), value_share=1.0)
    to_tomas = [
        draft
        for seed in range(10)
        for draft in W.generate(graph, seed=seed, limit=20, config=config)
        if draft.gold_path[-1] == "t"
    ]
    assert to_tomas
    questions = {
        "birth_year": ". In which year was that person born?",
        "death_year": ". In which year did that person die?",
    }
    for draft in to_tomas:
        assert draft.spec["op"] == "value"
        stated = {
            node["attribute"]["predicate"]
            for node in S.walk(draft.spec)
            if "attribute" in node and isinstance(node["attribute"], dict)
        }
        assert draft.spec["attribute"] not in stated  # never a year the question gives
        assert draft.answer_type == "date"
        assert draft.expected == str(YEARS["t"][draft.spec["attribute"] == "death_year"])
        assert draft.question.endswith(questions[draft.spec["attribute"]])
        assert finalize(draft, graph).answer == draft.expected


def test_generation_is_deterministic(graph):
    first = W.generate(graph, seed=9, limit=5)
    again = W.generate(graph, seed=9, limit=5)
    assert [(d.question, S.canonical(d.spec), d.gold_path) for d in first] == [
        (d.question, S.canonical(d.spec), d.gold_path) for d in again
    ]
    assert all(d.kind == W.KIND and d.generator_version == W.VERSION for d in first)


def test_round_bands_for_quantities():
    assert W.magnitude_band(68_512_806) == (60_000_000.0, 70_000_000.0)
    assert W.amount(60_000_000) == "60 million"
    assert W.amount(500_000) == "500,000"
