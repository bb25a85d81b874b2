import json

import pytest

from lakehouse.synthesis import spec as S
from tests.lakehouse.synthesis.europe import europe


@pytest.fixture(scope="module")
def graph():
    return europe()


def test_a_projection_and_its_inverse(graph):
    neighbours = S.execute(S.edge("borders", S.entity("fr")), graph)
    assert neighbours.entities == {"es", "be", "de", "it"}
    capital = S.execute(S.edge("capital", S.entity("fr"), "objects"), graph)
    assert capital.entities == {"paris"}
    country = S.execute(S.edge("capital", S.entity("paris")), graph)
    assert country.entities == {"fr"}
    assert country.support == {"fr": {"rel_cap_fr"}}


def test_intersection_union_and_difference(graph):
    both = S.both(S.edge("borders", S.entity("fr")), S.edge("borders", S.entity("de")))
    result = S.execute(both, graph)
    assert result.unique() == "be"
    assert result.evidence() == {"rel_bor_be_fr", "rel_bor_be_de"}
    union = S.execute(S.either(S.edge("borders", S.entity("pt")), S.entity("it")), graph)
    assert union.entities == {"es", "it"}
    rest = S.execute(S.minus(S.edge("borders", S.entity("fr")), S.entity("es")), graph)
    assert rest.entities == {"be", "de", "it"}


def test_chained_projections_carry_the_whole_witness_path(graph):
    # the capital of the country that borders Portugal
    chain = S.edge("capital", S.edge("borders", S.entity("pt")), "objects")
    result = S.execute(chain, graph)
    assert result.unique() == "madrid"
    assert result.evidence() == {"rel_bor_es_pt", "rel_cap_es"}
    assert S.hops(chain) == 2
    assert S.constants(chain) == ["pt"]


def test_where_filters_by_type_description_prefix_and_attribute_range(graph):
    assert S.execute(S.where(type="person"), graph).entities == {"ada", "alan"}
    assert S.execute(S.where(name_prefix="Ge"), graph).entities == {"de"}
    assert S.execute(S.where(description="Capital of Spain"), graph).entities == {"madrid"}
    born = S.where(type="person", attribute={"predicate": "birth_year", "low": 1900, "high": 1919})
    result = S.execute(born, graph)
    assert result.entities == {"alan"}
    assert result.support["alan"] == {"rel_birth_year_alan"}
    neighbours = S.where(
        S.edge("borders", S.entity("fr")),
        attribute={"predicate": "population", "low": 50e6, "high": 90e6},
    )
    assert S.execute(neighbours, graph).entities == {"de", "it"}


def test_literal_results(graph):
    population = S.execute(S.value("population", S.edge("capital", S.entity("rome"))), graph)
    assert (population.value, population.number) == ("59000000 people", 59_000_000)
    assert population.read == {"rel_cap_it", "rel_pop_it"}
    assert S.execute(S.value("population", S.where(type="country")), graph).value is None
    count = S.execute(S.count(S.edge("borders", S.entity("fr"), "objects")), graph)
    assert (count.value, count.number) == ("4", 4.0)
    largest = S.extreme("area", S.edge("borders", S.entity("fr")))
    assert S.execute(largest, graph).unique() == "es"
    smallest = S.extreme("population", S.edge("borders", S.entity("fr")), largest=False)
    assert S.execute(smallest, graph).unique() == "be"
    assert S.hops(largest) == 2


def test_an_attribute_some_member_lacks_gives_no_superlative(graph):
    spec = S.extreme("population", S.either(S.entity("fr"), S.entity("ada")))
    assert S.execute(spec, graph).entities == frozenset()


def test_reachable_follows_page_links(graph):
    assert S.execute(S.reachable("alan", 1), graph).entities == {"ada"}
    assert S.execute(S.reachable("alan", 2), graph).entities == {"ada", "fr"}
    assert S.hops(S.reachable("alan", 2)) == 2


def test_specs_round_trip_as_canonical_json(graph):
    spec = S.both(S.edge("borders", S.entity("fr")), S.where(name_prefix="B"))
    stored = S.canonical(spec)
    assert S.canonical(json.loads(stored)) == stored
    assert S.execute(json.loads(stored), graph).unique() == "be"
    assert len(S.spec_hash(spec)) == 16


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"op": "teleport"}, "unknown op 'teleport'"),
        ({"op": "edge", "predicate": "borders"}, "has no field 'of'"),
        (S.edge("borders", S.count(S.entity("fr"))), "gives a value where a set"),
        ({"op": "minus", "of": [S.entity("fr")]}, "exactly two operands"),
        (S.edge("borders", S.entity("fr"), "sideways"), "direction must be"),
        ("France", "a spec is a JSON object"),
    ],
)
def test_malformed_specs_are_errors_saying_what_is_wrong(graph, spec, message):
    with pytest.raises(S.SpecError, match=message):
        S.execute(spec, graph)
