import pytest

from lakehouse.knowledge.aliases import normalize_alias
from lakehouse.knowledge.match_text import match_key, match_text, pattern_for


@pytest.mark.parametrize(
    "alias",
    [
        "Côte d'Ivoire",
        "U.S. Army",
        "Procter & Gamble",
        "Jürgen Habermas",
        "Straße",
        "Pi 3.14 value",
        "Hewlett-Packard",
        "Łódź",
        "  spaced   out  ",
    ],
)
def test_key_of_a_text_is_the_alias_key_between_spaces(alias):
    assert match_text(alias).key == pattern_for(normalize_alias(alias))


def test_a_key_span_maps_back_to_the_exact_text():
    text = "In Côte d'Ivoire, the U.S. envoy met Procter & Gamble."
    keyed = match_text(text)
    for surface in ("Côte d'Ivoire", "U.S", "Procter & Gamble"):
        key = pattern_for(normalize_alias(surface))
        start = keyed.key.index(key) + 1
        span = keyed.span(start, start + len(key) - 2)
        assert text[span[0] : span[1]] == surface


def test_multi_character_folds_keep_their_source_offset():
    keyed = match_text("Die Straße")
    start = keyed.key.index("strasse")
    assert keyed.span(start, start + len("strasse")) == (4, 10)


def test_a_possessive_is_split_off_and_aliases_with_one_still_match_themselves():
    assert match_text("Mexico's envoy").key == " mexico s envoy "
    assert match_text("the Mexicos").key == " the mexicos "
    assert match_key("McDonald's") in match_text("A McDonald's opened.").key
