"""Relations: (subject, predicate, object, evidence) edges and attribute facts.

Three extractors, each recorded per row (`extractor`, `extractor_version`):

- `phrase`: two linked mentions in one sentence, the predicate being the normalized phrase
  that connects them ("Vertigo is a 1958 film directed by Alfred Hitchcock" → (Vertigo,
  "directed by", Alfred Hitchcock)); a sentence opening with a pronoun ("He was born in
  Vienna") has the page's own entity as its implicit subject. Lists and coordinations ("X,
  Y and Z") connect nothing and give no edge.
- `pattern`: typed attribute facts read by regular expressions: life spans ("(1840–1893)" →
  birth_year, death_year), dated events ("founded in 1209", "born on 12 May 1820") and
  measured quantities ("an area of 640 km2", "a population of 2.1 million", "8,849 m high").
- `page_mention`: a page that mentions another entity is linked to it (predicate
  "mentions", the first sentence naming it as evidence), as a hyperlink links two pages: the
  weak, dense edges a random walk over the graph needs; the typed ones above say how.
- `factbook`: the Factbook's fields as typed edges and attributes: capital, borders (with the
  border length in km), languages, population, area.

An optional fourth, `llm`, lives in `llm_relations` (any OpenAI-compatible endpoint).
"""

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from lakehouse.ids import stable_id
from lakehouse.index.chunking import split_sentences
from lakehouse.knowledge.aliases import normalize_alias, strip_disambiguator
from lakehouse.knowledge.entities import (
    COUNTRY,
    LANGUAGE,
    PERSON,
    PLACE,
    is_former_state,
    url_key,
)
from lakehouse.knowledge.factbook import Country
from lakehouse.knowledge.mentions import sentence_id
from lakehouse.tables import RELATIONS

PHRASE_VERSION = "phrase-1"
PAGE_MENTION_VERSION = "page-mention-1"
PATTERN_VERSION = "pattern-4"
CODE_VERSION = f"relations-4+{PHRASE_VERSION}+{PAGE_MENTION_VERSION}+{PATTERN_VERSION}"
MENTIONS_PREDICATE = "mentions"
# Below 1: a mention says the pages are related, not how (read with the link's own score).
PAGE_MENTION_CONFIDENCE = 0.5
RELATION_ROW_SCHEMA = {**RELATIONS.columns, "parent_ids": pl.List(pl.String)}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _word_list(text: str) -> list[str]:
    return text.split()


ENTITY = "entity"
YEAR = "year"
DATE = "date"
NUMBER = "number"
QUANTITY = "quantity"

# A connecting phrase of more words than this rarely states one relation (read on the
# smoke slice: past 8 words the gap spans a clause boundary far more often than not).
MAX_GAP_WORDS = 8
MAX_PREDICATE_WORDS = 4

_PRONOUN_OPENING = re.compile(r"^(?:He|She|It|They|His|Her|Its|Their)\b")
_GAP_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")
_CLAUSE_BREAK = re.compile(r"[;:()\[\]\"“”]|\s[–—-]\s")
_CAPITALIZED = re.compile(r"\b[A-Z]")
PREPOSITIONS = _words(
    """
    of in on at by for from to with into onto near between against under over after before
    during within across along toward towards upon as
    """
)
DETERMINERS = _words(
    """
    a an the its his her their this that these those one
    """
)
COPULAS = _words("is was are were be been being")
COORDINATORS = _words("and or but nor")
# Verbs that end no "-ed": enough for the summaries' relational phrases.
IRREGULAR_VERBS = _words(
    """
    born borne became become won built wrote written made sold led held known founded taken
    took gave given began begun ran run grew grown bore drawn drew flows flow lies lay
    borders border shares share contains contain includes include became married
    """
)


def _is_verb(word: str) -> bool:
    return word in COPULAS or word in IRREGULAR_VERBS or (word.endswith("ed") and len(word) > 3)


def _strip_leading(words: list[str]) -> list[str]:
    """Determiners, numbers and "one of" chains off the front: "one of the few" → "few"."""
    while words and (words[0] in DETERMINERS or words[0].isdigit() or words[0] == "of"):
        words = words[1:]
    return words


def connecting_predicate(gap: str) -> str | None:
    """The predicate stated by the text between two mentions, or None when it states none.

    "is a 1958 film directed by" → "directed by"; "was born in" → "born in"; ", the capital
    of" → "capital of" (an apposition); "is the capital and largest city of" → "capital of"
    (the first conjunct); ", " or " and " → None (a list). None as well for: a gap across a
    clause break (";", brackets, quotes, a dash), with a capitalized word (an unlinked name
    sits between the two: "capital of Shanxi, China"), after a comma without an article
    (", south of": the list's subject, not the mention before, is meant), or of more than
    `MAX_GAP_WORDS` words; a bare preposition or copula ("in", "is") names no relation.
    """
    if _CLAUSE_BREAK.search(gap) or _CAPITALIZED.search(gap):
        return None
    stripped = gap.strip()
    if stripped.startswith(","):
        after_comma = _GAP_WORD.findall(stripped)
        if not after_comma or after_comma[0].lower() not in {"the", "a", "an"}:
            return None
    words = [word.lower() for word in _GAP_WORD.findall(gap)]
    if not words or len(words) > MAX_GAP_WORDS:
        return None
    if words[-1] in COORDINATORS or words[0] in COORDINATORS:
        return None
    verbs = [index for index, word in enumerate(words) if _is_verb(word)]
    if all(words[index] in COPULAS for index in verbs) and words[-1] not in PREPOSITIONS:
        return None  # "is a high-power": a description, not a relation to the next mention
    if verbs:
        tail = words[verbs[-1] :]
        if tail[0] in COPULAS and len(tail) > 1:
            tail = tail[1:]
    elif words[-1] in PREPOSITIONS:
        tail = words
    else:
        return None
    tail = _strip_leading(tail)
    conjunction = next((i for i, word in enumerate(tail) if word in COORDINATORS), None)
    if conjunction is not None:  # "capital and largest city of" → "capital of"
        preposition = [tail[-1]] if tail[-1] in PREPOSITIONS else []
        tail = tail[:conjunction] + preposition
    while tail and tail[-1] in DETERMINERS:
        tail = tail[:-1]
    tail = [word for word in tail if not word.isdigit()]
    if len(tail) > MAX_PREDICATE_WORDS:
        return None
    if len(tail) < 2 and (not tail or tail[0] in PREPOSITIONS or tail[0] in COPULAS):
        return None
    return " ".join(tail)


@dataclass(frozen=True, slots=True)
class Relation:
    """One extracted relation before it becomes a row."""

    subject_id: str
    predicate: str
    object_type: str
    object_value: str
    extractor: str
    extractor_version: str
    confidence: float
    evidence: str
    object_id: str | None = None
    number: float | None = None
    unit: str | None = None
    sentence_id: str | None = None
    doc_id: str | None = None
    parents: tuple[str, ...] = ()
    model_id: str | None = None
    prompt_hash: str | None = None
    sampling: str | None = None


@dataclass(frozen=True, slots=True)
class _Linked:
    entity_id: str
    start: int
    end: int
    score: float
    mention_id: str | None


def _sentences_with_links(
    mentions: pl.DataFrame,
) -> Iterator[tuple[str, str, int, int, list[_Linked]]]:
    """(doc_id, sentence_id, sentence start, end, linked mentions by start) per sentence."""
    linked = mentions.filter(pl.col("entity_id").is_not_null()).sort(
        "doc_id", "sentence_start", "start_char"
    )
    groups: dict[tuple[str, str, int, int], list[_Linked]] = defaultdict(list)
    for row in linked.select(
        "doc_id",
        "sentence_id",
        "sentence_start",
        "sentence_end",
        "entity_id",
        "start_char",
        "end_char",
        "score",
        "mention_id",
    ).iter_rows():
        doc_id, sent_id, s_start, s_end, entity_id, start, end, score, mention_id = row
        groups[(doc_id, sent_id, s_start, s_end)].append(
            _Linked(entity_id, start, end, score, mention_id)
        )
    for (doc_id, sent_id, s_start, s_end), items in groups.items():
        yield doc_id, sent_id, s_start, s_end, items


def _phrase_confidence(gap_words: int, first: _Linked, second: _Linked) -> float:
    # Shorter connecting phrases state the relation more directly; a link's own doubt carries.
    return round(max(0.3, 0.85 - 0.05 * gap_words) * min(first.score, second.score), 4)


def phrase_relations(
    documents: pl.DataFrame, mentions: pl.DataFrame, own_entities: dict[str, str]
) -> list[Relation]:
    """Edges between consecutive linked mentions of a sentence, by connecting phrase."""
    texts = dict(documents.select("doc_id", "text").iter_rows())
    relations: list[Relation] = []
    for doc_id, sent_id, s_start, s_end, linked in _sentences_with_links(mentions):
        text = texts.get(doc_id)
        if text is None:
            continue
        sentence = text[s_start:s_end]
        own = own_entities.get(doc_id)
        opening = _PRONOUN_OPENING.match(sentence)
        if own and opening and (not linked or linked[0].start > s_start):
            linked = [_Linked(own, s_start, s_start + opening.end(), 1.0, None), *linked]
        for first, second in itertools.pairwise(linked):
            if first.entity_id == second.entity_id:
                continue
            gap = text[first.end : second.start]
            predicate = connecting_predicate(gap)
            if predicate is None:
                continue
            parents = [doc_id, first.entity_id, second.entity_id]
            parents += [m.mention_id for m in (first, second) if m.mention_id]
            relations.append(
                Relation(
                    subject_id=first.entity_id,
                    predicate=predicate,
                    object_type=ENTITY,
                    object_value=text[second.start : second.end],
                    object_id=second.entity_id,
                    extractor="phrase",
                    extractor_version=PHRASE_VERSION,
                    confidence=_phrase_confidence(len(_GAP_WORD.findall(gap)), first, second),
                    evidence=sentence,
                    sentence_id=sent_id,
                    doc_id=doc_id,
                    parents=tuple(parents),
                )
            )
    return relations


def page_mention_relations(
    documents: pl.DataFrame, mentions: pl.DataFrame, own_entities: dict[str, str]
) -> list[Relation]:
    """(page entity, "mentions", entity) for every entity a page links, first sentence first."""
    texts = dict(documents.select("doc_id", "text").iter_rows())
    first = (
        mentions.filter(pl.col("entity_id").is_not_null())
        .sort("doc_id", "start_char")
        .unique(["doc_id", "entity_id"], keep="first", maintain_order=True)
    )
    relations = []
    for doc_id, entity_id, sent_id, start, end, score, mention_id, surface in first.select(
        "doc_id",
        "entity_id",
        "sentence_id",
        "sentence_start",
        "sentence_end",
        "score",
        "mention_id",
        "surface",
    ).iter_rows():
        own = own_entities.get(doc_id)
        if own is None or own == entity_id or doc_id not in texts:
            continue
        relations.append(
            Relation(
                subject_id=own,
                predicate=MENTIONS_PREDICATE,
                object_type=ENTITY,
                object_value=surface,
                object_id=entity_id,
                extractor="page_mention",
                extractor_version=PAGE_MENTION_VERSION,
                confidence=round(PAGE_MENTION_CONFIDENCE * score, 4),
                evidence=texts[doc_id][start:end],
                sentence_id=sent_id,
                doc_id=doc_id,
                parents=(doc_id, own, entity_id, mention_id),
            )
        )
    return relations


# ---------------------------------------------------------------------------------------
# Patterns: life spans, dated events, quantities

_YEAR = r"(?:1[0-9]{3}|20[0-9]{2}|[1-9][0-9]{2})"
_LIFESPAN = re.compile(
    rf"\((?:c\.\s*)?(?P<birth>{_YEAR})(?:\s*BC)?\s*[–—-]\s*(?:c\.\s*)?(?P<death>{_YEAR})\)"
)
# A description naming an office dates the office ("King of Wessex (871–886)", "Pope from
# 1958 to 1963"), so its years are no life span.
_OFFICE = re.compile(
    r"\b(?:King|Queen|Emperor|Empress|Pharaoh|Sultan|Caliph|Pope|Tsar|Shah|Khan|President|"
    r"Prime Minister|Chancellor|Doge|Emir|Prince|Duke|ruler|monarch|reigned)\b"
)
LIFESPAN_OPENING_CHARS = 80
_BORN_YEAR = re.compile(rf"\(born\s+(?:[0-9]{{1,2}}\s+\w+\s+)?(?P<birth>{_YEAR})\)")
MONTHS = {
    month: number
    for number, month in enumerate(
        _word_list(
            "january february march april may june july august september october november december"
        ),
        start=1,
    )
}
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
)
_DATE = (
    rf"(?:(?P<day>[0-9]{{1,2}})\s+(?P<month>{_MONTH})\s+(?P<year>{_YEAR})"
    rf"|(?P<month2>{_MONTH})\s+(?P<day2>[0-9]{{1,2}}),\s+(?P<year2>{_YEAR})"
    rf"|(?P<year3>{_YEAR}))"
)
EVENT_VERBS = _word_list(
    """
    founded established built completed published released discovered invented formed
    created opened signed born died crowned launched premiered composed painted written
    elected assassinated killed executed independent
    """
)
_EVENT = re.compile(rf"\b(?P<verb>{'|'.join(EVENT_VERBS)})\s+(?P<prep>in|on)\s+{_DATE}(?![0-9])")
_NUMBER = r"(?P<number>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"
_SCALE = r"(?:\s+(?P<scale>million|billion|thousand))?"
UNITS = {
    "km2": "sq km",
    "km²": "sq km",
    "sq km": "sq km",
    "square kilometres": "sq km",
    "square kilometers": "sq km",
    "sq mi": "sq mi",
    "square miles": "sq mi",
    "km": "km",
    "kilometres": "km",
    "kilometers": "km",
    "m": "m",
    "metres": "m",
    "meters": "m",
    "ft": "ft",
    "feet": "ft",
    "mi": "mi",
    "miles": "mi",
    "kg": "kg",
    "kilograms": "kg",
    "tonnes": "t",
    "%": "%",
    "percent": "%",
}
_UNIT = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
ATTRIBUTE_NOUNS = _word_list(
    """
    area population height length elevation depth diameter mass width altitude volume
    prominence
    """
)
_ATTRIBUTE = re.compile(
    rf"\b(?P<attribute>{'|'.join(ATTRIBUTE_NOUNS)})\s+of\s+(?:about|around|approximately|"
    rf"over|nearly|almost|roughly|some|more than|less than|just over|just under)?\s*"
    rf"{_NUMBER}{_SCALE}(?:\s*(?P<unit>{_UNIT}))?(?![\w²])"
)
_DIMENSION = re.compile(
    rf"{_NUMBER}\s*(?P<unit>km|kilometres|kilometers|m|metres|meters|ft|feet|mi|miles)"
    rf"\s+\(?[^)]{{0,20}}\)?\s*(?P<adjective>long|high|tall|deep|wide)\b"
)
DIMENSION_ATTRIBUTES = {
    "long": "length",
    "high": "height",
    "tall": "height",
    "deep": "depth",
    "wide": "width",
}
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
POPULATION_UNIT = "people"


def _number(text: str, scale: str | None) -> float:
    return float(text.replace(",", "")) * SCALES.get(scale or "", 1.0)


def _iso_date(match: re.Match[str]) -> tuple[str, str]:
    """(object_type, value) of a _DATE match: a full ISO date or a year."""
    day = match.group("day") or match.group("day2")
    month = match.group("month") or match.group("month2")
    year = match.group("year") or match.group("year2") or match.group("year3")
    if day and month:
        return DATE, f"{int(year):04d}-{MONTHS[month.lower()]:02d}-{int(day):02d}"
    return YEAR, year


def _sentence_subject(
    sentence: str, offset: int, position: int, linked: Sequence[_Linked], own: str | None
) -> str | None:
    """Whom a fact at `position` (a document offset) is about: the page's own entity when
    the sentence is about it (it opens with a pronoun, or the first mention is the page's
    own), else the nearest linked mention before the fact; None when there is none."""
    before = [m for m in linked if m.end <= position]
    if own and (_PRONOUN_OPENING.match(sentence) or (before and before[0].entity_id == own)):
        return own
    return before[-1].entity_id if before else None


def pattern_relations(
    documents: pl.DataFrame,
    mentions: pl.DataFrame,
    own_entities: dict[str, str],
    entity_types: dict[str, str | None],
) -> list[Relation]:
    """Typed attribute facts: life spans, dated events and quantities (see module docs)."""
    texts = dict(documents.select("doc_id", "text").iter_rows())
    descriptions = dict(documents.select("doc_id", "description").iter_rows())
    relations: list[Relation] = []
    for doc_id, own in sorted(own_entities.items()):
        relations.extend(_life_span_facts(doc_id, own, entity_types.get(own), descriptions, texts))
    # Every sentence of a page with an entity of its own ("It has an area of ...": no
    # mention needed), and every sentence with a linked mention elsewhere.
    linked_by_sentence = {
        (doc_id, s_start): linked
        for doc_id, _sent_id, s_start, _s_end, linked in _sentences_with_links(mentions)
    }
    docs_with_links = {doc_id for doc_id, _start in linked_by_sentence}
    for doc_id, text in sorted(texts.items()):
        own = own_entities.get(doc_id)
        if not text or (own is None and doc_id not in docs_with_links):
            continue
        for s_start, s_end in split_sentences(text):
            linked = linked_by_sentence.get((doc_id, s_start), [])
            if linked or own:
                relations.extend(_sentence_facts(text[s_start:s_end], s_start, doc_id, linked, own))
    return relations


def _pattern_fact(
    subject: str,
    predicate: str,
    object_type: str,
    value: str,
    evidence: str,
    doc_id: str,
    sent_id: str | None,
    confidence: float = 0.8,
    **extra,
) -> Relation:
    return Relation(
        subject_id=subject,
        predicate=predicate,
        object_type=object_type,
        object_value=value,
        extractor="pattern",
        extractor_version=PATTERN_VERSION,
        confidence=confidence,
        evidence=evidence,
        doc_id=doc_id,
        sentence_id=sent_id,
        parents=(doc_id, subject),
        **extra,
    )


def _life_span_facts(
    doc_id: str,
    own: str,
    entity_type: str | None,
    descriptions: dict[str, str | None],
    texts: dict[str, str | None],
) -> list[Relation]:
    """A life span in the page's description or its opening, about the page's own entity:
    a person is born and dies, anything else (an empire, a dynasty) starts and ends."""
    names = ("birth", "death") if entity_type == PERSON else ("start", "end")
    description = descriptions.get(doc_id) or ""
    if entity_type == PERSON and _OFFICE.search(description):
        description = ""  # "King of Wessex (871–886)": the years of the reign, not the life
    # The opening of the text counts only for a person, right after the name ("Ada
    # Lovelace (1815–1852) was ..."): elsewhere a span in the text dates someone else
    # ("The Fahrenheit scale ... Daniel Gabriel Fahrenheit (1686–1736)").
    opening = (texts.get(doc_id) or "")[:LIFESPAN_OPENING_CHARS] if entity_type == PERSON else ""
    for source in (description, opening):
        span = _LIFESPAN.search(source) or _BORN_YEAR.search(source)
        if not span:
            continue
        return [
            _pattern_fact(
                own,
                f"{name}_year",
                YEAR,
                span.group(group),
                source,
                doc_id,
                None,
                confidence=0.9,
                number=float(span.group(group)),
            )
            for group, name in zip(("birth", "death"), names, strict=True)
            if group in span.groupdict() and span.group(group)
        ]
    return []


def _sentence_facts(
    sentence: str, s_start: int, doc_id: str, linked: Sequence[_Linked], own: str | None
) -> list[Relation]:
    """Dated events and quantities stated in one sentence (document offset `s_start`)."""
    sent_id = sentence_id(doc_id, s_start)
    facts: list[Relation] = []

    def subject_at(match: re.Match[str]) -> str | None:
        return _sentence_subject(sentence, s_start, s_start + match.start(), linked, own)

    def quantity(subject: str, attribute: str, value: float, unit: str, confidence: float):
        text = f"{value:g} {unit}"
        return _pattern_fact(
            subject,
            attribute,
            QUANTITY,
            text,
            sentence,
            doc_id,
            sent_id,
            confidence=confidence,
            number=value,
            unit=unit,
        )

    for match in _EVENT.finditer(sentence):
        subject = subject_at(match)
        if subject is None:
            continue
        object_type, value = _iso_date(match)
        year = value[:4] if object_type == DATE else value
        predicate = f"{match.group('verb')} {match.group('prep')}"
        facts.append(
            _pattern_fact(
                subject,
                predicate,
                object_type,
                value,
                sentence,
                doc_id,
                sent_id,
                number=float(year),
            )
        )
    for match in _ATTRIBUTE.finditer(sentence):
        subject = subject_at(match)
        attribute = match.group("attribute")
        unit = UNITS.get(match.group("unit") or "") or (
            POPULATION_UNIT if attribute == "population" else None
        )
        if subject is None or unit is None:
            continue
        value = _number(match.group("number"), match.group("scale"))
        facts.append(quantity(subject, attribute, value, unit, 0.8))
    for match in _DIMENSION.finditer(sentence):
        subject = subject_at(match)
        if subject is None:
            continue
        unit = UNITS[match.group("unit")]
        value = _number(match.group("number"), None)
        attribute = DIMENSION_ATTRIBUTES[match.group("adjective")]
        facts.append(quantity(subject, attribute, value, unit, 0.7))
    return facts


# ---------------------------------------------------------------------------------------
# The Factbook's fields


class EntityResolver:
    """Names (as a source writes them) → entity ids, preferring entities of given types."""

    def __init__(self, entities: pl.DataFrame) -> None:
        self._by_key: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
        columns = ["entity_id", "name", "aliases", "entity_type"]
        described = "description" in entities.columns
        for row in entities.select(columns + (["description"] if described else [])).iter_rows():
            entity_id, name, aliases, entity_type = row[:4]
            if described and is_former_state(row[4]):
                continue  # "Macedonia (ancient kingdom)" is no border of Bulgaria today
            for alias in dict.fromkeys([name, *(aliases or [])]):
                key = normalize_alias(alias)
                if key:
                    self._by_key[key].append((entity_id, entity_type, name))

    def resolve(
        self, name: str, types: Iterable[str | None] = (), exclude: Iterable[str] = ()
    ) -> tuple[str, str] | None:
        """(entity id, entity name) for `name`: the only candidate, or the only one of the
        preferred types, never one of the `exclude`d types; None when unknown or still
        ambiguous."""
        excluded = set(exclude)
        for form in dict.fromkeys([name, strip_disambiguator(name)]):
            candidates = [
                c
                for c in dict.fromkeys(self._by_key.get(normalize_alias(form), []))
                if c[1] not in excluded
            ]
            if len(candidates) == 1:
                return candidates[0][0], candidates[0][2]
            preferred = [c for c in candidates if c[1] in set(types)]
            if len(preferred) == 1:
                return preferred[0][0], preferred[0][2]
        return None


def factbook_relations(
    entities: pl.DataFrame,
    countries: Sequence[Country],
    source_version: str,
    documents: pl.DataFrame | None = None,
) -> list[Relation]:
    """Capital, borders, languages, population and area of every Factbook country entity.

    Where `documents` hold the country's Factbook profile (replayed with the embedded
    default), each fact cites the profile's sentence that states it (`_profile_sentences`):
    doc id, sentence id and the sentence as evidence, so search can find it; otherwise the
    evidence names the Factbook field.
    """
    resolver = EntityResolver(entities)
    entity_of = dict(
        entities.filter(pl.col("factbook_code").is_not_null())
        .select("factbook_code", "entity_id")
        .iter_rows()
    )
    profiles: dict[str, tuple[str, str]] = {}  # url key → (doc id, text)
    if documents is not None:
        for doc_id, url, text in documents.select("doc_id", "url", "text").iter_rows():
            if url and text:
                profiles.setdefault(url_key(url), (doc_id, text))
    relations: list[Relation] = []
    for country in sorted(countries, key=lambda c: c.code):
        subject = entity_of.get(country.code)
        if subject is not None:
            profile = profiles.get(url_key(country.url))
            relations.extend(_country_facts(country, subject, resolver, source_version, profile))
    return relations


def _profile_sentences(country: Country, doc_id: str, text: str) -> dict[str, tuple[str, str]]:
    """predicate → (sentence id, sentence) of the profile sentences stating each field
    (the ones `factbook.key_sentences` writes)."""
    openings = {
        "capital": (f"The capital of {country.name} is ", f"{country.name} has "),
        "borders": (f"{country.name} borders ",),
        "official_language": ("The official language",),
        "population": (f"The population of {country.name} is ",),
        "area": (f"The total area of {country.name} is ",),
    }
    found: dict[str, tuple[str, str]] = {}
    for start, end in split_sentences(text):
        sentence = text[start:end]
        for predicate, prefixes in openings.items():
            if predicate not in found and sentence.startswith(prefixes):
                found[predicate] = (sentence_id(doc_id, start), sentence)
    return found


def _country_facts(
    country: Country,
    subject: str,
    resolver: EntityResolver,
    source_version: str,
    profile: tuple[str, str] | None = None,
) -> list[Relation]:
    """The typed edges and attributes of one Factbook country entity."""
    facts: list[Relation] = []
    doc_id = profile[0] if profile else None
    cited = _profile_sentences(country, *profile) if profile else {}

    def add(predicate, object_type, value, evidence, object_id=None, **extra):
        sent_id, sentence = cited.get(predicate, (None, None))
        parents = [doc_id, subject, object_id]
        facts.append(
            Relation(
                subject_id=subject,
                predicate=predicate,
                object_type=object_type,
                object_value=value,
                object_id=object_id,
                extractor="factbook",
                extractor_version=source_version,
                confidence=1.0,
                evidence=sentence or f"{country.name}, Factbook field '{predicate}': {evidence}",
                doc_id=doc_id,
                sentence_id=sent_id,
                parents=tuple(parent for parent in parents if parent),
                **extra,
            )
        )

    for capital in country.capitals:
        # A capital is a city: never the country of the same name (Luxembourg, Singapore) or
        # a country that once bore it (Quito was Ecuador's name under Spain).
        target = resolver.resolve(capital, (PLACE,), exclude=(COUNTRY,))
        add(
            "capital",
            ENTITY,
            target[1] if target else capital,
            capital,
            target[0] if target else None,
        )
    for border in country.borders:
        target = resolver.resolve(border.name, (COUNTRY, PLACE))
        length = f"{border.length_km:g} km" if border.length_km is not None else "?"
        add(
            "borders",
            ENTITY,
            target[1] if target else border.name,
            f"{border.name} {length}",
            target[0] if target else None,
            number=border.length_km,
            unit="km" if border.length_km is not None else None,
        )
    for language in country.languages:
        target = resolver.resolve(f"{language.name} language", (LANGUAGE,)) or (
            resolver.resolve(language.name, (LANGUAGE,))
        )
        official = " (official)" if language.official else ""
        add(
            "official_language" if language.official else "language",
            ENTITY,
            target[1] if target else language.name,
            f"{language.name}{official}",
            target[0] if target else None,
            number=language.share_percent,
            unit="%" if language.share_percent is not None else None,
        )
    if country.population is not None:
        add(
            "population",
            QUANTITY,
            f"{country.population} {POPULATION_UNIT}",
            f"{country.population:,} ({country.population_date or 'undated'})",
            number=float(country.population),
            unit=POPULATION_UNIT,
        )
    if country.area_total_sq_km is not None:
        add(
            "area",
            QUANTITY,
            f"{country.area_total_sq_km:g} sq km",
            f"{country.area_total_sq_km:,g} sq km",
            number=country.area_total_sq_km,
            unit="sq km",
        )
    return facts


def relation_rows(relations: Iterable[Relation]) -> pl.DataFrame:
    """`relations` rows (without run stamps); one row per distinct id, sorted by id.

    The id hashes subject, predicate, object (entity id or value) and where the evidence
    comes from (sentence, or extractor for Factbook fields), so the same fact read twice
    from one sentence is one row, and the same fact from two sentences is two.
    """
    rows: dict[str, list] = {column: [] for column in RELATION_ROW_SCHEMA}
    seen: set[str] = set()
    for relation in relations:
        relation_id = stable_id(
            "rel",
            relation.subject_id,
            relation.predicate,
            relation.object_id or relation.object_value,
            relation.sentence_id or relation.evidence,
            relation.extractor,
        )
        if relation_id in seen:
            continue
        seen.add(relation_id)
        values = {
            "relation_id": relation_id,
            "subject_id": relation.subject_id,
            "predicate": relation.predicate,
            "object_id": relation.object_id,
            "object_value": relation.object_value,
            "object_type": relation.object_type,
            "number": relation.number,
            "unit": relation.unit,
            "evidence": relation.evidence,
            "sentence_id": relation.sentence_id,
            "doc_id": relation.doc_id,
            "confidence": relation.confidence,
            "extractor": relation.extractor,
            "extractor_version": relation.extractor_version,
            "model_id": relation.model_id,
            "prompt_hash": relation.prompt_hash,
            "sampling": relation.sampling,
            "parent_ids": list(dict.fromkeys(p for p in relation.parents if p)),
        }
        for column in RELATION_ROW_SCHEMA:
            rows[column].append(values[column])
    return pl.DataFrame(rows, schema=RELATION_ROW_SCHEMA).sort("relation_id")


def own_entity_by_doc(entities: pl.DataFrame) -> dict[str, str]:
    """doc_id → the entity whose page the document is."""
    return dict(
        entities.filter(pl.col("doc_id").is_not_null()).select("doc_id", "entity_id").iter_rows()
    )
