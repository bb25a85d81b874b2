"""Answer scoring on hand-computed examples (the rules are in evaluation/scoring.py)."""

from decimal import Decimal

import pytest

from evaluation.scoring import (
    MAX_RELATIVE_ERROR,
    Quantity,
    alias_match,
    entity_coverage,
    entity_mention_coverage,
    exact_match,
    fold,
    gold_items,
    item_names,
    normalize_answer,
    parse_date,
    parse_number,
    same_date,
    same_number,
    set_scores,
    split_items,
    token_f1,
    verdict,
)

POPULATION = "68,374,591"
POPULATION_ALIASES = ["68374591", "68.4 million", "68374591 people"]  # literal_answer's
BORDERS = "Belgium; Germany; Italy; Spain"


# --- text


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  an   apple a day ", "apple day"),
        ("Saint-Étienne", "saint etienne"),
        ("ZÜRICH", "zurich"),
        ("ﬁnal ｃｕｐ", "final cup"),  # compatibility forms (a ligature, full-width letters)
        ("The U.S.A.", "usa"),
        ("O'Brien's", "obriens"),
        ("Trinidad & Tobago", "trinidad and tobago"),
        ("68,374,591", "68374591"),
        ("68.4 million.", "68.4 million"),
        ("1958-05-09", "1958 05 09"),
        ("1,2345", "1 2345"),  # not a thousands separator
        ("", ""),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_fold_drops_accents_and_case():
    assert fold("Ñandú ÅNGSTRÖM") == "nandu angstrom"


def test_exact_and_alias_match():
    assert exact_match("the Netherlands", "Netherlands")
    assert exact_match("68,374,591", "68374591")
    assert not exact_match("Paris, France", "Paris")
    assert alias_match("Kiev", "Kyiv", ["Kiev", "Kiyv"]) == "Kiev"
    assert alias_match("Kyiv", "Kyiv", ["Kiev"]) == "Kyiv"
    assert alias_match("Lviv", "Kyiv", ["Kiev"]) is None
    assert alias_match("Kyiv", "Kyiv", None) == "Kyiv"


@pytest.mark.parametrize(
    ("prediction", "references", "f1"),
    [
        # pred {eiffel, tower, in, paris}, gold {eiffel, tower}: P 2/4, R 2/2 → 2/3
        ("the Eiffel Tower in Paris", "Eiffel Tower", 2 / 3),
        # P 2/3, R 2/2 → 2·(2/3)·1 / (5/3) = 0.8
        ("New York City", "New York", 0.8),
        # shared tokens count with multiplicity: min(2, 1) = 1 → P 1/2, R 1 → 2/3
        ("Paris Paris", "Paris", 2 / 3),
        # P 1/2, R 1/3 → 2·(1/6) / (5/6) = 0.4
        ("Ada Byron", "Ada Lovelace King", 0.4),
        ("Kyiv", ["Kiev", "Kyiv"], 1.0),  # best over the references
        ("Lisbon", "Madrid", 0.0),
        ("the", "a", 1.0),  # both empty after normalization (SQuAD)
        ("", "Madrid", 0.0),
    ],
)
def test_token_f1(prediction, references, f1):
    assert token_f1(prediction, references) == pytest.approx(f1)


# --- numbers


def test_parse_number_reads_value_precision_and_unit():
    assert parse_number("68,374,591") == Quantity(value=68374591, step=1, unit="")
    assert parse_number("about 68.4 million people") == Quantity(68_400_000, 100_000, "")
    assert parse_number("640 sq km") == Quantity(640, 1, "km2")
    assert parse_number("640 square kilometres") == Quantity(640, 1, "km2")
    assert parse_number("4.22757e+06 people") == Quantity(4_227_570, 10, "")
    assert parse_number("12.5%") == Quantity(Decimal("12.5"), Decimal("0.1"), "%")
    assert parse_number("-3") == Quantity(-3, 1, "")
    assert parse_number("$1.2 trillion") == Quantity(1_200_000_000_000, 100_000_000_000, "$")
    assert parse_number("Paris") is None
    assert parse_number("about 68 million, maybe 70 million") is None
    assert parse_number("1,2345") is None


@pytest.mark.parametrize(
    ("prediction", "reference", "same"),
    [
        ("68374591", POPULATION, True),
        ("68.4 million", POPULATION, True),  # 68,374,591 to the nearest 0.1 million is 68.4
        ("68 million", POPULATION, True),  # … to the nearest million is 68
        ("68.37 million", POPULATION, True),  # … to the nearest 10,000 is 68.37 million
        ("about 68.4 million people", POPULATION, True),
        ("68.3 million", POPULATION, False),
        ("68,000,000", POPULATION, False),  # written to the unit, and off by 374,591
        ("70 million", POPULATION, False),  # to the nearest million it is 68
        ("0 billion", POPULATION, False),  # rounds to 0 billion but is 100% off
        ("1 billion", "1,400,000,000", False),  # rounds to 1 billion but is 28.6% off
        ("1.4 billion", "1,400,000,000", True),
        ("68,374,591", "68.4 million", False),  # rounded to the unit, 68.4 million ≠ 68,374,591
        ("640", "640 sq km", True),  # a unit on one side only is tolerated
        ("640 square kilometres", "640 sq km", True),
        ("640 km²", "640 sq km", True),  # NFKD makes ² a 2: km2
        ("640 km", "640 sq km", False),  # two stated units must agree
        ("641", "640 sq km", False),
        ("4,227,570", "4.22757e+06 people", True),
        ("0", "0", True),
        ("five", "5", False),
    ],
)
def test_same_number(prediction, reference, same):
    assert same_number(prediction, reference) is same


def test_relative_error_cap_is_five_percent():
    assert Decimal("0.05") == MAX_RELATIVE_ERROR
    assert same_number("7 million", "7,340,000")  # 4.6% off
    assert not same_number("7 million", "7,400,000")  # 5.4% off


# --- dates


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("9 May 1958", (1958, 5, 9)),
        ("9th May 1958", (1958, 5, 9)),
        ("the 9th of May, 1958", (1958, 5, 9)),
        ("May 9, 1958", (1958, 5, 9)),
        ("May 9th 1958", (1958, 5, 9)),
        ("Sept. 1, 1939", (1939, 9, 1)),
        ("1958-05-09", (1958, 5, 9)),
        ("on 1 January 2000.", (2000, 1, 1)),
        ("May 1958", (1958, 5, None)),
        ("1958-05", (1958, 5, None)),
        ("1815", (1815, None, None)),
        ("in 1815", (1815, None, None)),
        ("44 BC", (-44, None, None)),
        ("30 February 1958", None),  # no such day
        ("1958-13-01", None),
        ("Ada Lovelace", None),
    ],
)
def test_parse_date(text, date):
    assert parse_date(text) == date


@pytest.mark.parametrize(
    ("prediction", "reference", "same"),
    [
        ("May 9, 1958", "9 May 1958", True),
        ("9th May 1958", "9 May 1958", True),
        ("1958-05-09", "May 9, 1958", True),
        ("1958", "9 May 1958", False),  # a year is not a day
        ("May 1958", "9 May 1958", False),
        ("10 May 1958", "9 May 1958", False),
        ("1815", "1815", True),
        ("Ada Lovelace", "Ada Lovelace", False),  # not dates at all
    ],
)
def test_same_date(prediction, reference, same):
    assert same_date(prediction, reference) is same


# --- sets


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("Belgium; Germany; Italy", ["Belgium", "Germany", "Italy"]),
        ("Belgium, Germany and Italy.", ["Belgium", "Germany", "Italy"]),
        ("Belgium, Germany, and Italy", ["Belgium", "Germany", "Italy"]),
        ("- Belgium\n- Germany\n* Italy", ["Belgium", "Germany", "Italy"]),
        ("1. Belgium\n2) Germany\n• Italy", ["Belgium", "Germany", "Italy"]),
        ("Belgium & Germany", ["Belgium", "Germany"]),
        ("Bosnia and Herzegovina", ["Bosnia", "Herzegovina"]),  # no known names
        ("", []),
    ],
)
def test_split_items(text, items):
    assert split_items(text) == items


def test_split_items_keeps_known_names_whole():
    keep = ["Bosnia and Herzegovina", "Korea, South"]
    assert split_items("Serbia, Bosnia and Herzegovina and Croatia", keep) == [
        "Serbia",
        "Bosnia and Herzegovina",
        "Croatia",
    ]
    assert split_items("Korea, South; Japan", keep) == ["Korea, South", "Japan"]


def test_gold_items_and_their_names():
    assert item_names("Georgia (country)") == ["Georgia (country)", "Georgia"]
    assert item_names("France") == ["France"]
    assert gold_items("Georgia (country); Spain") == [["Georgia (country)", "Georgia"], ["Spain"]]


def test_set_scores_by_hand():
    # 2 of 3 predicted items are gold (P 2/3), 2 of 4 gold items found (R 1/2):
    # F1 = 2·(2/3)·(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
    score = set_scores("Spain, Germany, France", gold_items(BORDERS))
    assert (score.precision, score.recall) == pytest.approx((2 / 3, 1 / 2))
    assert score.f1 == pytest.approx(4 / 7)
    assert score.coverage == pytest.approx(0.5)
    assert score.found == ("Germany", "Spain")
    assert score.missing == ("Belgium", "Italy")
    assert score.extra == ("France",)


def test_set_scores_count_a_gold_item_named_twice_once():
    gold = [["Georgia (country)", "Georgia", "Sakartvelo"], ["Bosnia and Herzegovina"], ["Spain"]]
    score = set_scores("Sakartvelo, Georgia and Bosnia and Herzegovina, georgia, Chad", gold)
    # Items: Sakartvelo, Georgia, Bosnia and Herzegovina, georgia, Chad. Both later Georgias
    # repeat the Georgia item: 2 gold items and 1 extra are counted, P 2/3, R 2/3.
    assert score.found == ("Georgia (country)", "Bosnia and Herzegovina")
    assert score.missing == ("Spain",)
    assert score.extra == ("Chad",)
    assert (score.precision, score.recall, score.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert entity_coverage("Bosnia and Herzegovina", gold) == pytest.approx(1 / 3)


def test_set_scores_of_nothing():
    assert set_scores("", gold_items(BORDERS)).f1 == 0.0
    assert set_scores("Spain", []).recall == 0.0


def test_entity_mention_coverage():
    text = "Ada Lovelace worked with Charles Babbage in London; see also Zürich."
    gold = [["Ada Lovelace", "Augusta Ada King"], ["Alan Turing"], ["Babbage"], ["Zurich"]]
    assert entity_mention_coverage(text, gold) == 0.75  # Turing is not mentioned
    assert entity_mention_coverage("A Parisian café", [["Paris"]]) == 0.0  # word boundaries
    assert entity_mention_coverage("the Netherlands", [["The Netherlands", ""]]) == 1.0
    assert entity_mention_coverage("anything", []) == 0.0


# --- verdicts


def test_entity_verdicts():
    exact = verdict("the Madrid", "Madrid", ["Madrid, Spain"], "entity")
    assert (exact.correct, exact.method, exact.score, exact.f1, exact.coverage) == (
        True,
        "exact",
        1.0,
        1.0,
        1.0,
    )
    alias = verdict("Kiev", "Kyiv", ["Kiev"], "entity")
    assert (alias.correct, alias.method) == (True, "alias")
    assert "'Kiev'" in alias.reason
    wrong = verdict("New York City", "New York", [], "entity")
    assert (wrong.correct, wrong.method, wrong.score, wrong.coverage) == (False, "alias", 0, 0)
    assert wrong.f1 == pytest.approx(0.8)
    assert "neither the answer nor its 0 aliases" in wrong.reason


def test_number_verdicts():
    assert verdict("68,374,591", POPULATION, POPULATION_ALIASES, "number").method == "exact"
    assert verdict("68.4 million", POPULATION, POPULATION_ALIASES, "number").method == "alias"
    rounded = verdict("68 million", POPULATION, POPULATION_ALIASES, "number")
    assert (rounded.correct, rounded.method) == (True, "numeric")
    assert verdict("640", "640 sq km", ["640"], "number").method == "alias"
    assert verdict("640 square kilometres", "640 sq km", ["640"], "number").correct
    wrong = verdict("70 million", POPULATION, POPULATION_ALIASES, "number")
    assert (wrong.correct, wrong.method) == (False, "numeric")
    assert "as a number" in wrong.reason
    # An entity answer is never compared as a number.
    assert not verdict("68 million", POPULATION, [], "entity").correct


def test_date_verdicts():
    aliases = ["1958-05-09", "May 9, 1958"]
    assert verdict("May 9, 1958", "9 May 1958", aliases, "date").method == "alias"
    ordinal = verdict("9th May 1958", "9 May 1958", aliases, "date")
    assert (ordinal.correct, ordinal.method) == (True, "date")
    year = verdict("1958", "9 May 1958", aliases, "date")
    assert (year.correct, year.method) == (False, "date")
    assert verdict("in 1815", "1815", [], "date").correct


def test_set_verdicts():
    exact = verdict("Spain, Italy, Germany and Belgium", BORDERS, [], "set")
    assert (exact.correct, exact.method, exact.score, exact.coverage) == (True, "set_f1", 1, 1)
    assert exact.reason == "4 of 4 gold items found, 0 extra: F1 1.000 >= 1"
    partial = verdict("Spain, Germany, France", BORDERS, [], "set")
    assert not partial.correct
    assert partial.score == partial.f1 == pytest.approx(4 / 7)
    assert partial.coverage == 0.5
    assert partial.reason == (
        "2 of 4 gold items found, 1 extra: F1 0.571 < 1; missing Belgium, Italy; extra France"
    )
    lenient = verdict("Spain, Germany, France", BORDERS, [], "set", set_threshold=0.5)
    assert lenient.correct
    # An alias of a set answer is another writing of the whole set; the best one counts.
    assert verdict("Holland; Spain", "Netherlands; Spain", ["Holland; Spain"], "set").correct


def test_empty_predictions_are_incorrect_with_a_reason():
    for prediction, reason in [
        (None, "no prediction"),
        ("", "empty prediction"),
        (" . ", "empty prediction"),
    ]:
        result = verdict(prediction, "Madrid", [], "entity")
        assert (result.correct, result.score, result.reason) == (False, 0.0, reason)
    assert verdict(None, BORDERS, [], "set").method == "set_f1"


def test_verdict_rejects_bad_arguments():
    with pytest.raises(ValueError, match="answer_type"):
        verdict("x", "x", [], "person")
    with pytest.raises(ValueError, match="set_threshold"):
        verdict("x", "x", [], "set", set_threshold=1.5)


def test_verdict_record():
    record = verdict("Kiev", "Kyiv", ["Kiev"], "entity").as_record()
    assert record == {
        "correct": True,
        "method": "alias",
        "score": 1.0,
        "f1": 1.0,
        "coverage": 1.0,
        "reason": "equals the alias 'Kiev' after normalization",
    }
