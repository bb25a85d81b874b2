import pytest

from lakehouse.knowledge.aliases import (
    anchor_alias,
    fold_accents,
    is_generic_alias,
    normalize_alias,
    safe_comma_head,
    title_aliases,
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Côte d'Ivoire", "cote divoire"),
        ("  The   BEATLES ", "the beatles"),
        ("U.S.", "us"),
        ("Guinea-Bissau", "guinea bissau"),
        ("Trinidad & Tobago", "trinidad and tobago"),
        ("Łódź", "lodz"),
        ("Straße", "strasse"),
        ("Mercury (planet)", "mercury planet"),
        ("Pi 3.14", "pi 3.14"),
        ("Sao Tome’s", "sao tomes"),
    ],
)
def test_normalize_alias_folds_case_accents_and_punctuation(text, key):
    assert normalize_alias(text) == key


def test_fold_accents_keeps_case_and_punctuation():
    assert fold_accents("Jürgen Habermas, Ørsted") == "Jurgen Habermas, Orsted"


@pytest.mark.parametrize(
    ("title", "aliases"),
    [
        ("Mercury (planet)", ["Mercury (planet)", "Mercury"]),
        ("The Beatles", ["The Beatles", "Beatles"]),
        ("Jürgen Habermas", ["Jürgen Habermas", "Jurgen Habermas"]),
        ("Paris, Texas", ["Paris, Texas"]),
        ("Kansas City, Missouri", ["Kansas City, Missouri", "Kansas City"]),
        (
            "Arthur Wellesley, 1st Duke of Wellington",
            ["Arthur Wellesley, 1st Duke of Wellington", "Arthur Wellesley"],
        ),
        (
            "São Tomé (city)",
            ["São Tomé (city)", "São Tomé", "Sao Tome (city)", "Sao Tome"],
        ),
        ("Paris", ["Paris"]),
        ("  ", []),
    ],
)
def test_title_aliases(title, aliases):
    assert title_aliases(title) == aliases


@pytest.mark.parametrize(
    "title",
    [
        "Paris, Texas",  # one-word head: the bare city name belongs to Paris, France
        "Washington, D.C.",
        "Mary, Queen of Scots",
        "International Covenant on Economic, Social and Cultural Rights",  # enumeration
        "University of California, Berkeley",  # lower-case "of": the head names another thing
        "Crosby, Stills, Nash & Young",  # several commas
        "Sweeney Todd, the Demon Barber",  # lower-case tail
    ],
)
def test_unsafe_comma_heads_are_not_aliases(title):
    assert safe_comma_head(title) is None


def test_a_head_with_name_particles_is_safe():
    assert (
        safe_comma_head("Sebastião José de Carvalho e Melo, 1st Marquis of Pombal")
        == "Sebastião José de Carvalho e Melo"
    )


@pytest.mark.parametrize(
    ("alias", "generic"),
    [
        ("US", True),  # two characters
        ("X", True),
        ("1984", True),  # only digits
        ("The", True),  # function word
        ("click", True),
        ("Paris", False),
        ("Water", False),  # a content noun is a real entity name
        ("Beatles", False),
    ],
)
def test_is_generic_alias(alias, generic):
    assert is_generic_alias(alias) is generic


@pytest.mark.parametrize(
    ("text", "alias"),
    [
        ("Ada  Lovelace", "Ada Lovelace"),
        ("here", None),
        ("Click here", None),
        ("link", None),
        ("[1]", None),
        ("https://example.org/page", None),
        ("", None),
        (None, None),
        (" ".join(["word"] * 13), None),  # a sentence, not a name
    ],
)
def test_anchor_alias_drops_navigation_and_noise(text, alias):
    assert anchor_alias(text) == alias


@pytest.mark.parametrize(
    ("title", "aliases"),
    [
        (
            "os.path — Common pathname manipulations¶",
            ["os.path — Common pathname manipulations", "os.path"],
        ),
        ("3.2. Built-in Types¶", ["3.2. Built-in Types", "Built-in Types"]),
        ("Mercury (planet)", ["Mercury (planet)", "Mercury"]),
    ],
)
def test_documentation_titles_give_their_bare_names(title, aliases):
    assert title_aliases(title) == aliases
