import polars as pl
import pytest

from lakehouse.knowledge import factbook
from lakehouse.knowledge import relations as r
from lakehouse.knowledge.entities import ENTITY_ROW_SCHEMA
from lakehouse.knowledge.factbook import Border, Country, Language, load_countries
from lakehouse.knowledge.mentions import sentence_id


@pytest.mark.parametrize(
    ("gap", "predicate"),
    [
        (" is a 1958 film directed by ", "directed by"),
        (" was born in ", "born in"),
        (", the capital of ", "capital of"),
        (" is the capital and largest city of ", "capital of"),
        (" was named after ", "named after"),
        (", ", None),  # a list
        (" and ", None),  # a coordination
        (" in ", None),  # a bare preposition names no relation
        (" is ", None),  # a bare copula
        (" is a high-power ", None),  # a description of the next mention, not a relation
        ("; later ", None),  # a clause break
        (" (born in ", None),  # a bracket
        (" is the capital of Shanxi, ", None),  # an unlinked name sits in between
        (", south of ", None),  # after a comma without an article: the list's subject
        (" was one of the many small towns that were later absorbed into ", None),  # too long
    ],
)
def test_connecting_predicate(gap, predicate):
    assert r.connecting_predicate(gap) == predicate


def _mention(doc_id, sentence, text, surface, entity_id, score=0.9, occurrence=0):
    sentence_start = text.index(sentence)
    start = sentence_start
    for _ in range(occurrence + 1):
        start = text.index(surface, start if start == sentence_start else start + 1)
    return {
        "mention_id": f"men_{doc_id}_{start}",
        "doc_id": doc_id,
        "sentence_id": f"{doc_id}:{sentence_start}",
        "sentence_start": sentence_start,
        "sentence_end": sentence_start + len(sentence),
        "start_char": start,
        "end_char": start + len(surface),
        "surface": surface,
        "entity_id": entity_id,
        "score": score,
    }


VERTIGO = (
    "Vertigo is a 1958 film directed by Alfred Hitchcock. It was shot in London, "
    "the capital of England. It was released on 9 May 1958."
)
HITCHCOCK = "Alfred Hitchcock (1899–1980) was an English director. He was born in London."
ETNA = "Etna is a volcano in Sicily. It has an area of 1,190 km2 and is 3,357 m high."


def _corpus():
    documents = pl.DataFrame(
        {
            "doc_id": ["doc_vertigo", "doc_hitch", "doc_etna"],
            "text": [VERTIGO, HITCHCOCK, ETNA],
            "description": ["1958 film", "English film director (1899–1980)", None],
        }
    )
    sentences = {
        "doc_vertigo": VERTIGO.replace(". ", ".\n").split("\n"),
        "doc_hitch": HITCHCOCK.replace(". ", ".\n").split("\n"),
        "doc_etna": ETNA.replace(". ", ".\n").split("\n"),
    }
    texts = dict(documents.select("doc_id", "text").iter_rows())
    rows = [
        _mention("doc_vertigo", sentences["doc_vertigo"][0], VERTIGO, "Vertigo", "ent_vertigo"),
        _mention("doc_vertigo", sentences["doc_vertigo"][0], VERTIGO, "Alfred Hitchcock", "ent_h"),
        _mention("doc_vertigo", sentences["doc_vertigo"][1], VERTIGO, "London", "ent_london"),
        _mention("doc_vertigo", sentences["doc_vertigo"][1], VERTIGO, "England", "ent_england"),
        _mention("doc_hitch", sentences["doc_hitch"][0], HITCHCOCK, "Alfred Hitchcock", "ent_h"),
        _mention("doc_hitch", sentences["doc_hitch"][1], HITCHCOCK, "London", "ent_london", 0.6),
        _mention("doc_etna", sentences["doc_etna"][0], ETNA, "Etna", "ent_etna"),
        _mention("doc_etna", sentences["doc_etna"][0], ETNA, "Sicily", "ent_sicily"),
    ]
    for row in rows:
        assert texts[row["doc_id"]][row["start_char"] : row["end_char"]] == row["surface"]
    own = {"doc_vertigo": "ent_vertigo", "doc_hitch": "ent_h", "doc_etna": "ent_etna"}
    return documents, pl.DataFrame(rows), own


def _triples(relations):
    return {(x.subject_id, x.predicate, x.object_id or x.object_value) for x in relations}


def test_phrase_relations_read_the_connecting_phrase_and_resolve_pronouns_to_the_page():
    documents, mentions, own = _corpus()
    found = r.phrase_relations(documents, mentions, own)
    assert _triples(found) == {
        ("ent_vertigo", "directed by", "ent_h"),
        ("ent_vertigo", "shot in", "ent_london"),  # "It was shot in": the page's own entity
        ("ent_london", "capital of", "ent_england"),
        ("ent_h", "born in", "ent_london"),  # "He was born in London." on Hitchcock's page
        ("ent_etna", "volcano in", "ent_sicily"),
    }
    born = next(x for x in found if x.predicate == "born in")
    assert born.evidence == "He was born in London."
    assert born.confidence < next(x for x in found if x.predicate == "directed by").confidence
    assert {x.extractor for x in found} == {"phrase"}
    assert all(x.doc_id in x.parents for x in found)


def test_pattern_relations_read_life_spans_dates_and_quantities():
    documents, mentions, own = _corpus()
    types = {"ent_h": "person", "ent_vertigo": "work", "ent_etna": "place"}
    found = r.pattern_relations(documents, mentions, own, types)
    facts = {(x.subject_id, x.predicate): (x.object_type, x.object_value) for x in found}
    assert facts[("ent_h", "birth_year")] == (r.YEAR, "1899")
    assert facts[("ent_h", "death_year")] == (r.YEAR, "1980")
    assert facts[("ent_vertigo", "released on")] == (r.DATE, "1958-05-09")
    assert facts[("ent_etna", "area")] == (r.QUANTITY, "1190 sq km")
    assert facts[("ent_etna", "height")] == (r.QUANTITY, "3357 m")
    area = next(x for x in found if x.predicate == "area")
    assert (area.number, area.unit) == (1190.0, "sq km")
    # A film's span would be start/end, never a birth year.
    assert not any(x.subject_id == "ent_vertigo" and "birth" in x.predicate for x in found)


def test_page_mention_relations_link_a_page_to_every_entity_it_mentions_once():
    documents, mentions, own = _corpus()
    found = r.page_mention_relations(documents, mentions, own)
    assert _triples(found) == {
        ("ent_vertigo", "mentions", "ent_h"),
        ("ent_vertigo", "mentions", "ent_london"),
        ("ent_vertigo", "mentions", "ent_england"),
        ("ent_h", "mentions", "ent_london"),
        ("ent_etna", "mentions", "ent_sicily"),
    }
    weak = next(x for x in found if x.subject_id == "ent_h")
    assert weak.confidence == pytest.approx(r.PAGE_MENTION_CONFIDENCE * 0.6)


def _entity(entity_id, name, entity_type, aliases=(), factbook_code=None):
    row = dict.fromkeys(ENTITY_ROW_SCHEMA)
    row.update(
        entity_id=entity_id,
        name=name,
        aliases=[name, *aliases],
        entity_type=entity_type,
        factbook_code=factbook_code,
        parent_ids=[],
    )
    return row


def test_factbook_relations_on_the_parsed_french_entry():
    countries, _ = load_countries()
    france = next(c for c in countries if c.code == "fr")
    entities = pl.DataFrame(
        [
            _entity("ent_fr", "France", "country", factbook_code="fr"),
            _entity("ent_es", "Spain", "country", factbook_code="sp"),
            _entity("ent_be", "Belgium", "country", factbook_code="be"),
            _entity("ent_paris", "Paris", "place"),
            _entity("ent_paris_tx", "Paris, Texas", "place", ["Paris"]),
            _entity("ent_paris_film", "Paris (film)", "work", ["Paris"]),
            _entity("ent_french", "French language", "language", ["French"]),
        ],
        schema=ENTITY_ROW_SCHEMA,
    )
    found = r.factbook_relations(entities, [france], "factbook-test")
    by_predicate: dict[str, list[r.Relation]] = {}
    for relation in found:
        by_predicate.setdefault(relation.predicate, []).append(relation)
    assert [x.object_id for x in by_predicate["capital"]] == [None]  # "Paris" is ambiguous
    borders = {x.object_value: x for x in by_predicate["borders"]}
    assert borders["Spain"].object_id == "ent_es"
    assert borders["Belgium"].object_id == "ent_be"
    assert (borders["Spain"].unit, borders["Spain"].number > 600) == ("km", True)
    assert borders["Andorra"].object_id is None  # unknown here, kept as a value
    official = by_predicate["official_language"]
    assert [(x.object_id, x.object_value) for x in official] == [("ent_french", "French language")]
    population = by_predicate["population"][0]
    assert (population.object_type, population.number > 60e6) == (r.QUANTITY, True)
    assert by_predicate["area"][0].unit == "sq km"
    assert {x.extractor for x in found} == {"factbook"}
    assert {x.extractor_version for x in found} == {"factbook-test"}
    assert all(x.confidence == 1.0 and x.evidence.startswith("France, Factbook") for x in found)


def test_entity_resolver_prefers_the_only_candidate_of_a_preferred_type():
    entities = pl.DataFrame(
        [
            _entity("ent_georgia", "Georgia (country)", "country", ["Georgia"]),
            _entity("ent_georgia_us", "Georgia (U.S. state)", "place", ["Georgia"]),
        ],
        schema=ENTITY_ROW_SCHEMA,
    )
    resolver = r.EntityResolver(entities)
    assert resolver.resolve("Georgia") is None
    assert resolver.resolve("Georgia", (r.COUNTRY,)) == ("ent_georgia", "Georgia (country)")
    assert resolver.resolve("Atlantis") is None


def test_factbook_borders_without_a_length_keep_a_null_number():
    country = Country(
        code="xx",
        name="Xland",
        long_name=None,
        local_names=(),
        other_names=(),
        capitals=(),
        borders=(Border("Yland", None),),
        border_total_km=None,
        languages=(Language("Xish", official=False, share_percent=40.0),),
        population=None,
        population_date=None,
        population_year=None,
        area_total_sq_km=None,
        background=None,
        government_type=None,
        independence=None,
        region="Nowhere",
    )
    entities = pl.DataFrame([_entity("ent_x", "Xland", "country", factbook_code="xx")])
    found = r.factbook_relations(entities.cast(ENTITY_ROW_SCHEMA), [country], "v")
    assert [(x.predicate, x.object_value, x.number, x.unit) for x in found] == [
        ("borders", "Yland", None, None),
        ("language", "Xish", 40.0, "%"),
    ]


def test_relation_rows_dedupe_the_same_fact_from_one_sentence_and_keep_two_sentences():
    documents, mentions, own = _corpus()
    found = r.phrase_relations(documents, mentions, own)
    twice = found + found
    frame = r.relation_rows(twice)
    assert frame.height == len(found)
    assert frame.get_column("relation_id").is_unique().all()
    assert frame.schema == pl.Schema(r.RELATION_ROW_SCHEMA)
    elsewhere = r.Relation(**{**_as_dict(found[0]), "sentence_id": "other:0"})
    assert r.relation_rows([found[0], elsewhere]).height == 2
    assert r.relation_rows(found).equals(r.relation_rows(list(reversed(found))))


def _as_dict(relation):
    return {name: getattr(relation, name) for name in relation.__slots__}


def test_own_entity_by_doc():
    entities = pl.DataFrame(
        [{"entity_id": "ent_a", "doc_id": "doc_a"}, {"entity_id": "ent_b", "doc_id": None}]
    )
    assert r.own_entity_by_doc(entities) == {"doc_a": "ent_a"}


def test_factbook_facts_cite_the_sentence_of_the_country_profile_that_states_them():
    countries, _ = load_countries()
    france = next(c for c in countries if c.code == "fr")
    profile = factbook.country_documents([france])[0]
    documents = pl.DataFrame(
        {"doc_id": ["doc_fb_fr"], "url": [profile["url"]], "text": [profile["text"]]}
    )
    entities = pl.DataFrame(
        [_entity("ent_fr", "France", "country", factbook_code="fr")], schema=ENTITY_ROW_SCHEMA
    )
    found = r.factbook_relations(entities, [france], "v", documents)
    cited = {x.predicate: x for x in found}
    assert cited["capital"].evidence == "The capital of France is Paris."
    assert cited["population"].evidence.startswith("The population of France is ")
    assert cited["borders"].evidence.startswith("France borders Andorra")
    for relation in found:
        assert relation.doc_id == "doc_fb_fr"
        assert "doc_fb_fr" in relation.parents
        if relation.sentence_id is not None:
            start = int(profile["text"].index(relation.evidence))
            assert relation.sentence_id == sentence_id("doc_fb_fr", start)
    assert "language" not in cited  # France lists only its official language


def test_a_capital_never_resolves_to_a_country_of_the_same_name():
    entities = pl.DataFrame(
        [
            _entity("ent_lu", "Luxembourg", "country", factbook_code="lu"),
            _entity("ent_ec", "Ecuador", "country", ["Quito"], factbook_code="ec"),
        ],
        schema=ENTITY_ROW_SCHEMA,
    )
    resolver = r.EntityResolver(entities)
    assert resolver.resolve("Quito", (r.PLACE,)) == ("ent_ec", "Ecuador")
    assert resolver.resolve("Quito", (r.PLACE,), exclude=(r.COUNTRY,)) is None
    countries, _ = load_countries()
    luxembourg = [c for c in countries if c.code in ("lu", "ec")]
    capitals = [
        x for x in r.factbook_relations(entities, luxembourg, "v") if x.predicate == "capital"
    ]
    assert [(x.object_value, x.object_id) for x in capitals] == [
        ("Quito", None),
        ("Luxembourg", None),
    ]


def test_a_rulers_description_dates_the_reign_not_the_life():
    text = "Alfred the Great (848/849 – 26 October 899) was King of the West Saxons."
    documents = pl.DataFrame(
        {"doc_id": ["doc_alfred"], "text": [text], "description": ["King of Wessex (871–886)"]}
    )
    mentions = pl.DataFrame(schema=_corpus()[1].schema)
    found = r.pattern_relations(
        documents, mentions, {"doc_alfred": "ent_alfred"}, {"ent_alfred": "person"}
    )
    assert not [x for x in found if x.object_value in ("871", "886")]


def test_a_former_state_never_resolves_and_a_span_in_a_things_text_is_not_its_life():
    entities = pl.DataFrame(
        [
            {**_entity("ent_mk_old", "Macedonia (ancient kingdom)", "country", ["Macedonia"]),
             "description": "Ancient Greek kingdom (808–168 BC)"},
            {**_entity("ent_mk", "North Macedonia", "country", ["Macedonia"]),
             "description": "Country in Southeast Europe"},
        ],
        schema=ENTITY_ROW_SCHEMA,
    )  # fmt: skip
    assert r.EntityResolver(entities).resolve("Macedonia") == ("ent_mk", "North Macedonia")
    text = "The Fahrenheit scale is named after Daniel Gabriel Fahrenheit (1686–1736), a physicist."
    documents = pl.DataFrame({"doc_id": ["doc_f"], "text": [text], "description": ["Scale"]})
    mentions = pl.DataFrame(schema=_corpus()[1].schema)
    found = r.pattern_relations(documents, mentions, {"doc_f": "ent_f"}, {"ent_f": "concept"})
    assert found == []
