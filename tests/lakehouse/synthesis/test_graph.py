import polars as pl

from lakehouse.synthesis.graph import KnowledgeGraph
from tests.lakehouse.synthesis.europe import entity_rows, europe, relation_rows


def _graph_with(*extra: dict) -> KnowledgeGraph:
    relations = pl.concat([relation_rows(), pl.DataFrame(list(extra))], how="diagonal_relaxed")
    return KnowledgeGraph.from_tables(entity_rows().with_columns(url=pl.lit(None)), relations)


def _row(rel_id, subject, predicate, obj=None, value=None, **extra):
    return {
        "relation_id": rel_id,
        "subject_id": subject,
        "predicate": predicate,
        "object_id": obj,
        "object_type": extra.get("object_type", "entity"),
        "object_value": value or obj,
        "number": extra.get("number"),
        "confidence": extra.get("confidence", 1.0),
        "extractor": extra.get("extractor", "factbook"),
    }


def test_edges_facts_links_and_the_world_aggregate():
    graph = europe()
    assert graph.objects_of("fr", "borders") == {
        "be": "rel_bor_fr_be",
        "de": "rel_bor_fr_de",
        "es": "rel_bor_fr_es",
        "it": "rel_bor_fr_it",
    }
    assert graph.subjects_of("capital", "paris") == {"fr": "rel_cap_fr"}
    assert graph.number("de", "population") == 84_000_000
    assert graph.links == {"ada": ("fr",), "alan": ("ada",)}  # page mentions
    assert ("ada", "mentions") not in graph.objects  # never a question's edge
    assert "world" not in graph.names
    assert graph.predicate_of["rel_cap_fr"] == "capital"
    assert graph.relation_entities["rel_cap_fr"] == ("fr", "paris")
    assert graph.with_attribute("birth_year") == ["ada", "alan"]


def test_an_unresolved_object_makes_the_list_incomplete():
    graph = _graph_with(_row("rel_bor_fr_ad", "fr", "borders", None, "Andorra"))
    assert graph.is_complete("es", "borders")
    assert not graph.is_complete("fr", "borders")  # Andorra has no entity here
    assert len(graph.objects_of("fr", "borders")) == 4


def test_conflicting_values_are_ambiguous_but_a_less_trusted_source_yields():
    graph = _graph_with(
        _row("rel_pop_fr_text", "fr", "population", None, "65000000 people",
             object_type="quantity", number=65e6, extractor="pattern"),
        _row("rel_born_ada_2", "ada", "birth_year", None, "1816", object_type="year",
             number=1816.0, extractor="pattern"),
    )  # fmt: skip
    assert graph.number("fr", "population") == 68_000_000  # the Factbook's value wins
    assert graph.fact("ada", "birth_year") is None  # two pattern values: ambiguous
    assert "ada" not in graph.with_attribute("birth_year")


def test_a_sentence_extractor_never_writes_a_factbook_predicate_and_weak_edges_are_dropped():
    graph = _graph_with(
        _row("rel_text_capital", "london", "capital", "de", extractor="phrase"),
        _row("rel_weak", "alan", "named after", "ada", extractor="phrase", confidence=0.1),
    )
    assert graph.subjects_of("capital", "de") == {}
    assert graph.objects_of("alan", "named after") == {}


def test_only_whole_projections_may_be_relied_on():
    graph = _graph_with(_row("rel_bor_fr_ad", "fr", "borders", None, "Andorra"))
    assert graph.projection_is_whole("capital", "subjects", "paris")  # one country per capital
    assert graph.projection_is_whole("borders", "subjects", "es")  # Spain's list is whole
    assert not graph.projection_is_whole("borders", "objects", "fr")  # Andorra unresolved
    assert graph.projection_is_whole("born in", "objects", "alan")  # one birthplace
    assert not graph.projection_is_whole("born in", "subjects", "london")  # never all people


def test_sentence_edges_need_fitting_types_and_sentence_quantities_are_not_facts():
    graph = _graph_with(
        _row("rel_shipbuilding", "ada", "capital of", "fr", extractor="phrase"),
        _row("rel_fr_height", "fr", "height", None, "2000 m", object_type="quantity",
             number=2000.0, extractor="pattern"),
    )  # fmt: skip
    assert graph.objects_of("ada", "capital of") == {}  # a person is no capital
    assert graph.fact("fr", "height") is None
    assert graph.fact("ada", "birth_year") is not None  # years from life spans stay
