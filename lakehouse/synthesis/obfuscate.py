"""Obfuscation rules (SailorFog-QA, WebSailor): how an exact constant becomes a vaguer one.

Pure functions, no graph: a year becomes a range of years with its words ("the late
1960s"), a number an approximation ("about 60 million"), a name a prefix ("Fr"), and each
of them the phrase that stands for the entity in a question ("a person born in the late
1960s").

Every range is the *generous* reading of its words (a reader may let "the late 1960s" start
in 1966, "about 60 million" reach 72 million), while the exact value always sits in the
*core* of the words (only 1967-1969 is called "late"). An answer that stays unique under the
generous band therefore stays unique under any narrower reading a solver takes.
"""

import math
from dataclasses import dataclass

# Years outside this span read badly as ranges ("the early 0s", "the late 2100s").
MIN_YEAR, MAX_YEAR = 100, 2100
# From 1800 on a decade is the natural unit ("the late 1960s"); before, a century ("the
# early 1500s").
DECADES_FROM = 1800
# (words, core end, generous band) as fractions of the decade or century: a year whose
# offset is below the core end gets the words; the band is what a reader may take them
# to mean (early 1960s → 1960-1964, mid-1960s → 1963-1967, late 1960s → 1966-1969).
PARTS = (
    ("early ", 0.35, (0.0, 0.45)),
    ("mid-", 0.65, (0.25, 0.75)),
    ("late ", 1.0, (0.55, 1.0)),
)
# "About x" may be read as anything within ±20% of x; rounding moves a value at most 10%
# (one significant figure when that is close enough, else two: at most 5%), so the true
# value always lies well inside the band.
ABOUT = 0.20
ROUNDING_ERROR = 0.10
# A prefix of 2 or 3 letters, never more than half of the name ("Fr" of France, not "Fran").
PREFIX_LENGTHS = (2, 3)
# Name words this long are distinctive enough that a description containing them gives the
# name away ("Capital and largest city of Tunisia" for Tunis).
DISTINCTIVE_WORD = 4

# Year attribute → (what the entity did, as a clause; the same as a participle phrase after
# a noun): "was born in the late 1960s", "a person born in the late 1960s".
DATE_WORDS = {
    "birth_year": ("was born in", "born in"),
    "death_year": ("died in", "who died in"),
    "start_year": ("began in", "that began in"),
    "end_year": ("ended in", "that ended in"),
    "independent in": ("became independent in", "that became independent in"),
    **{
        predicate: (f"was {predicate}", predicate)
        for predicate in (
            "founded in",
            "established in",
            "formed in",
            "created in",
            "discovered in",
            "written in",
            "published in",
            "assassinated in",
        )
    },
    "founded on": ("was founded in", "founded in"),  # a date: only its year is kept
    "published on": ("was published in", "published in"),
}
# Quantity attribute → its noun phrase head ("a population of about 60 million").
QUANTITY_WORDS = {
    "population": "a population of",
    "area": "an area of",
    "elevation": "an elevation of",
    "height": "a height of",
    "length": "a length of",
    "depth": "a depth of",
    "width": "a width of",
}
UNIT_WORDS = {
    "people": "",
    "sq km": "square kilometres",
    "sq mi": "square miles",
    "km": "kilometres",
    "m": "metres",
    "mi": "miles",
    "ft": "feet",
}


@dataclass(frozen=True, slots=True)
class Band:
    """A closed range of values and the words that say it ("the late 1960s")."""

    low: float
    high: float
    words: str

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def article(word: str) -> str:
    """The indefinite article for a noun: "a country", "an organism"."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def year_range(year: int, coarse: bool = False) -> Band | None:
    """The range of years a year is obfuscated to: "the late 1960s" (1966-1969) or, coarse,
    "the 1960s" (1960-1969); centuries before `DECADES_FROM` ("the early 1500s"). None for
    years outside `MIN_YEAR`..`MAX_YEAR`."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    unit = 10 if year >= DECADES_FROM else 100
    base = year // unit * unit
    label = f"{base}s"
    if coarse:
        return Band(base, base + unit - 1, f"the {label}")
    offset = (year - base) / unit
    for words, core_end, (low, high) in PARTS:
        if offset < core_end:
            return Band(
                base + math.ceil(round(low * unit, 6)),  # round: 0.55 * 100 is 55.000…01
                base + min(math.floor(round(high * unit, 6)), unit - 1),
                f"the {words}{label}",
            )
    raise AssertionError("PARTS must cover every offset below 1")


def round_significant(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant figures (59,871,123 → 60,000,000 for 1)."""
    return float(f"{value:.{digits}g}")


def number_words(value: float) -> str:
    """A round number as a person says it: "60 million", "1.4 billion", "550,000", "14"."""
    for scale, name in ((1e9, "billion"), (1e6, "million")):
        if value >= scale:
            return f"{round(value / scale, 3):g} {name}"
    if value >= 1 and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:g}"


def approximate(value: float) -> Band | None:
    """The band "about x" stands for, with x the value rounded (one significant figure when
    within `ROUNDING_ERROR`, else two): 59,871,123 → "about 60 million", 48-72 million. None
    for a value that is not a positive finite number (there is no "about 0")."""
    if not math.isfinite(value) or value <= 0:
        return None
    shown = round_significant(value, 1)
    if abs(shown - value) / value > ROUNDING_ERROR:
        shown = round_significant(value, 2)
    low, high = (float(f"{shown * factor:.6g}") for factor in (1 - ABOUT, 1 + ABOUT))
    return Band(low, high, f"about {number_words(shown)}")


def name_prefixes(name: str) -> list[str]:
    """The prefixes a name may be shown as, shortest (hardest) first: letters only, at most
    half of the name ("France" → ["Fr", "Fra"], "Chad" → ["Ch"], "St. Lucia" → ["St"])."""
    return [
        name[:length]
        for length in PREFIX_LENGTHS
        if len(name) >= 2 * length and name[:length].isalpha()
    ]


def usable_description(description: str | None, name: str) -> bool:
    """Whether a description can stand for its entity: present, and not containing the name
    or one of its distinctive words (which would give the name away)."""
    if not description or not description.strip():
        return False
    text = description.lower()
    words = [word for word in name.lower().split() if len(word) >= DISTINCTIVE_WORD]
    return name.lower() not in text and not any(word in text for word in words)


def date_phrases(predicate: str, band: Band) -> tuple[str, str] | None:
    """(clause, participle phrase) for a year attribute in a range: ("was born in the late
    1960s", "born in the late 1960s"); None for attributes without wording."""
    if predicate not in DATE_WORDS:
        return None
    clause, participle = DATE_WORDS[predicate]
    return f"{clause} {band.words}", f"{participle} {band.words}"


def quantity_phrase(predicate: str, band: Band, unit: str | None) -> str | None:
    """ "a population of about 60 million", "an area of about 550,000 square kilometres";
    None for attributes or units without wording."""
    if predicate not in QUANTITY_WORDS or (unit or "") not in {**UNIT_WORDS, "": ""}:
        return None
    unit_words = UNIT_WORDS.get(unit or "", "")
    return " ".join(part for part in (QUANTITY_WORDS[predicate], band.words, unit_words) if part)
