"""Answer scoring: is a predicted answer the gold answer of a QA task?

Used for trajectory verdicts (rejection sampling) and benchmark scores. The rules:

- Text (`normalize_answer`): SQuAD/HotpotQA normalization (lowercase, no punctuation, no
  articles a/an/the, single spaces) after unicode folding (NFKD compatibility forms, accents
  dropped, case-folded), with numbers kept intact: thousands separators go ("68,374,591" →
  "68374591") and a decimal point between digits stays ("68.4"). Apostrophes and other dots
  vanish ("U.S." → "us"), other punctuation becomes a space ("Saint-Étienne" → "saint
  etienne"), "&" reads "and".
- Numbers (`same_number`): the prediction, rounded to its own written precision, equals the
  gold rounded the same way: "68.4 million" and "68 million" both match 68,374,591 (to the
  nearest 0.1 and 1 million), "68,000,000" does not (written to the unit) and neither does
  "70 million". Because a coarse enough form rounds anything to itself ("0 billion" would
  match 68,374,591), the prediction must also lie within `MAX_RELATIVE_ERROR` of the gold.
  A unit is tolerated when one side has none ("640" vs "640 sq km"); two stated units must
  agree after synonyms ("640 square kilometres" = "640 sq km", "640 km" ≠ "640 sq km").
- Dates (`same_date`): the written forms "9 May 1958", "9th May 1958", "the 9th of May
  1958", "May 9, 1958", "1958-05-09" (and month abbreviations) are one date. Precision must
  agree: "1958" is not "9 May 1958", "May 1958" is not "9 May 1958".
- Sets (`set_scores`): a prediction is split into items at ";", newlines, bullets, "," and
  "and", except that a run of pieces which together is a gold name stays whole ("Bosnia and
  Herzegovina", "Korea, South"). Each item matches at most one gold item by normalized
  exact match against the gold item's names; an item that repeats a gold item already found
  (the same name again, or another of its names) counts once. Precision, recall and F1
  follow; `coverage` is the recall, the share of gold items found.
- `verdict`: entity, date and number answers are correct on an exact, alias, numeric (number
  answers) or date (date answers) match; set answers when their best set F1 over the answer
  and its aliases reaches `set_threshold` (1.0: the exact set).
"""

import calendar
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from lakehouse.synthesis.tasks import ANSWER_TYPES, DATE, ENTITY, MONTH_NAMES, NUMBER, SET

Method = Literal["exact", "alias", "numeric", "date", "set_f1", "judge"]

# A written rounding is accepted only this close to the gold: 68 million for 68,374,591 is
# off by 0.55%, while "1 billion" for 1.4 billion (28%) or "0 billion" for anything would
# otherwise pass as a rounding and hand an RL policy a reward for a vacuous answer.
MAX_RELATIVE_ERROR = Decimal("0.05")
# Float slack when comparing a set F1 with its threshold (2/3 stored as 0.6666…7).
THRESHOLD_EPSILON = 1e-9

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DROPPED = re.compile(r"['’‘`´]|(?<!\d)\.|\.(?!\d)")  # apostrophes, dots not in a number
_PUNCTUATION = re.compile(r"[^\w\s.]|_")


def fold(text: str) -> str:
    """Unicode-folded text for comparison: compatibility forms unified (NFKD), accents
    dropped, case-folded, then recomposed (NFKC). "Łódź" and "ﬁ" fold to "łodz", "fi"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFKC", stripped.casefold())


def normalize_answer(text: str) -> str:
    """The comparison form of an answer (module docstring): folded, no punctuation or
    articles, single spaces, numbers without thousands separators."""
    text = _THOUSANDS_COMMA.sub("", fold(text)).replace("&", " and ")
    text = _PUNCTUATION.sub(" ", _DROPPED.sub("", text))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> bool:
    """Whether the two answers are equal after `normalize_answer` (SQuAD EM)."""
    return normalize_answer(prediction) == normalize_answer(reference)


def alias_match(prediction: str, answer: str, aliases: Sequence[str] | None = ()) -> str | None:
    """The first of the answer and its aliases that the prediction exactly matches, or None."""
    for reference in (answer, *(aliases or ())):
        if exact_match(prediction, reference):
            return reference
    return None


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token F1 of the normalized prediction, best over the references.

    Tokens are the words of `normalize_answer`; shared tokens count with multiplicity. When
    either side has no tokens, F1 is 1.0 if both have none, else 0.0 (as in SQuAD).
    """
    if isinstance(references, str):
        references = [references]
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for reference in references:
        gold = normalize_answer(reference).split()
        if not predicted or not gold:
            best = max(best, float(predicted == gold))
            continue
        shared = sum((Counter(predicted) & Counter(gold)).values())
        if shared:
            precision, recall = shared / len(predicted), shared / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


# --- numbers

_SCALES = {
    "thousand": Decimal(10) ** 3,
    "million": Decimal(10) ** 6,
    "mn": Decimal(10) ** 6,
    "billion": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9,
    "trillion": Decimal(10) ** 12,
}
_UNIT_SYNONYMS = {
    "km2": ("sq km", "sqkm", "square km", "square kilometers", "square kilometres", "km2"),
    "mi2": ("sq mi", "square miles", "square mile", "mi2"),
    "km": ("km", "kilometer", "kilometers", "kilometre", "kilometres"),
    "m": ("m", "meter", "meters", "metre", "metres"),
    "mi": ("mi", "mile", "miles"),
    "kg": ("kg", "kilogram", "kilograms"),
    "%": ("%", "percent", "per cent", "pct"),
    "$": ("$", "usd", "us$", "dollars", "us dollars"),
    "": ("people", "persons", "inhabitants", "residents"),  # a head count is a bare number
}
_UNITS = {spelling: unit for unit, spellings in _UNIT_SYNONYMS.items() for spelling in spellings}
_QUALIFIER = r"(?:about|approximately|approx|around|roughly|circa|ca|c|some|~|≈)\.?\s*"
_NUMBER_TEXT = re.compile(
    rf"(?:{_QUALIFIER})?(?P<currency>[$€£¥])?\s*(?P<sign>[-−])?"
    r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?(?:e(?P<exponent>[+-]?\d+))?"
    rf"(?:\s*(?P<scale>{'|'.join(_SCALES)})\b)?"
    r"(?:\s*(?P<unit>[^\W\d][\w\s./%°$]{0,30}|%))?"
)


@dataclass(frozen=True)
class Quantity:
    """A written number: its value, its written precision and its unit.

    `step` is the place of the last written digit: 1 for "68,374,591", 100000 for "68.4
    million", 10 for "4.22757e+06". `unit` is canonical ("km2" for "sq km"), "" for none.
    """

    value: Decimal
    step: Decimal
    unit: str


def parse_number(text: str) -> Quantity | None:
    """The quantity a short answer states ("about 68.4 million people", "640 sq km",
    "4.22757e+06"), or None when the text is not one number with an optional scale word
    and unit."""
    match = _NUMBER_TEXT.fullmatch(" ".join(fold(text).split()).rstrip("."))
    if not match:
        return None
    fraction = match["fraction"] or ""
    exponent = int(match["exponent"] or 0)
    scale = _SCALES[match["scale"]] if match["scale"] else Decimal(1)
    try:
        digits = Decimal(match["whole"].replace(",", "") + fraction)
    except InvalidOperation:
        return None
    step = Decimal(10) ** (exponent - len(fraction)) * scale
    value = digits * step * (-1 if match["sign"] else 1)
    unit = _unit(match["unit"] or "") or (match["currency"] or "")
    return Quantity(value=value, step=step, unit=unit)


def _unit(text: str) -> str:
    spelled = " ".join(text.replace(".", " ").split())
    return _UNITS.get(spelled, spelled)


def same_number(prediction: str, reference: str) -> bool:
    """Whether the prediction states the reference's number (module docstring): rounded to
    the prediction's written precision the two agree, within `MAX_RELATIVE_ERROR`, in a
    compatible unit."""
    predicted, gold = parse_number(prediction), parse_number(reference)
    if predicted is None or gold is None:
        return False
    if predicted.unit and gold.unit and predicted.unit != gold.unit:
        return False
    rounded = (gold.value / predicted.step).quantize(Decimal(1), ROUND_HALF_UP) * predicted.step
    if rounded != predicted.value:
        return False
    if gold.value == 0:
        return predicted.value == 0
    return abs(predicted.value - gold.value) <= MAX_RELATIVE_ERROR * abs(gold.value)


# --- dates

_MONTHS = {name.lower(): number for number, name in enumerate(MONTH_NAMES, start=1)}
_MONTHS |= {name[:3]: number for name, number in list(_MONTHS.items())} | {"sept": 9}
_MONTH = rf"(?P<month>{'|'.join(sorted(_MONTHS, key=len, reverse=True))})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{1,4})(?:\s*(?P<era>ad|ce|bc|bce))?"
_DATE_FORMS = [
    re.compile(r"(?P<year>\d{4})-(?P<month_number>\d{1,2})(?:-(?P<day>\d{1,2}))?"),
    re.compile(rf"(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\s+{_YEAR}"),
    re.compile(rf"{_MONTH}\s+{_DAY}\s+{_YEAR}"),
    re.compile(rf"{_MONTH}\s+{_YEAR}"),
    re.compile(_YEAR),
]


def parse_date(text: str) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) of a short written date, month and day None where not written;
    None when the text is not a date. Years BC are negative ("44 BC" → (-44, None, None))."""
    text = " ".join(fold(text).replace(",", " ").split()).rstrip(".")
    text = re.sub(r"^(?:on|in)\s+", "", text)
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            return _valid_date(match)
    return None


def _valid_date(match: re.Match[str]) -> tuple[int, int | None, int | None] | None:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("era") in ("bc", "bce"):
        year = -year
    if groups.get("month_number"):
        month: int | None = int(groups["month_number"])
    else:
        month = _MONTHS[groups["month"]] if groups.get("month") else None
    day = int(groups["day"]) if groups.get("day") else None
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None:
        assert month is not None  # every form with a day has a month
        last_day = calendar.monthrange(year, month)[1] if 1 <= year <= 9999 else 31
        if not 1 <= day <= last_day:
            return None
    return year, month, day


def same_date(prediction: str, reference: str) -> bool:
    """Whether both texts are the same date written to the same precision (module docstring)."""
    predicted = parse_date(prediction)
    return predicted is not None and predicted == parse_date(reference)


# --- sets

_HARD_SEPARATOR = re.compile(r"\s*(?:;|\n)\s*")
_BULLET = re.compile(r"^(?:[-*•·‣–—]|\d{1,3}[.)])\s+")
_SOFT_SEPARATOR = re.compile(r"\s*(?:(?<!\d),|,(?!\d))\s*(?:(?:and|&)\s+)?|\s+(?:and|&)\s+")


def split_items(text: str, keep: Sequence[str] = ()) -> list[str]:
    """The items of a list answer, in order: split at ";", newlines and bullets, then at ","
    and "and"; a run of pieces that together normalize to one of the names in `keep` stays
    one item ("Bosnia and Herzegovina"). Bullets, a trailing period and a leading "and" go."""
    known = {normalize_answer(name) for name in keep}
    items: list[str] = []
    for chunk in _HARD_SEPARATOR.split(text.strip()):
        chunk = _BULLET.sub("", chunk.strip()).rstrip(".").strip()
        chunk = re.sub(r"^(?:and|&)\s+", "", chunk)
        if chunk:
            items.extend(_split_chunk(chunk, known))
    return items


def _split_chunk(chunk: str, known: set[str]) -> list[str]:
    """Split one chunk at soft separators, rejoining the longest runs that are known names."""
    spans, start = [], 0
    for separator in _SOFT_SEPARATOR.finditer(chunk):
        spans.append((start, separator.start()))
        start = separator.end()
    spans.append((start, len(chunk)))
    spans = [(begin, end) for begin, end in spans if end > begin]
    items, i = [], 0
    while i < len(spans):
        j = next(
            (
                j
                for j in range(len(spans), i + 1, -1)
                if normalize_answer(chunk[spans[i][0] : spans[j - 1][1]]) in known
            ),
            i + 1,
        )
        items.append(chunk[spans[i][0] : spans[j - 1][1]])
        i = j
    return items


def item_names(item: str) -> list[str]:
    """The names a gold set item is accepted under: itself, and without a trailing
    parenthetical disambiguator ("Georgia (country)" → "Georgia")."""
    stripped = re.sub(r"\s*\([^)]*\)$", "", item)
    return list(dict.fromkeys(name for name in (item, stripped) if name))


def gold_items(answer: str) -> list[list[str]]:
    """The gold items of a set answer (names joined by "; "), each with its `item_names`."""
    return [item_names(item.strip()) for item in answer.split(";") if item.strip()]


@dataclass(frozen=True)
class SetScore:
    """How a predicted list compares with the gold set."""

    precision: float
    recall: float
    f1: float
    coverage: float  # the share of gold items found (the recall)
    found: tuple[str, ...]  # the gold items found, by their first name
    missing: tuple[str, ...]  # the gold items not found
    extra: tuple[str, ...]  # the predicted items that are no gold item


def set_scores(prediction: str, gold: Sequence[Sequence[str]]) -> SetScore:
    """Precision, recall, F1 and coverage of a predicted list against gold items, each gold
    item given as its names (name first, then aliases); see the module docstring."""
    items = split_items(prediction, [name for names in gold for name in names])
    predicted: dict[str, str] = {}  # normalized → as written; a repeated item counts once
    for item in items:
        predicted.setdefault(normalize_answer(item), item)
    predicted.pop("", None)
    names = [{normalize_answer(name) for name in item} for item in gold]
    found: list[int] = []
    extra: list[str] = []
    for normalized, written in predicted.items():
        index = next((i for i, item in enumerate(names) if normalized in item), None)
        if index is None:
            extra.append(written)
        elif index not in found:  # another name of a gold item already found is a repeat
            found.append(index)
    counted = len(found) + len(extra)
    precision = len(found) / counted if counted else 0.0
    recall = len(found) / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if found else 0.0
    return SetScore(
        precision=precision,
        recall=recall,
        f1=f1,
        coverage=recall,
        found=tuple(gold[i][0] for i in sorted(found)),
        missing=tuple(gold[i][0] for i in range(len(gold)) if i not in found),
        extra=tuple(extra),
    )


def entity_coverage(prediction: str, gold: Sequence[Sequence[str]]) -> float:
    """The share of gold items that a predicted list names (`set_scores` coverage)."""
    return set_scores(prediction, gold).coverage


def entity_mention_coverage(text: str, gold_names: Sequence[Sequence[str]]) -> float:
    """The share of gold entities mentioned anywhere in `text` (a whole trajectory, a report):
    an entity counts when any of its names, normalized, occurs in the normalized text on word
    boundaries. For partial rewards (E-GRPO) and the trajectory entity-coverage reward; 0.0
    when there are no gold entities (no free reward)."""
    if not gold_names:
        return 0.0
    padded = f" {normalize_answer(text)} "
    found = 0
    for names in gold_names:
        normalized = {normalize_answer(name) for name in names} - {""}
        found += any(f" {name} " in padded for name in normalized)
    return found / len(gold_names)


# --- verdicts


@dataclass(frozen=True)
class Verdict:
    """Whether a prediction answers a task, how that was decided, and partial credit.

    `score` is 1.0/0.0 for entity, date and number answers and the set F1 for sets (a judge
    gives 1.0/0.0). `f1` is the token F1 (set F1 for sets; 1.0 when correct); `coverage` the
    share of gold items found (1.0/0.0 outside sets). `reason` says why, for audits.
    """

    correct: bool
    method: Method
    score: float
    f1: float
    coverage: float
    reason: str

    def as_record(self) -> dict[str, object]:
        """The verdict as a plain dict, for a table row."""
        return asdict(self)


_FINAL_METHOD: dict[str, Method] = {
    ENTITY: "alias",
    NUMBER: "numeric",
    DATE: "date",
    SET: "set_f1",
}


def verdict(
    prediction: str | None,
    answer: str,
    aliases: Sequence[str] | None,
    answer_type: str,
    set_threshold: float = 1.0,
) -> Verdict:
    """The verdict on a predicted answer for a task's answer, aliases and type (module
    docstring). An empty or missing prediction is incorrect, with that as the reason; a
    failed check reports the last method tried (alias, numeric, date, set_f1)."""
    if answer_type not in ANSWER_TYPES:
        raise ValueError(f"answer_type must be one of {ANSWER_TYPES}, got {answer_type!r}")
    if not 0 <= set_threshold <= 1:
        raise ValueError(f"set_threshold must be in [0, 1], got {set_threshold}")
    references = [answer, *(aliases or ())]
    if prediction is None or not normalize_answer(prediction):
        reason = "no prediction" if prediction is None else "empty prediction"
        return Verdict(False, _FINAL_METHOD[answer_type], 0.0, 0.0, 0.0, reason)
    if answer_type == SET:
        return _set_verdict(prediction, references, set_threshold)
    if exact_match(prediction, answer):
        return _correct("exact", "equals the answer after normalization")
    matched = alias_match(prediction, answer, aliases)
    if matched is not None:
        return _correct("alias", f"equals the alias {matched!r} after normalization")
    if answer_type == NUMBER:
        for reference in references:
            if same_number(prediction, reference):
                return _correct("numeric", f"states the number of {reference!r}")
    if answer_type == DATE:
        for reference in references:
            if same_date(prediction, reference):
                return _correct("date", f"is the date {reference!r}")
    f1 = token_f1(prediction, references)
    reason = f"matches neither the answer nor its {len(references) - 1} aliases"
    if answer_type == NUMBER:
        reason += " as text or as a number"
    elif answer_type == DATE:
        reason += " as text or as a date"
    return Verdict(False, _FINAL_METHOD[answer_type], 0.0, f1, 0.0, reason)


def _correct(method: Method, reason: str) -> Verdict:
    return Verdict(True, method, 1.0, 1.0, 1.0, reason)


def _set_verdict(prediction: str, references: list[str], threshold: float) -> Verdict:
    best = max((set_scores(prediction, gold_items(r)) for r in references), key=lambda s: s.f1)
    correct = best.f1 >= threshold - THRESHOLD_EPSILON
    reason = (
        f"{len(best.found)} of {len(best.found) + len(best.missing)} gold items found, "
        f"{len(best.extra)} extra: F1 {best.f1:.3f} {'>=' if correct else '<'} {threshold:g}"
    )
    if best.missing:
        reason += f"; missing {', '.join(best.missing)}"
    if best.extra:
        reason += f"; extra {', '.join(best.extra)}"
    return Verdict(correct, "set_f1", best.f1, best.f1, best.coverage, reason)
