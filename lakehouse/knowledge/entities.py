"""Entities: one per document, with Factbook countries merged into their pages.

Every document is a page entity (its title, URL, description, topic, a coarse type from
`entity_type_for`); its aliases are the title's variants (`aliases.title_aliases`), the anchor
texts of links pointing at its URL, and, for a country, the Factbook's names. Each Factbook
entry is matched to the page of the same country (`match_countries`, by normalized names in
tiers from exact title to alternative names) and merged into it; unmatched entries become
Factbook-only entities. Ids hash the canonical URL, so the same inputs give the same rows.
"""

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

import polars as pl

from lakehouse.ids import stable_id
from lakehouse.knowledge.aliases import (
    anchor_alias,
    clean_surface,
    normalize_alias,
    title_aliases,
)
from lakehouse.knowledge.factbook import Country
from lakehouse.tables import ENTITIES
from lakehouse.web.urls import normalize_url

CODE_VERSION = "entities-2"
ENTITY_ROW_SCHEMA = {**ENTITIES.columns, "parent_ids": pl.List(pl.String)}
LINK_COLUMNS = ("source_snapshot_id", "url", "text")
log = logging.getLogger("sailyard.entities")

SOURCE_PAGE = "page"
SOURCE_FACTBOOK = "factbook"
SOURCE_PAGE_FACTBOOK = "page+factbook"

COUNTRY = "country"
PERSON = "person"
PLACE = "place"
ORGANIZATION = "organization"
WORK = "work"
EVENT = "event"
ORGANISM = "organism"
LANGUAGE = "language"
SUBSTANCE = "substance"
CONCEPT = "concept"


def _nouns(words: str) -> frozenset[str]:
    return frozenset(words.split())


# The head noun of a page's short description says what the page is about ("Country in West
# Asia", "Russian composer (1840–1893)", "Family of birds"). Nouns are matched in the
# singular; the first table that holds the head wins, in this order.
HEAD_NOUN_TYPES: tuple[tuple[str, frozenset[str]], ...] = (
    # Historical polities count as countries ("Soviet Union: Country in Eurasia (1922-1991)").
    (
        COUNTRY,
        _nouns(
            "country microstate city-state empire kingdom caliphate sultanate khanate principality"
        ),
    ),
    (
        PERSON,
        _nouns(
            """
            person man woman king queen emperor empress pharaoh sultan caliph tsar czar shah khan
            monarch ruler prince princess duke duchess lord chancellor president minister
            politician statesman stateswoman leader founder revolutionary dictator general
            admiral commander soldier warrior conqueror explorer navigator aviator astronaut
            cosmonaut philosopher theologian scholar scientist physicist chemist biologist
            mathematician astronomer economist sociologist psychologist psychiatrist historian
            linguist anthropologist archaeologist geographer geologist botanist zoologist
            naturalist physician surgeon nurse inventor engineer architect painter sculptor
            artist illustrator photographer designer composer conductor pianist violinist
            guitarist singer songwriter rapper musician dancer actor actress comedian director
            filmmaker producer screenwriter writer author novelist poet playwright dramatist
            essayist journalist lyricist businessman businesswoman entrepreneur industrialist
            magnate banker lawyer jurist judge activist reformer educator teacher preacher
            missionary saint pope bishop cardinal priest monk nun rabbi imam prophet apostle
            mystic footballer athlete player boxer cyclist swimmer sprinter golfer wrestler
            racer pioneer polymath humanist feminist abolitionist
            """
        ),
    ),
    (
        PLACE,
        _nouns(
            """
            city capital town village metropolis megacity municipality settlement suburb
            river lake sea ocean gulf bay strait canal mountain range volcano peak
            peninsula island archipelago atoll desert forest rainforest valley plain plateau
            basin delta glacier waterfall reef region province state territory dependency
            county district prefecture continent subcontinent park reserve landmark monument
            tower building skyscraper cathedral church mosque temple palace castle fortress
            bridge dam stadium square street site
            """
        ),
    ),
    (
        ORGANIZATION,
        _nouns(
            """
            university college school academy institute company corporation conglomerate
            manufacturer organization organisation agency alliance league union
            party band team club bank airline museum library newspaper broadcaster
            federation confederation order
            """
        ),
    ),
    (
        WORK,
        _nouns(
            """
            film movie novel novella book album song single painting fresco mural sculpture
            statue play opera operetta ballet symphony concerto sonata oratorio requiem poem
            epic series sitcom franchise comic manga anime musical treatise essay anthem hymn
            trilogy saga manuscript
            """
        ),
    ),
    (
        EVENT,
        _nouns(
            """
            war battle revolution rebellion revolt uprising coup invasion siege conflict
            crisis pandemic epidemic famine genocide massacre disaster earthquake eruption
            election expedition voyage campaign assassination attack bombing tournament
            championship festival event
            """
        ),
    ),
    (
        ORGANISM,
        _nouns(
            """
            species genus subgenus subspecies clade phylum subphylum subfamily superfamily
            infraorder suborder breed cultivar mammal bird fish reptile amphibian insect
            plant tree shrub fungus bacterium animal
            """
        ),
    ),
    (LANGUAGE, _nouns("language dialect creole pidgin")),
    (
        SUBSTANCE,
        _nouns("element compound mineral molecule material alloy polymer mixture acid metal"),
    ),
    (
        CONCEPT,
        _nouns(
            """
            concept theory theorem hypothesis principle law equation function number constant
            quantity unit idea doctrine ideology philosophy belief religion movement
            discipline field branch science study method technique process phenomenon
            property disease disorder syndrome condition sport game genre style tradition
            practice term
            """
        ),
    ),
)
# Two-word heads whose last word alone would mislead ("Python: General-purpose programming
# language" is no language of people).
TWO_WORD_HEAD_TYPES = {
    "programming language": CONCEPT,
    "markup language": CONCEPT,
    "query language": CONCEPT,
    "video game": WORK,
    "power plant": CONCEPT,
    "sovereign state": COUNTRY,
    "island nation": COUNTRY,
}
# Taxonomic ranks that also have everyday meanings ("Order of the Garter", "Family law"):
# an organism only on a biology page.
BIOLOGY_RANKS = _nouns("family order class kingdom tribe division group")
BIOLOGY_TOPIC = "Biology and health sciences"
# A page of the recorded corpus filed under "People" is about a person unless its
# description says otherwise (a band is an organization by its head noun).
PEOPLE_TOPIC = "People"
MATHEMATICS_TOPIC = "Mathematics"
# The head phrase of a description ends before the first preposition, relative word or
# punctuation: "Bell tower in Pisa, Italy" → "bell tower".
_HEAD_END = re.compile(
    r"[,;:(]|\s(?:in|of|on|within|from|for|to|by|with|at|between|near|off|across|along|"
    r"around|about|as|that|which|who|whose|where|when|primarily|mainly|mostly|located|"
    r"based|founded|born|during|since|until|used|made|known|consisting)\b"
)
_WORD = re.compile(r"[\w'’-]+")
_LIFESPAN = re.compile(r"\((?:born|died|c\.|fl\.)?\s*\d{1,4}")


def head_noun(description: str | None) -> str | None:
    """The last word of a description's head phrase, lower case and singular, or None.

    "Bell towers in Pisa, Italy" → "tower"; a known two-word head is kept whole
    ("General-purpose programming language" → "programming language").
    """
    if not description:
        return None
    head = _HEAD_END.split(description.lower(), maxsplit=1)[0]
    words = _WORD.findall(head)
    if not words:
        return None
    last = _singular(words[-1])
    if len(words) > 1 and f"{words[-2]} {last}" in TWO_WORD_HEAD_TYPES:
        return f"{words[-2]} {last}"
    return last


# Words ending in "s" that are singular ("species", "series", "physics").
_INVARIANT_NOUNS = _nouns("species series news means crossroads")


def _singular(word: str) -> str:
    if word in _INVARIANT_NOUNS or word.endswith("ics"):
        return word
    for plural, singular in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(plural) and len(word) > len(plural) + 2:
            return word[: -len(plural)] + singular
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def entity_type_for(description: str | None, topic: str | None) -> str | None:
    """A coarse entity type from a page's description and topic, or None when unsure.

    Rules, first match wins: (1) the description's head noun (`head_noun`) in
    `TWO_WORD_HEAD_TYPES`, a taxonomic rank on a biology page, or `HEAD_NOUN_TYPES` ("Country
    in West Asia" → country, "Russian composer" → person, "River in Central Africa" → place,
    "1932 dystopian novel" → work, "Public research university" → organization, "Family of
    birds" on a biology page → organism, "Indo-European language" → language); (2) a page
    filed under People, or one without topic whose description gives a life span
    ("(1815–1852)") → person; (3) a Mathematics page → concept; otherwise None.
    """
    noun = head_noun(description)
    if noun is not None:
        if noun in TWO_WORD_HEAD_TYPES:
            return TWO_WORD_HEAD_TYPES[noun]
        if noun in BIOLOGY_RANKS and topic == BIOLOGY_TOPIC:
            return ORGANISM
        for entity_type, nouns in HEAD_NOUN_TYPES:
            if noun in nouns:
                return entity_type
    if topic == PEOPLE_TOPIC or (description and topic is None and _LIFESPAN.search(description)):
        return PERSON
    if topic == MATHEMATICS_TOPIC:
        return CONCEPT
    return None


# ---------------------------------------------------------------------------------------
# URLs and names used for matching


def canonical_url(url: str) -> str:
    """The URL an entity is identified by: `normalize_url`'s form (the input if it has none)."""
    return normalize_url(url) or url


def url_key(url: str) -> str:
    """Match key of a URL: canonical, percent-escapes decoded ("%28" and "(" are one page)."""
    return unquote(canonical_url(url))


# The name a summary opens with and the names it gives right after: "Myanmar, officially the
# Republic of the Union of Myanmar and also referred to as Burma, is a country ...".
_OPENING_SUBJECT = re.compile(r"^(?:The\s+)?(?P<name>[A-Z][^,;()]{0,60}?)(?=\s*[,(]|\s+is\b)")
_ALSO_NAMED = re.compile(
    r"\b(?:officially|formally|also known as|also referred to as|known officially as|"
    r"also called|known as)\s+(?:as\s+)?(?:the\s+)?(?P<name>[A-Z][^,;()]{0,80}?)"
    r"(?=\s*[,;(]|\s+(?:and|is|was|or)\b)"
)
OPENING_CHARS = 400  # the first sentence or two of a summary


def opening_names(text: str | None) -> list[str]:
    """Names a page's text gives its subject in its opening ("X, officially the Y, is ...")."""
    if not text:
        return []
    opening = text[:OPENING_CHARS]
    names = [match.group("name") for match in _ALSO_NAMED.finditer(opening)]
    subject = _OPENING_SUBJECT.match(opening)
    if subject:
        names.insert(0, subject.group("name"))
    return [clean_surface(name) for name in names]


def _keys(names: Iterable[str | None]) -> set[str]:
    return {key for name in names if name for key in [normalize_alias(name)] if key}


@dataclass
class PageEntity:
    """A page entity being built: its canonical document and what is merged into it."""

    url: str  # canonical URL
    doc_id: str
    title: str
    description: str | None
    topic: str | None
    text: str | None
    entity_type: str | None
    titles: list[str]  # titles of every document with this URL, canonical first
    parent_ids: set[str] = field(default_factory=set)
    country: Country | None = None

    @property
    def title_key(self) -> str:
        return normalize_alias(self.title)

    def alias_keys(self) -> set[str]:
        return _keys(alias for title in self.titles for alias in title_aliases(title))

    def opening_keys(self) -> set[str]:
        return _keys(opening_names(self.text))


@dataclass(frozen=True)
class _CountryKeys:
    exact: set[str]  # name and long name
    strong: set[str]  # their title aliases ("The Gambia" → "Gambia")
    weak: set[str]  # local and other names (former, abbreviations)


def _country_keys(country: Country) -> _CountryKeys:
    exact = _keys([country.name, country.long_name])
    strong = exact | _keys(
        alias for name in (country.name, country.long_name) if name for alias in title_aliases(name)
    )
    if "," in country.name and not re.search(r"\band\b|&", country.name):
        strong |= _keys(country.name.split(","))  # "Gaza, Gaza Strip" lists its names
    weak = _keys([*country.local_names, *country.other_names]) - strong
    return _CountryKeys(exact, strong, weak)


# Page types a Factbook entry may merge into when the page does not say "country": a
# territory, island or continent (Greenland, Antarctica), a union (the EU), or untyped.
MERGEABLE_NON_COUNTRY_TYPES = frozenset({PLACE, ORGANIZATION, None})


_ERA = r"(?:\s*(?:BC|BCE|AD|CE))?"
_CLOSED_YEAR_RANGE = re.compile(
    rf"\(\s*(?:c\.\s*)?\d{{1,4}}{_ERA}\s*[–—-]\s*(?:c\.\s*)?\d{{1,4}}{_ERA}\s*\)"
)


def is_former_state(description: str | None) -> bool:
    """Whether a page's description dates it with a closed range of years, as Wikipedia's
    short descriptions do for states that ended ("Country in Eurasia (1922–1991)")."""
    return bool(description and _CLOSED_YEAR_RANGE.search(description))


def match_countries(
    pages: list[PageEntity], countries: list[Country]
) -> tuple[dict[str, int], dict[str, str]]:
    """Which page each Factbook entry is (code → page index), and why others are not.

    Tiers, strongest first; every tier runs over all still-unmatched entries and pages, and
    a pair is accepted only when the entry has exactly one candidate page and that page
    exactly one candidate entry (ties are left to weaker tiers, then reported):
    1. a country page whose title is the entry's name or long name;
    2. a country page with a title variant equal to a variant of those ("Georgia
       (country)" ~ "Georgia");
    3. a country page whose opening names the entry ("Ireland, also known as the Republic
       of Ireland" ~ "Ireland");
    4. a country page named by one of the entry's local or other names ("Ivory Coast");
    5. a place/organization/untyped page whose title is the entry's name or long name
       (Greenland, Antarctica, European Union);
    6. such a page with a title variant equal to a variant of those.
    """
    keys = {country.code: _country_keys(country) for country in countries}
    page_titles = [page.title_key for page in pages]
    page_aliases = [page.alias_keys() for page in pages]
    page_openings = [
        page.opening_keys() if page.entity_type == COUNTRY else set() for page in pages
    ]
    # A former state ("Country in the Horn of Africa (1270–1974)") is not the country a
    # Factbook entry describes today, even when its page is the only one naming it.
    is_country = [
        page.entity_type == COUNTRY and not is_former_state(page.description) for page in pages
    ]
    mergeable = [page.entity_type in MERGEABLE_NON_COUNTRY_TYPES for page in pages]

    tiers = [
        lambda i, k: is_country[i] and page_titles[i] in k.exact,
        lambda i, k: is_country[i] and bool(page_aliases[i] & k.strong),
        lambda i, k: is_country[i] and bool(page_openings[i] & k.strong),
        lambda i, k: is_country[i] and bool((page_aliases[i] | page_openings[i]) & k.weak),
        lambda i, k: mergeable[i] and page_titles[i] in k.exact,
        lambda i, k: mergeable[i] and bool(page_aliases[i] & k.strong),
    ]
    # Index pages by every key any tier reads, so each entry only looks at its candidates.
    by_key: dict[str, set[int]] = defaultdict(set)
    for index in range(len(pages)):
        for key in {page_titles[index]} | page_aliases[index] | page_openings[index]:
            by_key[key].add(index)

    matched: dict[str, int] = {}
    taken: set[int] = set()
    ambiguous: dict[str, str] = {}
    for tier in tiers:
        candidates: dict[str, set[int]] = {}
        for country in countries:
            if country.code in matched:
                continue
            k = keys[country.code]
            pool = set().union(*(by_key.get(key, set()) for key in k.exact | k.strong | k.weak))
            found = {i for i in pool - taken if tier(i, k)}
            if found:
                candidates[country.code] = found
        claims = Counter(i for found in candidates.values() for i in found)
        for code, found in sorted(candidates.items()):
            if len(found) == 1 and claims[next(iter(found))] == 1:
                matched[code] = next(iter(found))
                taken.add(matched[code])
                ambiguous.pop(code, None)
            elif code not in ambiguous:
                titles = ", ".join(sorted(pages[i].title for i in found))
                ambiguous[code] = f"several candidate pages or entries: {titles}"
    unmatched = {
        country.code: ambiguous.get(country.code, "no page with a matching name")
        for country in countries
        if country.code not in matched
    }
    return matched, unmatched


# ---------------------------------------------------------------------------------------
# Building the table


FACTBOOK_TOPIC = "Geography"
# Factbook entries that are no country: the World and the European Union.
FACTBOOK_TYPE_OVERRIDES = {"xx": PLACE, "ee": ORGANIZATION}


def snapshot_links(snapshots: pl.DataFrame) -> pl.DataFrame:
    """The (source_snapshot_id, url, text) rows of the `links` column of web snapshots."""
    return (
        snapshots.select(pl.col("snapshot_id").alias("source_snapshot_id"), "links")
        .explode("links")
        .drop_nulls("links")
        .unnest("links")
        .select(LINK_COLUMNS)
    )


def _anchors_by_url_key(links: pl.DataFrame | None) -> dict[str, list[tuple[str, int, list[str]]]]:
    """url key → [(anchor text, times seen, source snapshot ids)], most frequent first."""
    if links is None or links.height == 0:
        return {}
    missing = [column for column in LINK_COLUMNS if column not in links.columns]
    if missing:
        raise ValueError(f"links need columns {list(LINK_COLUMNS)}; missing {missing}")
    grouped = (
        links.drop_nulls(["url", "text"])
        .group_by("url", "text")
        .agg(pl.len().alias("count"), pl.col("source_snapshot_id").unique().sort())
        .sort(["url", "count", "text"], descending=[False, True, False])
    )
    # Spellings of one URL ("%28" or "(") and of one anchor ("Ada  Lovelace") are summed.
    merged: dict[str, dict[str, tuple[int, set[str]]]] = defaultdict(dict)
    keys: dict[str, str] = {}
    for url, text, count, sources in grouped.iter_rows():
        alias = anchor_alias(text)
        if alias is None:
            continue
        key = keys.setdefault(url, url_key(url))
        seen, seen_sources = merged[key].get(alias, (0, set()))
        merged[key][alias] = (seen + count, seen_sources | {s for s in sources if s is not None})
    return {
        key: sorted(
            ((alias, count, sorted(sources)) for alias, (count, sources) in by_alias.items()),
            key=lambda entry: (-entry[1], entry[0]),
        )
        for key, by_alias in merged.items()
    }


def _pages(documents: pl.DataFrame, skip_url_keys: set[str]) -> tuple[list[PageEntity], dict]:
    """Page entities (one per URL key, the smallest doc id canonical) and the documents at
    skipped URL keys (Factbook pages), by key."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    columns = ["doc_id", "url", "title", "description", "topic", "text"]
    present = [column for column in columns if column in documents.columns]
    for row in documents.select(present).sort("doc_id").iter_rows(named=True):
        grouped[url_key(row["url"])].append(row)
    pages: list[PageEntity] = []
    skipped: dict[str, list[dict]] = {}
    for key in sorted(grouped):
        rows = grouped[key]
        if key in skip_url_keys:
            skipped[key] = rows
            continue
        first = rows[0]
        title = clean_surface(first.get("title") or "") or canonical_url(first["url"])
        titles = list(dict.fromkeys(clean_surface(r.get("title") or "") or title for r in rows))
        pages.append(
            PageEntity(
                url=canonical_url(first["url"]),
                doc_id=first["doc_id"],
                title=title,
                description=first.get("description"),
                topic=first.get("topic"),
                text=first.get("text"),
                entity_type=entity_type_for(first.get("description"), first.get("topic")),
                titles=titles,
                parent_ids={row["doc_id"] for row in rows},
            )
        )
    return pages, skipped


def _factbook_aliases(
    country: Country, taken_keys: set[str], shared_keys: set[str], own_title_key: str | None
) -> list[str]:
    """The Factbook's names for a country that may serve as its aliases.

    The name and long name (with their variants) always; a local or other name only when
    no other entity is titled by it ("Russian Empire", "Quito" are pages of their own) and
    no other Factbook entry has it too ("German East Africa").
    """
    aliases = [
        alias for name in (country.name, country.long_name) if name for alias in title_aliases(name)
    ]
    for name in (*country.local_names, *country.other_names):
        key = normalize_alias(name)
        if not key or key in shared_keys:
            continue
        if key in taken_keys and key != own_title_key:
            continue
        aliases.extend(title_aliases(name))
    return aliases


def _dedup_aliases(base: list[str], anchors: list[str]) -> list[str]:
    """`base` without repeats (spellings kept), then anchors whose match key is new."""
    result = list(dict.fromkeys(base))
    seen_keys = {normalize_alias(alias) for alias in result}
    for anchor in anchors:
        key = normalize_alias(anchor)
        if key and key not in seen_keys:
            seen_keys.add(key)
            result.append(anchor)
    return result


def _government_summary(country: Country) -> str | None:
    if not country.government_type:
        return None
    return country.government_type.split(";")[0].strip() or None


def build_entities(
    documents: pl.DataFrame,
    links: pl.DataFrame | None,
    countries: list[Country],
    min_anchor_count: int = 1,
) -> pl.DataFrame:
    """`entities` rows (without run stamps) for documents, their in-links and the Factbook.

    One entity per document URL (documents sharing a URL are one entity; all their doc ids
    are parents); Factbook entries merged into the page `match_countries` finds ("page+
    factbook"), the rest Factbook-only ("factbook", url = the Factbook page, doc_id null or
    the ingested Factbook document). Documents at a Factbook URL (ingested with
    `factbook.country_documents`) belong to their country's entity, never a page of their own.
    `links` holds (source_snapshot_id, url, text) rows (see `snapshot_links`); anchor texts
    seen at least `min_anchor_count` times become aliases of the page they point to, and their
    source snapshots its parents. Sorted by entity_id.
    """
    countries = sorted(countries, key=lambda country: country.code)
    factbook_keys: dict[str, Country] = {}
    for country in countries:
        key = url_key(country.url)
        if key in factbook_keys:
            other = factbook_keys[key].code
            raise ValueError(f"Factbook entries {other} and {country.code} share the URL {key}")
        factbook_keys[key] = country
    pages, factbook_docs = _pages(documents, set(factbook_keys))
    matched, unmatched = match_countries(pages, countries)
    log.info(
        "Factbook: %d of %d entries merged into pages; Factbook-only: %s",
        len(matched),
        len(countries),
        "; ".join(f"{code} ({why})" for code, why in sorted(unmatched.items())) or "none",
    )
    for code, index in matched.items():
        pages[index].country = next(c for c in countries if c.code == code)

    anchors = _anchors_by_url_key(links)
    # Keys that title some entity: page titles and Factbook names, for the alias conflict rule.
    title_keys = {page.title_key for page in pages} | _keys(
        name for country in countries for name in (country.name, country.long_name)
    )
    name_counts = Counter(
        key for country in countries for key in _keys([*country.local_names, *country.other_names])
    )
    shared_keys = {key for key, count in name_counts.items() if count > 1}

    rows: dict[str, list] = {column: [] for column in ENTITY_ROW_SCHEMA}

    def add_row(values: dict) -> None:
        for column in ENTITY_ROW_SCHEMA:
            rows[column].append(values.get(column))

    def anchor_parts(keys: list[str]) -> tuple[list[str], set[str]]:
        texts: list[str] = []
        sources: set[str] = set()
        for key in keys:
            for text, count, source_ids in anchors.get(key, []):
                if count >= min_anchor_count:
                    texts.append(text)
                    sources.update(source_ids)
        return texts, sources

    for page in pages:
        country = page.country
        own_keys = [url_key(page.url)]
        base = [alias for title in page.titles for alias in title_aliases(title)]
        parents = set(page.parent_ids)
        entity_type = page.entity_type
        source = SOURCE_PAGE
        if country is not None:
            source = SOURCE_PAGE_FACTBOOK
            fb_key = url_key(country.url)
            own_keys.append(fb_key)
            parents.update(row["doc_id"] for row in factbook_docs.get(fb_key, []))
            base += _factbook_aliases(country, title_keys, shared_keys, page.title_key)
            if entity_type not in (COUNTRY, PLACE):
                entity_type = FACTBOOK_TYPE_OVERRIDES.get(country.code, COUNTRY)
        anchor_texts, anchor_sources = anchor_parts(own_keys)
        add_row(
            {
                "entity_id": stable_id("ent", page.url),
                "name": page.title,
                "url": page.url,
                "description": page.description,
                "entity_type": entity_type,
                "topic": page.topic,
                "aliases": _dedup_aliases(base, anchor_texts),
                "source": source,
                "doc_id": page.doc_id,
                "factbook_code": country.code if country else None,
                "parent_ids": sorted(parents | anchor_sources),
            }
        )

    matched_codes = set(matched)
    for country in countries:
        if country.code in matched_codes:
            continue
        url = canonical_url(country.url)
        fb_docs = factbook_docs.get(url_key(url), [])
        anchor_texts, anchor_sources = anchor_parts([url_key(url)])
        base = _factbook_aliases(country, title_keys, shared_keys, normalize_alias(country.name))
        add_row(
            {
                "entity_id": stable_id("ent", url),
                "name": country.name,
                "url": url,
                "description": _government_summary(country),
                "entity_type": FACTBOOK_TYPE_OVERRIDES.get(country.code, COUNTRY),
                "topic": FACTBOOK_TOPIC,
                "aliases": _dedup_aliases(base, anchor_texts),
                "source": SOURCE_FACTBOOK,
                "doc_id": fb_docs[0]["doc_id"] if fb_docs else None,
                "factbook_code": country.code,
                "parent_ids": sorted({row["doc_id"] for row in fb_docs} | anchor_sources),
            }
        )
    frame = pl.DataFrame(rows, schema=ENTITY_ROW_SCHEMA).sort("entity_id")
    duplicated = frame.filter(pl.col("entity_id").is_duplicated())
    if duplicated.height:  # two canonical URLs that hash alike: a bug, never silent
        raise ValueError(f"duplicate entity ids for URLs {duplicated['url'].to_list()}")
    return frame
