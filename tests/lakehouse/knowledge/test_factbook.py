import json
import re
from pathlib import Path

import pytest

from lakehouse.knowledge import factbook
from lakehouse.knowledge.factbook import (
    Border,
    Language,
    clean_text,
    country_documents,
    load_countries,
    parse_area_sq_km,
    parse_borders,
    parse_capitals,
    parse_languages,
    parse_length_km,
    parse_name_list,
    parse_population,
)

# ---- field parsers, on values copied from the package's files


def test_clean_text_decodes_entities_and_keeps_paragraphs():
    raw = "Bras&iacute;lia<br><br><strong>note:</strong>\xa0two&nbsp; spaces"
    assert clean_text(raw) == "Brasília\nnote: two spaces"
    assert clean_text("  ") is None
    assert clean_text(None) is None


@pytest.mark.parametrize(
    ("text", "capitals"),
    [
        ("Kabul", ["Kabul"]),
        ("Washington, D.C.", ["Washington, D.C."]),
        (
            "Pretoria (administrative capital); Cape Town (legislative capital); Bloemfontein "
            "(judicial capital)",
            ["Pretoria", "Cape Town", "Bloemfontein"],
        ),
        ("Gitega (political capital), Bujumbura (commercial capital)", ["Gitega", "Bujumbura"]),
        ("Malabo; note - Malabo is on the island of Bioko", ["Malabo"]),
        ("Chisinau in Romanian (Kishinev in Russian)", ["Chisinau"]),
        (
            "Rangoon (aka Yangon); Nay Pyi Taw is the administrative capital",
            ["Rangoon", "Nay Pyi Taw"],
        ),
        ("Kyiv (Kiev is the transliteration from Russian)", ["Kyiv"]),
        ("no official capital; government offices in the Yaren District", []),
    ],
)
def test_parse_capitals(text, capitals):
    assert parse_capitals(text) == capitals


def test_a_capital_field_without_a_name_is_an_error():
    with pytest.raises(ValueError, match="no capital name"):
        parse_capitals("administered from London; often regarded as being on Diego Garcia")


@pytest.mark.parametrize(
    ("text", "borders"),
    [
        ("Afghanistan 2,670 km; Iran 921 km", [("Afghanistan", 2670.0), ("Iran", 921.0)]),
        (
            "Algeria 1,941 km; Mauritania 1,564 km; Spain (Ceuta) 8 km and Spain (Melilla) 10.5 km",
            [
                ("Algeria", 1941),
                ("Mauritania", 1564),
                ("Spain (Ceuta)", 8),
                ("Spain (Melilla)", 10.5),
            ],
        ),
        (
            "Democratic Republic of the Congo 2,646 km (of which 225 km is the boundary of "
            "discontiguous Cabinda Province); Namibia 1,427 km",
            [("Democratic Republic of the Congo", 2646), ("Namibia", 1427)],
        ),
        ("Algeria 41 km, Mauritania 1564 km", [("Algeria", 41), ("Mauritania", 1564)]),
        ("Namibia 1,544 km; Zambia 0.15 km", [("Namibia", 1544), ("Zambia", 0.15)]),
    ],
)
def test_parse_borders(text, borders):
    assert parse_borders(text) == [Border(name, float(length)) for name, length in borders]


def test_a_border_entry_with_an_unreadable_length_is_an_error():
    with pytest.raises(ValueError, match="cannot read border entry"):
        parse_borders("Spain about 12 miles")


@pytest.mark.parametrize(
    ("text", "value"),
    [("6,734 km", 6734.0), ("0 km", 0.0), ("4,347.15 km", 4347.15), ("2751 km", 2751.0)],
)
def test_parse_length_km(text, value):
    assert parse_length_km(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("652,230 sq km", 652230.0),
        ("1.284 million sq km", 1_284_000.0),
        ("643,801 sq km ; 551,500 sq km (metropolitan France)", 643801.0),
        ("443 sq km (Antigua 280 sq km; Barbuda 161 sq km)", 443.0),
    ],
)
def test_parse_area(text, value):
    assert parse_area_sq_km(text) == value


def test_an_area_without_a_figure_is_an_error():
    with pytest.raises(ValueError, match="no area"):
        parse_area_sq_km("Ile Amsterdam: total - 55 sq km")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19,000,000 (2024 est.)", (19_000_000, "2024 est.")),
        ("652,271 (July 2020 est.)", (652_271, "July 2020 est.")),
        ("1,739 (2021)", (1739, "2021")),
        ("uninhabited", (0, None)),
        ("no permanent inhabitants", (0, None)),
        (
            "(2020) approximately 18,195 on the Sovereign Base Areas of Akrotiri and Dhekelia",
            (18195, "2020"),
        ),
    ],
)
def test_parse_population(text, expected):
    assert parse_population(text) == expected


def test_a_population_without_a_figure_is_an_error():
    with pytest.raises(ValueError, match="no population figure"):
        parse_population("note: entry is only allowed through a Special Use Permit")


def test_parse_languages_drops_percentages_notes_and_generic_items():
    text = (
        "Afghan Persian or Dari (official, lingua franca) 77%, Pashto (official) 48%, "
        "Uzbeki 11%, other <1% (2020 est.)"
    )
    assert parse_languages(text) == [
        Language("Dari", True, 77.0, ("Afghan Persian",)),
        Language("Pashto", True, 48.0),
        Language("Uzbeki", False, 11.0),
    ]


@pytest.mark.parametrize(
    ("text", "names", "official"),
    [
        ("French (official) 100%, declining regional dialects", ["French"], ["French"]),
        (
            "Arabic (official); English and French widely understood by educated classes",
            ["Arabic", "English", "French"],
            ["Arabic"],
        ),
        (
            "Spanish (official) and Guarani (official) 46.3%, only Guarani 34%",
            ["Spanish", "Guarani"],
            ["Spanish", "Guarani"],
        ),
        (
            "Tamazight languages (Tamazight (official), Tachelhit, Tarifit), French",
            ["Tamazight languages", "French"],
            [],
        ),
        ("English only (official) 78.2%, Spanish 13.4%", ["English", "Spanish"], ["English"]),
        (
            "isiZulu or Zulu (official) 25.3%, Setswana or Tswana (official) 9.1%",
            ["Zulu", "Tswana"],
            ["Zulu", "Tswana"],
        ),
        (
            "Malay (Cocos dialect) 68.8%, English 22.3%; note - data represent",
            ["Malay", "English"],
            [],
        ),
        (
            "Azerbaijani 96.1%, other 1.4%; less than 1%: Russian, Avar",
            ["Azerbaijani", "Russian", "Avar"],
            [],
        ),
    ],
)
def test_parse_languages_on_real_entries(text, names, official):
    languages = parse_languages(text)
    assert [language.name for language in languages] == names
    assert [language.name for language in languages if language.official] == official


def test_languages_without_any_name_are_an_error():
    with pytest.raises(ValueError, match="no language names"):
        parse_languages("more than 120 languages and dialects")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Dahomey, People's Republic of Benin", ["Dahomey", "People's Republic of Benin"]),
        ("US or USA", ["US", "USA"]),
        ("DRC (or DROC)", ["DRC", "DROC"]),
        ("République du Tchad/Jumhuriyat Tshad", ["République du Tchad", "Jumhuriyat Tshad"]),
        (
            "Republic of Kenya (English)/ Jamhuri ya Kenya (Swahili)",
            ["Republic of Kenya", "Jamhuri ya Kenya"],
        ),
        (
            "Netherlands East Indies (Dutch East Indies), Netherlands New Guinea",
            ["Netherlands East Indies", "Dutch East Indies", "Netherlands New Guinea"],
        ),
        (
            "Estonian Soviet Socialist Republic (while occupied by the USSR)",
            ["Estonian Soviet Socialist Republic"],
        ),
        (
            "sometimes referred to as Ile de la Passion or Atoll Clipperton",
            ["Ile de la Passion", "Atoll Clipperton"],
        ),
        ("Hoorn Islands is the former name of the Futuna Islands", ["Hoorn Islands"]),
        ("none", []),
    ],
)
def test_parse_name_list(text, names):
    assert parse_name_list(text) == names


def test_former_names_keep_their_slashes():
    assert parse_name_list("Congo/Leopoldville, Zaire", ",;") == ["Congo/Leopoldville", "Zaire"]


# ---- one file, and the problems of a bad field


def _write_country(root: Path, code: str, tree: dict) -> None:
    (root / "europe").mkdir(parents=True, exist_ok=True)
    (root / "europe" / f"{code}.json").write_text(json.dumps(tree), encoding="utf-8")


def test_a_bad_field_becomes_none_and_a_problem_naming_country_and_field(tmp_path):
    _write_country(
        tmp_path,
        "zz",
        {
            "Introduction": {"Background": {"text": "A <em>small</em> land.<br>Second."}},
            "Government": {
                "Country name": {
                    "conventional short form": {"text": "Zedland"},
                    "conventional long form": {"text": "Republic of Zedland"},
                    "former": {"text": "Old Zedland"},
                },
                "Capital": {"name": {"text": "Zed City"}},
            },
            "Geography": {"Area": {"total ": {"text": "about twelve sq km"}}},
            "People and Society": {"Population": {"total": {"text": "1,234 (2024 est.)"}}},
        },
    )
    (tmp_path / "europe" / "yy.json").write_text("{not json", encoding="utf-8")
    countries, problems = load_countries(tmp_path)
    [zedland] = countries
    assert zedland.name == "Zedland"
    assert zedland.long_name == "Republic of Zedland"
    assert zedland.other_names == ("Old Zedland",)
    assert zedland.capitals == ("Zed City",)
    assert zedland.area_total_sq_km is None
    assert (zedland.population, zedland.population_year) == (1234, 2024)
    assert zedland.background == "A small land.\nSecond."
    assert zedland.region == "Europe"
    assert len(problems) == 2
    assert problems[0].startswith("yy: file: cannot read yy.json")
    assert problems[1].startswith("zz (Zedland): area_total_sq_km: no area in sq km")


# ---- the real package


@pytest.fixture(scope="module")
def real():
    countries, problems = load_countries()
    return {country.code: country for country in countries}, problems


def test_the_real_package_loads_every_file(real):
    countries, _problems = real
    assert len(countries) >= 250
    assert len({country.url for country in countries.values()}) == len(countries)


def test_real_facts(real):
    countries, _problems = real
    assert countries["fr"].name == "France"
    assert countries["fr"].capitals == ("Paris",)
    assert countries["us"].capitals == ("Washington, D.C.",)
    assert countries["sf"].capitals == ("Pretoria", "Cape Town", "Bloemfontein")
    germany = countries["gm"]
    assert Border("France", 418.0) in germany.borders
    assert germany.border_total_km == 3694.0
    india = countries["in"]
    assert isinstance(india.population, int)
    assert 1_000_000_000 < india.population < 2_000_000_000
    assert india.population_year is not None
    assert countries["af"].area_total_sq_km == 652230.0
    assert any(lang.name == "Dari" and lang.official for lang in countries["af"].languages)
    assert "Ivory Coast" in countries["iv"].other_names
    assert countries["bm"].capitals == ("Rangoon", "Nay Pyi Taw")
    assert countries["gm"].region == "Europe"


def test_real_parse_problems_are_few_and_name_country_and_field(real):
    countries, problems = real
    assert len(problems) <= 10
    fields = "name|capitals|borders|border_total_km|languages|population|area_total_sq_km"
    for problem in problems:
        assert re.match(rf"^[a-z]{{2}}( \(.+\))?: ({fields}): ", problem), problem
        assert problem[:2] in countries


def test_country_documents(real):
    countries, _problems = real
    [france] = country_documents([countries["fr"]])
    assert france["url"] == "https://www.cia.gov/the-world-factbook/countries/france/"
    assert france["title"] == "France"
    assert france["language"] == "en"
    assert france["text"].startswith(countries["fr"].background)
    assert "The capital of France is Paris." in france["text"]
    assert "Germany (418 km)" in france["text"]


def test_the_data_dir_comes_from_the_installed_package():
    assert (factbook.factbook_data_dir() / "europe" / "fr.json").is_file()
