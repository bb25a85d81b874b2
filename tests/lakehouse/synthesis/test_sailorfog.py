import random
import re

import pytest

from lakehouse.synthesis import sailorfog as sf
from lakehouse.synthesis import spec as S
from lakehouse.synthesis.tasks import finalize
from tests.lakehouse.synthesis.europe import europe

# The europe graph: France borders Spain, Belgium, Germany and Italy; Spain borders
# Portugal; Belgium borders Germany. Every country is "Country in Europe"; France has 68M
# people, Italy 59M, Germany 84M; Alan Turing (1912-1954) was born in London.
NAME_HIDING = (sf.TYPE, sf.DESCRIPTION, sf.NAME_PREFIX)


@pytest.fixture(scope="module")
def graph():
    return europe()


@pytest.fixture
def fog(graph):
    return sf.SailorFog(graph)


def _tree(root, *edges):
    """A hand-built tree: edges are (parent, child, predicate, direction)."""
    tree = sf.Tree(root)
    for parent, child, predicate, direction in edges:
        tree.add(parent, sf.Link(child, predicate, direction))
    return tree


def _descriptions(fog, tree, seeds=range(60)):
    """The drafts `describe` makes for a tree over many seeds (drops left out)."""
    drafts = []
    for seed in seeds:
        try:
            drafts.append(fog.describe(tree, random.Random(seed), seed))
        except sf.Dropped:
            continue
    return drafts


def _says(text, name):
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, flags=re.IGNORECASE) is not None


def _branches_only_over_leaves(tree):
    return all(
        len(tree.children[node]) < 2 or not any(tree.children[kid] for kid in tree.children[node])
        for node in tree.nodes
        if node != tree.root
    )


# --- sampling


def test_sampled_trees_branch_and_layer_within_the_limits(fog, graph):
    trees = [sf.sample_tree(fog.links, "fr", 5, random.Random(seed)) for seed in range(60)]
    for tree in trees:
        assert len(tree.nodes) == 5
        assert tree.height() <= sf.MAX_DEPTH
        assert _branches_only_over_leaves(tree)
        for child, link in tree.link.items():
            # Each link is a real, verbalizable edge: the parent is in its projection.
            assert link.predicate in sf.CLAUSES
            step = S.edge(link.predicate, S.entity(child), link.direction)
            assert tree.parent[child] in S.execute(step, graph).entities
    assert any(len(tree.children["fr"]) >= 2 for tree in trees)  # branching at the answer
    assert any(tree.height() >= 2 for tree in trees)  # layered: a neighbour's neighbour
    assert any(  # a neighbour described by several of its own neighbours
        len(tree.children[node]) >= 2 for tree in trees for node in tree.nodes if node != "fr"
    )
    assert len({tree.shape() for tree in trees}) >= 4


def test_sample_tree_stops_when_the_component_is_exhausted(fog):
    # London's only verbalizable link is Alan Turing's birthplace.
    tree = sf.sample_tree(fog.links, "london", 6, random.Random(0))
    assert tree.nodes == ["london", "alan"]


def test_tree_spec_has_the_tree_shape(graph):
    tree = _tree(
        "fr",
        ("fr", "es", "borders", "subjects"),
        ("fr", "de", "borders", "subjects"),
        ("de", "be", "borders", "subjects"),
        ("de", "berlin", "capital", "subjects"),
    )
    spec = sf.tree_spec(graph, tree, {leaf: S.entity(leaf) for leaf in tree.leaves()})
    assert spec == S.where(
        S.both(
            S.edge("borders", S.entity("es")),
            S.edge(
                "borders",
                S.where(
                    S.both(
                        S.edge("borders", S.entity("be")), S.edge("capital", S.entity("berlin"))
                    ),
                    type="country",
                ),
            ),
        ),
        type="country",
    )
    assert tree.shape() == "(x(xx))"
    assert S.hops(spec) == 2
    assert S.execute(spec, graph).entities == {"fr"}


# --- obfuscation rules


def test_obfuscation_options_for_a_country(graph):
    options = sf.obfuscation_options(graph, "fr")
    assert set(options) == {sf.TYPE, sf.DESCRIPTION, sf.NAME_PREFIX, sf.APPROXIMATE_NUMBER}
    (type_only,) = options[sf.TYPE]
    assert type_only.where == {"op": "where", "type": "country"}
    assert type_only.phrase == "a country"
    (described,) = options[sf.DESCRIPTION]
    assert described.where["description"] == "Country in Europe"
    assert described.phrase == 'a country described as "Country in Europe"'
    assert [o.where["name_prefix"] for o in options[sf.NAME_PREFIX]] == ["Fr", "Fra"]
    assert options[sf.NAME_PREFIX][0].phrase == "a country whose name begins with 'Fr'"
    population, area = options[sf.APPROXIMATE_NUMBER]
    assert population.where == {
        "op": "where",
        "type": "country",
        "attribute": {"predicate": "population", "low": 56e6, "high": 84e6},
        "wording": "has a population of about 70 million",
    }
    assert population.phrase == "a country with a population of about 70 million"
    assert population.original == "68000000 people"
    assert area.phrase == "a country with an area of about 600,000 square kilometres"
    assert {o.original for o in options[sf.NAME_PREFIX] + [type_only, described]} == {"France"}


def test_obfuscation_options_for_a_person_range_their_years(graph):
    dates = sf.obfuscation_options(graph, "alan")[sf.DATE_RANGE]
    assert [(o.phrase, o.where["attribute"]) for o in dates] == [
        ("a person born in the 1910s", {"predicate": "birth_year", "low": 1910, "high": 1919}),
        (
            "a person born in the early 1910s",
            {"predicate": "birth_year", "low": 1910, "high": 1914},
        ),
        ("a person who died in the 1950s", {"predicate": "death_year", "low": 1950, "high": 1959}),
        (
            "a person who died in the mid-1950s",
            {"predicate": "death_year", "low": 1953, "high": 1957},
        ),
    ]
    assert dates[0].where["wording"] == "was born in the 1910s"
    assert dates[0].original == "1912"


def test_every_option_matches_its_own_entity(fog, graph):
    for entity_id in ["fr", "de", "paris", "alan", "ada"]:
        for variants in sf.obfuscation_options(graph, entity_id).values():
            for option in variants:
                assert entity_id in fog.members(option.where), option


# --- drafts


def test_obfuscations_that_break_uniqueness_are_never_kept(fog, graph):
    # Belgium is the one country bordering both France and Germany. Each of these would let
    # France (or Spain) border "both" as well: France's population band (56-84M) holds
    # Italy and Germany, its area band Spain, Germany's population band France, and every
    # country is "Country in Europe". Germany's area band (286-428k) holds Italy too, but
    # Italy borders only France: Belgium stays unique, so that one may be kept.
    tree = _tree("be", ("be", "fr", "borders", "subjects"), ("be", "de", "borders", "subjects"))
    breaking = {
        ("fr", "a country with a population of about 70 million"),
        ("fr", "a country with an area of about 600,000 square kilometres"),
        ("de", "a country with a population of about 80 million"),
        ("fr", 'a country described as "Country in Europe"'),
        ("de", 'a country described as "Country in Europe"'),
    }
    offered = {
        (leaf, option.phrase)
        for leaf in ("fr", "de")
        for variants in sf.obfuscation_options(graph, leaf).values()
        for option in variants
    }
    assert breaking <= offered
    drafts = _descriptions(fog, tree)
    assert len(drafts) >= 20
    kept = set()
    for draft in drafts:
        assert S.execute(draft.spec, graph).entities == {"be"}
        kept |= {(o["entity_id"], o["shown"]) for o in draft.obfuscations}
    assert not kept & breaking
    assert ("fr", "a country whose name begins with 'Fr'") in kept
    assert ("de", "a country with an area of about 360,000 square kilometres") in kept


def test_a_tree_whose_names_do_not_single_out_the_answer_is_dropped(fog):
    # Spain borders France, which borders Germany: but so do Belgium, Italy, Germany...
    tree = _tree("es", ("es", "fr", "borders", "subjects"), ("fr", "de", "borders", "subjects"))
    with pytest.raises(sf.Dropped) as dropped:
        fog.describe(tree, random.Random(0), 0)
    assert dropped.value.reason == sf.NOT_UNIQUE


def test_a_date_range_draft_reads_and_executes(fog, graph):
    tree = _tree("london", ("london", "alan", "born in", "objects"))
    drafts = _descriptions(fog, tree)
    dated = [d for d in drafts if d.obfuscations[0]["kind"] == sf.DATE_RANGE]
    assert dated
    for draft in dated:
        (obfuscation,) = draft.obfuscations
        assert obfuscation["entity_id"] == "alan"
        assert draft.question == f"Which place is the birthplace of {obfuscation['shown']}?"
        assert S.execute(draft.spec, graph).entities == {"london"}
        assert draft.kind == sf.INTERSECTION


def test_the_answer_is_never_named_even_by_a_leaf_description(fog, graph):
    # Paris is "Capital of France": describing it so would give France away.
    tree = _tree("fr", ("fr", "paris", "capital", "subjects"), ("fr", "it", "borders", "subjects"))
    drafts = _descriptions(fog, tree)
    assert drafts
    assert not any(_says(draft.question, "France") for draft in drafts)
    assert not any(
        o["kind"] == sf.DESCRIPTION and o["entity_id"] == "paris"
        for draft in drafts
        for o in draft.obfuscations
    )


def test_nested_question_wording(fog):
    tree = _tree(
        "fr",
        ("fr", "de", "borders", "subjects"),
        ("de", "be", "borders", "subjects"),
        ("de", "berlin", "capital", "subjects"),
        ("fr", "es", "borders", "subjects"),
    )
    hidden = {
        "be": "a country whose name begins with 'Be'",
        "berlin": "a place whose name begins with 'Be'",
    }
    assert fog.question(tree, hidden) == (
        "Which country borders Spain, and borders a country that both borders a country whose "
        "name begins with 'Be' and has as its capital a place whose name begins with 'Be'?"
    )


def test_generated_drafts_are_unique_hidden_and_finalize(graph):
    drafts, drops = sf.generate_with_drops(graph, seed=3, limit=15)
    assert drafts
    known = {
        sf.NO_TREE,
        sf.NOT_UNIQUE,
        sf.NOTHING_HIDDEN,
        sf.NAMES_ANSWER,
        sf.DUPLICATE,
    }
    assert set(drops) <= known  # finalize rejected nothing
    assert len({S.canonical(draft.spec) for draft in drafts}) == len(drafts)
    for draft in drafts:
        (answer,) = draft.expected
        task = finalize(draft, graph)
        assert task.answer_entity_ids == [answer]
        assert S.execute(draft.spec, graph).unique() == answer
        assert draft.generator == "sailorfog"
        assert draft.generator_version.startswith("sailorfog-1+templates-")
        assert draft.kind in (sf.MULTI_HOP, sf.INTERSECTION)
        assert draft.question.startswith("Which ")
        assert draft.question.endswith("?")
        assert not _says(draft.question, graph.name(answer))
        assert draft.obfuscations
        for obfuscation in draft.obfuscations:
            assert set(obfuscation) == {"kind", "entity_id", "original", "shown"}
            assert obfuscation["shown"] in draft.question
            assert obfuscation["entity_id"] not in S.constants(draft.spec)
            if obfuscation["kind"] in NAME_HIDING:
                assert obfuscation["original"] == graph.name(obfuscation["entity_id"])
                assert not _says(draft.question, obfuscation["original"])
        # The named leaves are the spec's constants; obfuscated ones are `where` nodes.
        wheres = [n for n in S.walk(draft.spec) if n["op"] == "where" and "of" not in n]
        assert len(wheres) == len(draft.obfuscations)


def test_generation_is_deterministic_by_seed(graph):
    def run(seed):
        return [(d.question, S.canonical(d.spec)) for d in sf.generate(graph, seed, 12)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_draft_is_reproduced_from_its_own_seed(graph):
    drafts = sf.generate(graph, 11, 5)
    fresh = sf.SailorFog(graph)
    for draft in drafts:
        assert fresh.sample(draft.seed) == draft


def test_limit_zero_and_an_empty_graph_give_nothing(graph):
    assert sf.generate(graph, 0, 0) == []
    empty = sf.SailorFog(graph)
    empty.seeds = []
    with pytest.raises(sf.Dropped) as dropped:
        empty.sample(0)
    assert dropped.value.reason == sf.NO_TREE


def test_an_untyped_entity_is_headed_by_the_type_its_edge_implies():
    graph = europe()
    graph.types["lisbon"] = None
    options = sf.obfuscation_options(graph, "lisbon", implied_type="city")
    assert sf.TYPE not in options  # no type to show, nor to check
    prefix = options[sf.NAME_PREFIX][0]
    assert prefix.phrase == "a city whose name begins with 'Li'"
    assert prefix.where == {
        "op": "where",
        "name_prefix": "Li",
        "wording": "has a name beginning with 'Li'",
    }
    untyped = sf.obfuscation_options(graph, "lisbon")[sf.NAME_PREFIX][0]
    assert untyped.phrase == "an entity whose name begins with 'Li'"
    # In a tree, the head comes from the link: Portugal's capital is a city.
    tree = _tree("pt", ("pt", "lisbon", "capital", "subjects"))
    shown = sf.SailorFog(graph).options(tree, "lisbon")[sf.NAME_PREFIX][0].phrase
    assert shown == "a city whose name begins with 'Li'"
