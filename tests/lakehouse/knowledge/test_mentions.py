import polars as pl
import pytest

from lakehouse.index.embedder import default_embedder
from lakehouse.knowledge import mentions as m
from lakehouse.knowledge.entities import ENTITY_ROW_SCHEMA


def _entity(entity_id, name, aliases=(), entity_type=None, description=None, doc_id=None):
    row = dict.fromkeys(ENTITY_ROW_SCHEMA)
    row.update(
        entity_id=entity_id,
        name=name,
        aliases=[name, *aliases],
        entity_type=entity_type,
        description=description,
        doc_id=doc_id,
        parent_ids=[],
    )
    return row


ENTITIES = pl.DataFrame(
    [
        _entity(
            "ent_rome", "Roman Empire", entity_type="country", description="State (27 BC–AD 476)"
        ),
        _entity(
            "ent_empire",
            "Empire",
            entity_type="concept",
            description="Multiple states under one ruler",
        ),
        _entity(
            "ent_planet",
            "Mercury (planet)",
            ["Mercury"],
            "place",
            "Planet closest to the Sun in the Solar System",
            "doc_planet",
        ),
        _entity(
            "ent_element",
            "Mercury (element)",
            ["Mercury"],
            "substance",
            "Chemical element, a liquid metal, symbol Hg",
            "doc_element",
        ),
        _entity(
            "ent_mexico", "Mexico", entity_type="country", description="Country in North America"
        ),
        _entity("ent_china", "China", entity_type="country", description="Country in East Asia"),
        _entity("ent_us", "United States", ["US"], "country", "Country in North America"),
        _entity(
            "ent_ada",
            "Ada Lovelace",
            entity_type="person",
            description="English mathematician",
            doc_id="doc_ada",
        ),
    ],
    schema=ENTITY_ROW_SCHEMA,
)


def _docs(*rows):
    return pl.DataFrame(
        [{"doc_id": d, "title": t, "text": x} for d, t, x in rows],
        schema={"doc_id": pl.String, "title": pl.String, "text": pl.String},
    )


def test_longest_match_wins_and_generic_aliases_are_never_matched():
    index = m.build_alias_index(ENTITIES)
    assert "us" not in index.candidates  # "US" is too short to match alone
    found = m.matches_in_text("d1", "The Roman Empire fell. The US did not exist.", index)
    assert [(f.surface, f.key) for f in found] == [("Roman Empire", "roman empire")]


def test_matches_are_whole_words_with_exact_spans_and_sentences():
    index = m.build_alias_index(ENTITIES)
    text = "Mexicoan food. Ada Lovelace wrote notes. She met Mexico's envoy."
    found = m.matches_in_text("d1", text, index)
    assert [(f.surface, f.sentence_index) for f in found] == [("Ada Lovelace", 1), ("Mexico", 2)]
    for f in found:
        assert text[f.start : f.end] == f.surface
        assert text[f.sentence_start : f.sentence_end].endswith(".")


@pytest.mark.parametrize(
    ("text", "surface", "inside"),
    [
        ("He moved to New Mexico in 1990.", "Mexico", True),
        ("The New York Times wrote.", "New York", True),
        ("It borders Mexico and Canada.", "Mexico", False),
        ("King Henry ruled.", "Henry", False),  # a title before a name does not count
        ("In Mexico it rains.", "Mexico", False),  # a function word does not count
        ("Vietnam. Mexico is far.", "Mexico", False),  # the sentence before does not count
        ("It joined the Kingdom of Poland.", "Poland", True),  # names joined by "of"
        ("It lies in the Sea of Japan.", "Japan", True),
        ("the Republic of the United States of Indonesia", "United States", True),
        ("The Queen of France arrived.", "France", False),  # a title of a country's person
        ("The history of France is long.", "France", False),
    ],
)
def test_inside_longer_name(text, surface, inside):
    start = text.index(surface)
    assert m.inside_longer_name(text, start, start + len(surface)) is inside


def test_own_page_unique_lowercase_and_longer_name_decisions():
    docs = _docs(
        ("doc_ada", "Ada Lovelace", "Ada Lovelace was a mathematician. She never saw China."),
        ("d2", "Porcelain", "Fine china is porcelain. New Mexico is dry."),
    )
    frame = m.build_mentions(docs, ENTITIES, default_embedder().encode)
    decided = {
        (r["doc_id"], r["surface"]): (r["method"], r["entity_id"])
        for r in frame.iter_rows(named=True)
    }
    assert decided[("doc_ada", "Ada Lovelace")] == (m.SELF, "ent_ada")
    assert decided[("doc_ada", "China")] == (m.UNIQUE_ALIAS, "ent_china")
    assert decided[("d2", "china")] == (m.LOWERCASE_PROPER_NAME, None)
    assert decided[("d2", "Mexico")] == (m.INSIDE_LONGER_NAME, None)
    assert frame.get_column("mention_id").is_unique().all()


def test_ambiguous_mercury_is_resolved_by_sentence_context():
    docs = _docs(
        ("d1", "Thermometer", "Old thermometers held mercury, a toxic liquid metal."),
        ("d2", "Solar System", "Mercury orbits the Sun faster than any other planet."),
    )
    frame = m.build_mentions(docs, ENTITIES, default_embedder().encode)
    chosen = dict(frame.select("doc_id", "entity_id").iter_rows())
    assert chosen == {"d1": "ent_element", "d2": "ent_planet"}
    assert set(frame.get_column("method")) == {m.CONTEXT}
    assert (frame.get_column("score") > m.LinkSettings().min_score).all()


def test_an_ordinary_word_that_is_a_title_needs_context_and_stays_unlinked_without_it():
    filler = " ".join(f"The empire number {i} grew." for i in range(4))
    docs = _docs(("d1", "Bread", filler + " Bakers knead dough; the Empire bakery sells rye."))
    index = m.build_alias_index(ENTITIES)
    matches = m.find_surface_matches(docs, index)
    assert m.common_word_shares(matches, 3)["empire"] == pytest.approx(4 / 5)
    frame = m.build_mentions(docs, ENTITIES, default_embedder().encode)
    bakery = frame.filter(pl.col("surface") == "Empire")
    assert bakery.item(0, "method") in m.UNLINKED_METHODS
    assert bakery.item(0, "best_candidate_id") == "ent_empire"  # the guess is kept


def test_common_word_shares_ignore_sentence_starts_and_rare_keys():
    index = m.build_alias_index(ENTITIES)
    docs = _docs(("d1", "T", "Empire rose. An empire fell. The Empire won. An empire lost."))
    shares = m.common_word_shares(m.find_surface_matches(docs, index), 3)
    assert shares == {"empire": pytest.approx(2 / 3)}
    assert m.common_word_shares(m.find_surface_matches(docs, index), 4) == {}


def test_the_pages_own_name_inside_a_longer_name_is_not_a_self_link():
    entities = pl.DataFrame(
        [_entity("ent_managua", "Managua", entity_type="place", doc_id="doc_managua")],
        schema=ENTITY_ROW_SCHEMA,
    )
    docs = _docs(
        ("doc_managua", "Managua", "Managua is a city. It is the seat of Managua Department.")
    )
    frame = m.build_mentions(docs, entities, default_embedder().encode)
    assert frame.sort("start_char").select("method", "entity_id", "best_candidate_id").rows() == [
        (m.SELF, "ent_managua", "ent_managua"),
        (m.INSIDE_LONGER_NAME, None, "ent_managua"),
    ]


def test_a_name_whose_title_is_lower_case_is_no_ordinary_word():
    entities = pl.DataFrame(
        [
            _entity("ent_asyncio", "asyncio — Asynchronous I/O¶", ["asyncio"], "concept"),
            _entity(
                "ent_empire", "Empire", entity_type="concept", description="States under one ruler"
            ),
        ],
        schema=ENTITY_ROW_SCHEMA,
    )
    index = m.build_alias_index(entities)
    assert index.lowercase_title_keys == {"asyncio", "asyncio asynchronous i o"}
    text = " ".join(["Use asyncio for servers.", "Then asyncio runs.", "Call asyncio now."])
    frame = m.build_mentions(_docs(("d1", "Guide", text)), entities, default_embedder().encode)
    assert set(frame.get_column("method")) == {m.UNIQUE_ALIAS}
    assert set(frame.get_column("entity_id")) == {"ent_asyncio"}
