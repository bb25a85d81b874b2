"""A tiny hand-built knowledge graph with known answers, shared by the synthesis tests."""

import polars as pl

from lakehouse.synthesis.graph import KnowledgeGraph

COUNTRIES = {
    # id: (name, capital id, capital name, population, area in sq km)
    "fr": ("France", "paris", "Paris", 68_000_000, 643_801),
    "es": ("Spain", "madrid", "Madrid", 47_000_000, 505_370),
    "be": ("Belgium", "brussels", "Brussels", 11_700_000, 30_528),
    "de": ("Germany", "berlin", "Berlin", 84_000_000, 357_022),
    "it": ("Italy", "rome", "Rome", 59_000_000, 301_340),
    "pt": ("Portugal", "lisbon", "Lisbon", 10_400_000, 92_090),
}
BORDERS = {
    "fr": ["es", "be", "de", "it"],
    "es": ["fr", "pt"],
    "be": ["fr", "de"],
    "de": ["fr", "be"],
    "it": ["fr"],
    "pt": ["es"],
}
PEOPLE = {"ada": ("Ada Lovelace", 1815, 1852), "alan": ("Alan Turing", 1912, 1954)}


def entity_rows() -> pl.DataFrame:
    rows = []
    for code, (name, capital, capital_name, _pop, _area) in COUNTRIES.items():
        rows.append((code, name, "Country in Europe", "country", f"doc_{code}", [name], code))
        rows.append((capital, capital_name, f"Capital of {name}", "place", None, [], None))
    for key, (name, _born, _died) in PEOPLE.items():
        rows.append((key, name, "English mathematician", "person", f"doc_{key}", [name], None))
    rows.append(("london", "London", "Capital of England", "place", None, [], None))
    rows.append(("world", "World", "The world", "place", None, [], "xx"))
    return pl.DataFrame(
        rows,
        schema=[
            "entity_id",
            "name",
            "description",
            "entity_type",
            "doc_id",
            "aliases",
            "factbook_code",
        ],
        orient="row",
    )


def _relation(rel_id, subject, predicate, obj=None, value=None, number=None, **extra):
    return {
        "relation_id": rel_id,
        "subject_id": subject,
        "predicate": predicate,
        "object_id": obj,
        "object_type": extra.get("object_type", "entity" if value is None else "quantity"),
        "object_value": value if value is not None else obj,
        "number": number,
        "unit": extra.get("unit"),
        "confidence": extra.get("confidence", 1.0),
        "extractor": extra.get("extractor", "factbook"),
        "doc_id": extra.get("doc_id", f"doc_{subject}"),
        "sentence_id": extra.get("sentence_id"),
    }


def relation_rows() -> pl.DataFrame:
    rows = []
    for code, (_name, capital, _cap, population, area) in COUNTRIES.items():
        rows.append(_relation(f"rel_cap_{code}", code, "capital", capital))
        rows.append(
            _relation(
                f"rel_pop_{code}",
                code,
                "population",
                value=f"{population} people",
                number=population,
                unit="people",
            )
        )
        rows.append(
            _relation(
                f"rel_area_{code}", code, "area", value=f"{area} sq km", number=area, unit="sq km"
            )
        )
        for neighbour in BORDERS[code]:
            rows.append(_relation(f"rel_bor_{code}_{neighbour}", code, "borders", neighbour))
    for key, (_name, born, died) in PEOPLE.items():
        for predicate, year in (("birth_year", born), ("death_year", died)):
            rows.append(
                _relation(
                    f"rel_{predicate}_{key}",
                    key,
                    predicate,
                    value=str(year),
                    number=year,
                    object_type="year",
                    extractor="pattern",
                )
            )
    rows.append(
        _relation(
            "rel_alan_london", "alan", "born in", "london", extractor="phrase", confidence=0.7
        )
    )
    rows.append(
        _relation(
            "rel_alan_mentions_ada",
            "alan",
            "mentions",
            "ada",
            extractor="page_mention",
            confidence=0.5,
        )
    )
    rows.append(
        _relation(
            "rel_ada_mentions_fr", "ada", "mentions", "fr", extractor="page_mention", confidence=0.5
        )
    )
    return pl.DataFrame(rows)


def europe() -> KnowledgeGraph:
    entities = entity_rows().with_columns(url=pl.lit(None, pl.String))
    return KnowledgeGraph.from_tables(entities, relation_rows())
