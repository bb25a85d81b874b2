"""`sailyard bench synthesis` and its baseline: specs as DuckDB SQL (evaluation/spec_sql.py)."""

import polars as pl
import pytest
from rich.console import Console

from evaluation.perf import run_benchmark
from evaluation.perf.synthesis import GenerationRun, GeneratorRun, measure_synthesis, target_of
from evaluation.spec_sql import SpecSql, Untranslatable, answer_of, to_sql
from lakehouse import Lakehouse
from lakehouse.errors import SailyardError
from lakehouse.synthesis import spec as S
from lakehouse.synthesis.build import SynthesisSettings
from lakehouse.synthesis.graph import KnowledgeGraph
from lakehouse.tables import get_table
from tests.assets.test_knowledge_index_assets import built  # noqa: F401 (a fixture)
from tests.lakehouse.synthesis.europe import _relation, entity_rows, relation_rows

COUNTRIES = S.where(type="country")
FR, ES, BE, ADA = S.entity("fr"), S.entity("es"), S.entity("be"), S.entity("ada")
BORDER_OF_FR = S.edge("borders", FR)


def _relations() -> pl.DataFrame:
    """Europe's relations, plus rows the graph's rules must drop or resolve: a sentence's
    population (the Factbook's wins), two different birth years (ambiguous), a phrase's
    "capital" (a Factbook-only predicate), a low-confidence edge, a self-edge, an edge to an
    unknown entity, the aggregate's own row, a tie and a weak page mention."""
    extra = [
        _relation("rel_x_pop", "fr", "population", value="1 people", number=1, extractor="phrase"),
        _relation("rel_x_b1", "alan", "founded", value="1930", number=1930, object_type="year"),
        _relation("rel_x_b2", "alan", "founded", value="1931", number=1931, object_type="year"),
        _relation("rel_x_cap", "be", "capital", "paris", extractor="phrase"),
        _relation("rel_x_weak", "es", "borders", "be", confidence=0.1),
        _relation("rel_x_self", "it", "borders", "it"),
        _relation("rel_x_lost", "it", "borders", "atlantis"),
        _relation("rel_x_world", "world", "borders", "fr"),
        _relation("rel_x_e1", "es", "elevation", value="100 m", number=100, unit="m"),
        _relation("rel_x_e2", "pt", "elevation", value="100 m", number=100, unit="m"),
        _relation("rel_x_link", "fr", "mentions", "de", extractor="page_mention", confidence=0.1),
    ]
    return pl.concat([relation_rows(), pl.DataFrame(extra)], how="diagonal_relaxed")


@pytest.fixture(scope="module")
def tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    return entity_rows().with_columns(url=pl.lit(None, pl.String)), _relations()


@pytest.fixture(scope="module")
def graph(tables) -> KnowledgeGraph:
    return KnowledgeGraph.from_tables(*tables)


@pytest.fixture(scope="module")
def sql(tables):
    with SpecSql(*tables) as connection:
        yield connection


# (spec, its answer): every op alone and composed, the edge cases of each
CASES = [
    (FR, {"fr"}),
    (S.entity("atlantis"), set()),
    (S.entity("world"), set()),  # the Factbook's aggregate is no entity of the graph
    (BORDER_OF_FR, {"es", "be", "de", "it"}),
    (S.edge("borders", BE), {"fr", "de"}),  # the weak es→be edge is dropped
    (S.edge("borders", S.entity("it"), direction="objects"), {"fr"}),  # no self, no unknown
    (S.edge("capital", BE, direction="objects"), {"brussels"}),  # not the phrase's Paris
    (S.edge("capital", S.either(FR, ES), direction="objects"), {"paris", "madrid"}),
    (S.edge("mentions", FR), set()),  # "mentions" are links, never edges
    (S.both(BORDER_OF_FR, S.edge("borders", S.entity("de"))), {"be"}),
    (S.both(BORDER_OF_FR, S.edge("borders", ES), S.edge("borders", BE)), set()),
    (S.either(FR, ES, FR), {"fr", "es"}),
    (S.minus(BORDER_OF_FR, S.either(ES, BE)), {"de", "it"}),
    (S.where(type="person"), {"ada", "alan"}),
    (S.where(BORDER_OF_FR, type="country", name_prefix="B"), {"be"}),
    (S.where(name_prefix=""), set(entity_rows()["entity_id"]) - {"world"}),
    (S.where(description="Capital of Spain"), {"madrid"}),
    (S.where(COUNTRIES, description="Capital of Spain"), set()),
    (
        S.where(COUNTRIES, attribute={"predicate": "area", "low": 92_090, "high": 357_022}),
        {"pt", "it", "de"},  # bounds are inclusive
    ),
    (S.where(attribute={"predicate": "population", "low": 60_000_000}), {"fr", "de"}),
    (S.where(attribute={"predicate": "founded", "high": 2000}), set()),  # ambiguous
    (S.where(attribute={"predicate": "birth_year", "high": 1900}, wording="x"), {"ada"}),
    (S.reachable("alan", 1), {"ada"}),
    (S.reachable("alan", 2), {"ada", "fr"}),
    (S.reachable("alan", 3), {"ada", "fr", "de"}),  # the weak mention is a link
    (S.reachable("alan", 0), set()),
    (S.where(S.reachable("ada", 2), type="country"), {"fr", "de"}),
    (S.extreme("population", BORDER_OF_FR), {"de"}),
    (S.extreme("area", BORDER_OF_FR, largest=False), {"be"}),
    (S.extreme("elevation", S.either(ES, S.entity("pt"))), {"es", "pt"}),  # a tie: both
    (S.extreme("population", S.either(FR, S.entity("paris"))), set()),  # Paris has none
    (S.extreme("population", S.edge("borders", S.entity("atlantis"))), set()),
    (S.extreme("death_year", S.extreme("birth_year", S.where(type="person"))), {"alan"}),
    (S.value("population", FR), "68000000 people"),  # the Factbook's, not the phrase's
    (S.value("birth_year", ADA), "1815"),
    (S.value("population", BORDER_OF_FR), None),  # not one entity
    (S.value("founded", S.entity("alan")), None),  # ambiguous
    (S.value("area", S.extreme("population", S.edge("borders", ES))), "643801 sq km"),
    (S.count(BORDER_OF_FR), "4"),
    (S.count(S.edge("borders", S.entity("atlantis"))), "0"),
    (S.count(S.either(BORDER_OF_FR, S.edge("borders", BE))), "5"),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[S.canonical(c[0]) for c in CASES])
def test_sql_gives_the_executors_answer(spec, expected, graph, sql):
    executed = answer_of(S.execute(spec, graph))
    wanted = frozenset(expected) if isinstance(expected, set) else expected
    assert executed == wanted
    assert sql.answer(spec) == executed


def test_the_derived_tables_keep_what_the_graph_keeps(graph, sql):
    assert sql.count("known") == len(graph.names)
    assert sql.count("edges") == sum(len(found) for found in graph.objects.values())
    unambiguous = [key for key in graph.facts if graph.fact(*key) is not None]
    assert sql.count("facts") == len(unambiguous)
    assert sql.count("links") == sum(len(targets) for targets in graph.links.values())


def test_set_and_literal_specs_become_rows_of_id_or_one_value():
    assert to_sql(BORDER_OF_FR).is_set
    assert not to_sql(S.count(FR)).is_set
    assert "'O''Brien'" in to_sql(S.entity("O'Brien")).sql  # quoted, not injected


def test_an_unknown_op_is_untranslatable_and_a_value_is_no_set():
    with pytest.raises(Untranslatable) as caught:
        to_sql(S.both(FR, {"op": "nearest", "of": FR}))
    assert caught.value.op == "nearest"
    with pytest.raises(S.SpecError, match="gives a value"):
        to_sql(S.both(FR, S.count(FR)))
    with pytest.raises(S.SpecError, match="no field 'predicate'"):
        to_sql({"op": "edge", "of": FR})


def _write_europe(root) -> Lakehouse:
    """A lakehouse with only Europe's entities and relations (no documents, no index)."""
    store = Lakehouse(root)
    entities, relations = entity_rows().with_columns(url=pl.lit(None, pl.String)), _relations()
    for name, frame in (("entities", entities), ("relations", relations)):
        schema = get_table(name).schema
        store.write(
            name,
            frame.with_columns(
                pl.lit(None, dtype).alias(column)
                for column, dtype in schema.items()
                if column not in frame.columns
            ),
        )
    return store


def test_the_benchmark_on_a_tiny_lakehouse_compares_every_spec(tmp_path):
    store = _write_europe(tmp_path / "europe")
    settings = SynthesisSettings(limits={name: 4 for name in SynthesisSettings().limits})
    report = measure_synthesis(store, repeat=1, console=Console(quiet=True), settings=settings)
    names = [m.name for m in report.measurements]
    assert report.ratio("KnowledgeGraph.from_tables") > 0  # vs the DuckDB tables
    assert report.ratio("spec.execute (stored JSON)") > 0  # vs DuckDB SQL
    assert {"webshaper: generate", "webshaper: finalize"} <= set(names)
    assert [run.label for run in report.runs] == [
        "default limits",
        "limits ×2",
        "limits ×4",
        "limits ×8",
    ]  # doubled up to the cap, short of the target
    default = report.runs[0]
    assert 0 < default.tasks <= 4 * 4 + 4 * 4  # open_world: 4 per kind, of 4 kinds
    webshaper = next(run for run in report.generators if run.name == "webshaper")
    assert webshaper.bound() == "limit"
    assert sum(a.compared for a in report.agreement.values()) == default.tasks
    assert report.agreed_share == 1.0
    assert not report.disagreements
    assert "not reached: the largest limits tried give" in report.targets[0].measured
    assert report.targets[1].met  # every answer agrees
    assert any("verification skipped: no documents or passages" in n for n in report.notes)


def test_a_lakehouse_without_a_graph_is_an_error_naming_it(tmp_path):
    with pytest.raises(SailyardError, match="no entities or relations table"):
        run_benchmark("synthesis", repeat=1, console=Console(quiet=True), root=str(tmp_path))
    with pytest.raises(SailyardError, match="--size does not apply to stage 'synthesis'"):
        run_benchmark("synthesis", repeat=1, console=Console(quiet=True), size="quick")


def test_the_target_is_met_on_the_first_run_with_enough_tasks():
    slow = [GenerationRun(1, 7_000, 5.0), GenerationRun(2, 12_000, 130.0)]
    assert not target_of(slow).met
    assert "12,000 tasks in 130.0 s (limits ×2)" in target_of(slow).measured
    assert target_of([GenerationRun(1, 10_000, 90.0)]).met
    short = target_of([GenerationRun(1, 300, 1.0), GenerationRun(2, 300, 1.0)])
    assert not short.met
    assert "the graph gives at most 300 tasks" in short.measured


def test_a_generator_is_bounded_by_its_limit_or_by_the_graph():
    def run(name: str, by_kind: dict[str, int]) -> GeneratorRun:
        return GeneratorRun(name, 100, by_kind, sum(by_kind.values()), 0, 1.0, 1.0)

    assert run("webshaper", {"formal": 100}).bound() == "limit"
    assert run("webwalker", {"traversal": 40}).bound() == "graph"
    both = run("open_world", {"factual": 100, "comparative": 100, "analytical": 7})
    assert both.bound() == "limit (factual, comparative); graph (analytical 7)"


@pytest.mark.slow
def test_the_benchmark_on_a_materialized_slice_agrees_and_searches(built):  # noqa: F811
    report = run_benchmark("synthesis", repeat=1, console=Console(quiet=True), root=str(built.root))
    assert report.agreed_share == 1.0, report.disagreements
    assert sum(a.compared for a in report.agreement.values()) == report.runs[0].tasks
    names = [m.name for m in report.measurements]
    assert "task_rows without search (checks, splits)" in names
    search = next(m for m in report.measurements if m.name.startswith("answerability search"))
    assert search.items > 0
    assert search.rate > 0
    assert any("the full check (task_rows with search)" in note for note in report.notes)
