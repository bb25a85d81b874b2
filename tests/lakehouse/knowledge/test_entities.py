import polars as pl
import pytest

from lakehouse.ids import stable_id
from lakehouse.knowledge.entities import (
    ENTITY_ROW_SCHEMA,
    build_entities,
    entity_type_for,
    head_noun,
    is_former_state,
    opening_names,
    snapshot_links,
)
from lakehouse.knowledge.factbook import Country
from lakehouse.tables import ENTITIES

WIKI = "https://en.wikipedia.org/wiki/"
FRANCE_FACTBOOK = "https://www.cia.gov/the-world-factbook/countries/france/"
WAKE_FACTBOOK = "https://www.cia.gov/the-world-factbook/countries/wake-island/"


def _doc(doc_id, url, title, description=None, topic=None, text="Some text."):
    return {
        "doc_id": doc_id,
        "url": url,
        "title": title,
        "text": text,
        "description": description,
        "topic": topic,
    }


DOCUMENTS = pl.DataFrame(
    [
        _doc(
            "doc_fr",
            WIKI + "France",
            "France",
            "Country in Western Europe",
            "Geography",
            "France, officially the French Republic, is a country in Western Europe.",
        ),
        _doc("doc_paris", WIKI + "Paris", "Paris", "Capital of France", "Geography"),
        _doc("doc_paris2", WIKI + "Paris", "Paris", "Capital of France", "Geography", "Newer."),
        _doc("doc_myth", WIKI + "Paris_(mythology)", "Paris", "Trojan prince", "People"),
        _doc(
            "doc_merc", WIKI + "Mercury_(planet)", "Mercury (planet)", "Planet", "Physical sciences"
        ),
        _doc("doc_ada", WIKI + "Ada_Lovelace", "Ada Lovelace", "English mathematician (1815–1852)"),
        _doc("doc_kof", WIKI + "Kingdom_of_France", "Kingdom of France", "Country in Europe"),
        _doc("doc_fbfr", FRANCE_FACTBOOK, "France", "Country profile", "Geography"),
    ]
)
LINKS = pl.DataFrame(
    {
        "source_snapshot_id": [
            "snap_1",
            "snap_2",
            "snap_3",
            "snap_4",
            "snap_5",
            "snap_6",
            "snap_7",
        ],
        "url": [
            WIKI + "Ada_Lovelace",
            WIKI + "Ada_Lovelace#Early_life",
            WIKI + "Ada_Lovelace",
            WIKI + "Mercury_%28planet%29",
            "https://EN.wikipedia.org/wiki/France",
            WAKE_FACTBOOK,
            WIKI + "Nowhere",
        ],
        "text": [
            "Countess of Lovelace",
            "Ada",
            "click here",
            "the planet Mercury",
            "French Republic",
            "Wake",
            "a page we do not have",
        ],
    }
)


def _country(code: str, name: str, **fields) -> Country:
    defaults = {
        "long_name": None,
        "local_names": (),
        "other_names": (),
        "capitals": (),
        "borders": (),
        "border_total_km": None,
        "languages": (),
        "population": None,
        "population_date": None,
        "population_year": None,
        "area_total_sq_km": None,
        "background": None,
        "government_type": None,
        "independence": None,
        "region": "Europe",
    }
    return Country(code=code, name=name, **{**defaults, **fields})


COUNTRIES = [
    _country(
        "fr",
        "France",
        long_name="French Republic",
        local_names=("République française",),
        other_names=("Kingdom of France",),  # a page of its own: not an alias of France
        capitals=("Paris",),
    ),
    _country("wq", "Wake Island", region="Australia and Oceania", government_type="none; note"),
]


@pytest.fixture(scope="module")
def entities() -> pl.DataFrame:
    return build_entities(DOCUMENTS, LINKS, COUNTRIES)


def _row(entities: pl.DataFrame, url: str) -> dict:
    [row] = entities.filter(pl.col("url") == url).to_dicts()
    return row


def test_the_frame_has_the_entities_columns_plus_parent_ids(entities):
    assert entities.schema == pl.Schema(ENTITY_ROW_SCHEMA)
    assert list(entities.columns) == [*ENTITIES.columns, "parent_ids"]


def test_one_entity_per_url_with_ids_from_the_canonical_url(entities):
    # 8 documents: Paris twice at one URL, the France Factbook page joins France; + Wake Island.
    assert entities.height == 7
    assert entities["entity_id"].is_unique().all()
    assert entities["entity_id"].to_list() == sorted(entities["entity_id"].to_list())
    for url, entity_id in entities.select("url", "entity_id").iter_rows():
        assert entity_id == stable_id("ent", url)


def test_documents_sharing_a_url_are_one_entity_with_both_parents(entities):
    paris = _row(entities, WIKI + "Paris")
    assert paris["doc_id"] == "doc_paris"  # the smallest doc id is canonical
    assert paris["parent_ids"] == ["doc_paris", "doc_paris2"]
    assert paris["entity_type"] == "place"


def test_duplicated_titles_at_different_urls_stay_apart(entities):
    named_paris = entities.filter(pl.col("name") == "Paris")
    assert named_paris.height == 2
    assert _row(entities, WIKI + "Paris_(mythology)")["entity_type"] == "person"


def test_anchor_texts_become_aliases_and_their_sources_parents(entities):
    ada = _row(entities, WIKI + "Ada_Lovelace")
    assert ada["aliases"] == ["Ada Lovelace", "Ada", "Countess of Lovelace"]
    assert ada["parent_ids"] == ["doc_ada", "snap_1", "snap_2"]  # "click here" is no alias
    assert ada["entity_type"] == "person"
    mercury = _row(entities, WIKI + "Mercury_(planet)")
    assert mercury["aliases"] == ["Mercury (planet)", "Mercury", "the planet Mercury"]


def test_min_anchor_count_sums_spellings_of_one_url_and_keeps_generic_aliases():
    links = pl.DataFrame(
        {
            "source_snapshot_id": ["s1", "s2", "s3", "s4"],
            "url": [
                WIKI + "Mercury_(planet)",
                WIKI + "Mercury_%28planet%29",
                WIKI + "Mercury_(planet)",
                WIKI + "Mercury_(planet)",
            ],
            "text": ["Me", "Me", "Hermes' planet", "Hermes'  planet"],
        }
    )
    built = build_entities(DOCUMENTS, links, [], min_anchor_count=2)
    mercury = _row(built, WIKI + "Mercury_(planet)")
    # "Me" is generic (two letters) yet kept: `is_generic_alias` flags it for the matcher.
    assert mercury["aliases"] == ["Mercury (planet)", "Mercury", "Hermes' planet", "Me"]
    assert mercury["parent_ids"] == ["doc_merc", "s1", "s2", "s3", "s4"]
    assert build_entities(DOCUMENTS, links, [], min_anchor_count=3).filter(
        pl.col("url") == WIKI + "Mercury_(planet)"
    )["aliases"].to_list() == [["Mercury (planet)", "Mercury"]]


def test_a_factbook_country_merges_into_its_page(entities):
    france = _row(entities, WIKI + "France")
    assert france["source"] == "page+factbook"
    assert france["factbook_code"] == "fr"
    assert france["entity_type"] == "country"
    assert france["doc_id"] == "doc_fr"
    assert france["aliases"] == [
        "France",
        "French Republic",  # an anchor with the same key adds nothing new
        "République française",
        "Republique francaise",
    ]
    assert france["parent_ids"] == ["doc_fbfr", "doc_fr", "snap_5"]
    assert entities.filter(pl.col("url") == FRANCE_FACTBOOK).height == 0


def test_an_unmatched_country_is_a_factbook_only_entity(entities):
    wake = _row(entities, WAKE_FACTBOOK)
    assert wake["entity_id"] == stable_id("ent", WAKE_FACTBOOK)
    assert wake["source"] == "factbook"
    assert wake["doc_id"] is None
    assert wake["name"] == "Wake Island"
    assert wake["entity_type"] == "country"
    assert wake["aliases"] == ["Wake Island", "Wake"]
    assert wake["parent_ids"] == ["snap_6"]
    assert wake["description"] == "none"


def test_the_build_is_deterministic_whatever_the_row_order(entities):
    shuffled = build_entities(DOCUMENTS.reverse(), LINKS.reverse(), list(reversed(COUNTRIES)))
    assert shuffled.equals(entities)


def test_no_links_and_no_countries():
    built = build_entities(DOCUMENTS, None, [])
    assert built.height == 7  # the Factbook page is a page like any other without countries
    assert set(built["source"]) == {"page"}
    assert built["factbook_code"].null_count() == built.height


def test_countries_match_by_title_variant_and_by_opening_names():
    documents = pl.DataFrame(
        [
            _doc("d1", WIKI + "Georgia_(country)", "Georgia (country)", "Country in Asia"),
            _doc("d2", WIKI + "Georgia_(U.S._state)", "Georgia (U.S. state)", "U.S. state"),
            _doc("d3", WIKI + "Ireland", "Ireland", "Island in the North Atlantic Ocean"),
            _doc(
                "d4",
                WIKI + "Republic_of_Ireland",
                "Republic of Ireland",
                "Country in Northwestern Europe",
                text="Ireland, also known as the Republic of Ireland, is a country.",
            ),
        ]
    )
    countries = [_country("gg", "Georgia"), _country("ei", "Ireland")]
    built = build_entities(documents, None, countries)
    merged = dict(
        built.filter(pl.col("factbook_code").is_not_null())
        .select("factbook_code", "name")
        .iter_rows()
    )
    assert merged == {"gg": "Georgia (country)", "ei": "Republic of Ireland"}


def test_snapshot_links_explodes_the_links_column():
    snapshots = pl.DataFrame(
        {
            "snapshot_id": ["snap_a", "snap_b"],
            "links": [[{"url": WIKI + "Paris", "text": "Paris"}], []],
        }
    )
    assert snapshot_links(snapshots).rows() == [("snap_a", WIKI + "Paris", "Paris")]


def test_links_without_the_needed_columns_are_an_error():
    with pytest.raises(ValueError, match="missing"):
        build_entities(DOCUMENTS, pl.DataFrame({"url": [WIKI + "Paris"]}), [])


@pytest.mark.parametrize(
    ("description", "topic", "entity_type"),
    [
        ("Country in West Asia", "Geography", "country"),
        ("Microstate in Southern Europe", "Geography", "country"),
        ("Russian composer (1840–1893)", "People", "person"),
        ("River in Central Africa", "Geography", "place"),
        ("Bell tower in Pisa, Italy", "Arts", "place"),
        ("1857 novel by Gustave Flaubert", "Arts", "work"),
        ("Public research university in Zurich", None, "organization"),
        ("English rock band (1960–1970)", "People", "organization"),
        ("1346–1353 pandemic in Eurasia", "History", "event"),
        ("Family of birds", "Biology and health sciences", "organism"),
        ("Family of languages", "Society and social sciences", None),
        ("Indo-European language", None, "language"),
        ("General-purpose programming language", "Technology", "concept"),
        ("Chemical element with symbol Fe", "Physical sciences", "substance"),
        ("Study of rates of change", "Mathematics", "concept"),
        ("Type of vector space in math", "Mathematics", "concept"),  # topic fallback
        ("Maghrebi traveller (1304–1368)", "People", "person"),  # topic fallback
        ("Round object", "Everyday life", None),
        (None, None, None),
    ],
)
def test_entity_type_rules(description, topic, entity_type):
    assert entity_type_for(description, topic) == entity_type


def test_head_noun_is_singular_and_stops_at_the_first_preposition():
    assert head_noun("Bell towers in Pisa, Italy") == "tower"
    assert head_noun("Species of flowering plant") == "species"
    assert head_noun("Capital and most populous city of Sweden") == "city"


def test_opening_names():
    text = (
        "Myanmar, officially the Republic of the Union of Myanmar and also referred to as "
        "Burma, is a country in northwest Southeast Asia."
    )
    assert opening_names(text) == ["Myanmar", "Republic of the Union of Myanmar", "Burma"]


@pytest.mark.parametrize(
    ("description", "former"),
    [
        ("Country in the Horn of Africa (1270–1974)", True),
        ("Country in Eurasia (1922-1991)", True),
        ("Ancient Greek kingdom (808–168 BC)", True),
        ("State (27 BC–AD 476)", False),  # "AD" before the year: left to the other tiers
        ("Country in East Africa", False),
        (None, False),
    ],
)
def test_is_former_state(description, former):
    assert is_former_state(description) is former
