import pytest

from lakehouse.synthesis.obfuscate import (
    ABOUT,
    Band,
    approximate,
    article,
    date_phrases,
    name_prefixes,
    number_words,
    quantity_phrase,
    usable_description,
    year_range,
)


@pytest.mark.parametrize(
    ("year", "words", "low", "high"),
    [
        (1961, "the early 1960s", 1960, 1964),
        (1963, "the early 1960s", 1960, 1964),
        (1965, "the mid-1960s", 1963, 1967),
        (1968, "the late 1960s", 1966, 1969),
        (1970, "the early 1970s", 1970, 1974),
        (1512, "the early 1500s", 1500, 1545),
        (1550, "the mid-1500s", 1525, 1575),
        (1799, "the late 1700s", 1755, 1799),
    ],
)
def test_year_range_words_and_generous_band(year, words, low, high):
    assert year_range(year) == Band(low, high, words)


def test_coarse_year_range_is_the_whole_decade_or_century():
    assert year_range(1968, coarse=True) == Band(1960, 1969, "the 1960s")
    assert year_range(1512, coarse=True) == Band(1500, 1599, "the 1500s")


def test_every_year_lies_in_its_band_and_its_words_core():
    for year in range(100, 2101):
        for coarse in (False, True):
            band = year_range(year, coarse=coarse)
            assert year in band, (year, coarse, band)
    # The exact year is in the *core* of the words: "late" only for 7-9.
    assert [year_range(1960 + d).words.split()[1] for d in range(10)] == [
        *["early"] * 4,
        *["mid-1960s"] * 3,
        *["late"] * 3,
    ]


def test_year_range_refuses_years_that_read_badly():
    assert year_range(42) is None
    assert year_range(2500) is None


@pytest.mark.parametrize(
    ("value", "words", "low", "high"),
    [
        (59_871_123, "about 60 million", 48e6, 72e6),
        (68_000_000, "about 70 million", 56e6, 84e6),
        (2_149_690, "about 2 million", 1.6e6, 2.4e6),
        (14, "about 14", 11.2, 16.8),  # one figure (10) would be 29% off
        (1_400_000_000, "about 1.4 billion", 1.12e9, 1.68e9),
        (643_801, "about 600,000", 480_000, 720_000),
    ],
)
def test_approximate_rounds_and_bands(value, words, low, high):
    band = approximate(value)
    assert band.words == words
    assert band.low == pytest.approx(low)
    assert band.high == pytest.approx(high)
    assert value in band


def test_approximate_keeps_every_value_well_inside_its_band():
    for value in [1, 7, 15, 99, 149, 151, 950, 1049, 12_345, 987_654, 3.3e7, 4.56e9]:
        band = approximate(value)
        shown = (band.low + band.high) / 2
        assert abs(shown - value) / value <= 0.10
        assert band.low < value < band.high
        assert band.high / shown == pytest.approx(1 + ABOUT)


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf")])
def test_there_is_no_about_zero(value):
    assert approximate(value) is None


def test_number_words():
    assert number_words(60e6) == "60 million"
    assert number_words(1.4e9) == "1.4 billion"
    assert number_words(550_000) == "550,000"
    assert number_words(0.5) == "0.5"


@pytest.mark.parametrize(
    ("name", "prefixes"),
    [
        ("France", ["Fr", "Fra"]),
        ("Chad", ["Ch"]),
        ("Iraq", ["Ir"]),
        ("Mali", ["Ma"]),
        ("Al", []),
        ("St. Lucia", ["St"]),  # "St." is not letters only
        ("3M", []),
    ],
)
def test_name_prefixes_show_at_most_half_of_the_name(name, prefixes):
    assert name_prefixes(name) == prefixes


@pytest.mark.parametrize(
    ("description", "name", "usable"),
    [
        ("presidential republic", "France", True),
        ("Capital and largest city of Tunisia", "Tunis", False),  # the name inside a word
        ("Capital and largest city of the Republic of Panama", "Panama City", False),
        ("Country in Europe", "France", True),
        (None, "France", False),
        ("   ", "France", False),
        ("French mathematician", "Évariste Galois", True),
    ],
)
def test_usable_description(description, name, usable):
    assert usable_description(description, name) is usable


def test_article():
    assert article("country") == "a"
    assert article("organism") == "an"
    assert article("entity") == "an"


def test_date_and_quantity_phrases():
    late = Band(1966, 1969, "the late 1960s")
    assert date_phrases("birth_year", late) == (
        "was born in the late 1960s",
        "born in the late 1960s",
    )
    assert date_phrases("death_year", late) == (
        "died in the late 1960s",
        "who died in the late 1960s",
    )
    assert date_phrases("founded in", late) == (
        "was founded in the late 1960s",
        "founded in the late 1960s",
    )
    assert date_phrases("elected in", late) is None  # no wording: never obfuscated
    about = Band(440_000, 660_000, "about 550,000")
    assert quantity_phrase("area", about, "sq km") == "an area of about 550,000 square kilometres"
    assert quantity_phrase("population", about, "people") == "a population of about 550,000"
    assert quantity_phrase("population", about, None) == "a population of about 550,000"
    assert quantity_phrase("area", about, "furlongs") is None
    assert quantity_phrase("gdp", about, None) is None
