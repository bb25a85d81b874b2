"""Mentions: every occurrence of a known entity's alias in every document sentence, linked.

Two steps. `find_surface_matches` runs one Aho-Corasick automaton over every alias key of every
entity (`AliasIndex`) across the documents' match keys (`match_text`), keeps the longest
non-overlapping matches ("Roman Empire" wins over "Empire") and maps each back to an exact
character span and its sentence. `link_mentions` then decides, per match, which entity it
names, or that it names none:

- `self`: the document's own entity is a candidate (a page naming its subject);
- `unique_alias`: exactly one candidate and the surface form is no ordinary word;
- `context`: several candidates ("Mercury": planet, element, god) or an ordinary word that
  is also a title ("Empire", "Republic"): each candidate is scored by the cosine similarity
  of the sentence (with its page title) to the candidate's description, plus a popularity
  prior; "no entity" (NIL) is a candidate too, with the prior the corpus gives it (how often
  the word is written in lower case mid-sentence) and a fixed similarity. The best wins;
  mentions won by NIL or scoring below `min_score` are kept unlinked with their best guess.
- `lowercase_proper_name`: a lower-case surface of a name that is always capitalized (a
  person, place, work...) is an ordinary word ("china" the porcelain is not China), unlinked;
- `inside_longer_name`: a capitalized match glued to another capitalized word ("New
  [Mexico]", "The [New York] Times", "Caspian [Sea]", even on the page's own subject:
  "[Managua] Department"), or joined to one by "of (the)" ("Kingdom of [Poland]", "[United
  States] of Indonesia"), is part of a longer name the graph does not know, unlinked. Titles
  ("King", "Pope", "Queen of France") and function words do not count.
"""

import bisect
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ahocorasick
import numpy as np
import polars as pl

from lakehouse.ids import stable_id
from lakehouse.index.chunking import split_sentences
from lakehouse.knowledge.aliases import GENERIC_WORDS, is_generic_alias, title_aliases
from lakehouse.knowledge.entities import (
    COUNTRY,
    EVENT,
    ORGANIZATION,
    PERSON,
    PLACE,
    WORK,
)
from lakehouse.knowledge.match_text import match_key, match_text, pattern_for
from lakehouse.tables import MENTIONS

CODE_VERSION = "mentions-3"
MENTION_ROW_SCHEMA = {**MENTIONS.columns, "parent_ids": pl.List(pl.String)}
log = logging.getLogger("sailyard.mentions")

SELF = "self"
UNIQUE_ALIAS = "unique_alias"
CONTEXT = "context"
NIL_CONTEXT = "nil_context"  # unlinked: no candidate beat "no entity"
LOW_SCORE = "low_score"  # unlinked: the best candidate scored below min_score
LOWERCASE_PROPER_NAME = "lowercase_proper_name"  # unlinked: see the module docstring
INSIDE_LONGER_NAME = "inside_longer_name"  # unlinked: see the module docstring
LINKED_METHODS = (SELF, UNIQUE_ALIAS, CONTEXT)
UNLINKED_METHODS = (NIL_CONTEXT, LOW_SCORE, LOWERCASE_PROPER_NAME, INSIDE_LONGER_NAME)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words written before a name without being part of it ("King Henry VIII", "Pope Leo X").
TITLE_WORDS = _words(
    """
    king queen pope president emperor empress saint st sir dr general prince princess duke
    duchess lord lady tsar czar sultan caliph pharaoh chancellor admiral captain bishop
    archbishop cardinal professor mr mrs ms shah emir khan earl baron count countess marquess
    viceroy governor minister
    """
)
_WORD_BEFORE = re.compile(r"([\w'’-]+) $")
_WORD_AFTER = re.compile(r"^ ([\w'’-]+)")
# Names joined by "of (the)": "Kingdom of [Poland]", "Sea of [Japan]", "[United States] of
# Indonesia". A title before "of" ("Queen of France") names a person of that country.
_OF_BEFORE = re.compile(r"([\w'’-]+) of (?:the )?$")
_OF_AFTER = re.compile(r"^ of (?:the )?([\w'’-]+)")
# Types whose names are proper nouns, capitalized wherever they are written.
PROPER_NAME_TYPES = frozenset({PERSON, PLACE, COUNTRY, ORGANIZATION, WORK, EVENT})
DESCRIPTION_OPENING_CHARS = 300  # the first sentence or two of an entity's page
SENTENCE_EMBED_BATCH = 2048

Embed = Callable[[Sequence[str]], np.ndarray]  # texts → L2-normalized vectors


@dataclass(frozen=True)
class LinkSettings:
    """How matches become links. Defaults calibrated on the English summaries (see below)."""

    context_weight: float = 0.7  # weight of the similarity; the prior gets the rest
    # Similarity credited to NIL ("no entity here"). MiniLM cosine of a sentence with an
    # unrelated entity description is ~0.0-0.2, with the right one ~0.35-0.7 (read on 60
    # context decisions of the smoke slice).
    nil_similarity: float = 0.25
    min_score: float = 0.3  # below this the best candidate is not trusted (kept unlinked)
    # A one-word alias key written in lower case in at least this share of its mid-sentence
    # occurrences is an ordinary word ("empire", "republic"): it needs context to link.
    common_word_share: float = 0.3
    min_common_word_occurrences: int = 3  # fewer occurrences say nothing about the word


@dataclass(frozen=True)
class AliasIndex:
    """Every matchable alias key → the entities it may name, in one automaton."""

    automaton: ahocorasick.Automaton
    candidates: dict[str, tuple[str, ...]]  # alias key → entity ids, sorted
    entity_types: dict[str, str | None]
    capitalized_keys: frozenset[tuple[str, str]]  # (entity id, key) written capitalized only
    # Keys of names whose own title is written in lower case ("asyncio", "sys.path"): that
    # they appear in lower case mid-sentence says nothing about them being ordinary words.
    lowercase_title_keys: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.candidates)


def build_alias_index(entities: pl.DataFrame) -> AliasIndex:
    """The alias automaton of `entities` (entity_id, name, aliases, entity_type).

    Generic aliases (`is_generic_alias`: "US", "1984", "Yes") are left out: they are true
    names of their entity but never matched alone.
    """
    candidates: dict[str, set[str]] = defaultdict(set)
    lowercase_seen: set[tuple[str, str]] = set()
    lowercase_titles: set[str] = set()
    entity_types: dict[str, str | None] = {}
    for entity_id, name, aliases, entity_type in entities.select(
        "entity_id", "name", "aliases", "entity_type"
    ).iter_rows():
        entity_types[entity_id] = entity_type
        for title in title_aliases(name or ""):
            if title[0].islower() and not is_generic_alias(title):
                lowercase_titles.add(match_key(title))
        for alias in [name, *(aliases or [])]:
            if not alias or is_generic_alias(alias):
                continue
            key = match_key(alias)
            if not key:
                continue
            candidates[key].add(entity_id)
            if alias[0].islower():
                lowercase_seen.add((entity_id, key))
    automaton = ahocorasick.Automaton()
    for key in candidates:
        automaton.add_word(pattern_for(key), key)
    if candidates:
        automaton.make_automaton()
    capitalized = frozenset(
        (entity_id, key)
        for key, ids in candidates.items()
        for entity_id in ids
        if (entity_id, key) not in lowercase_seen
    )
    return AliasIndex(
        automaton,
        {key: tuple(sorted(ids)) for key, ids in candidates.items()},
        entity_types,
        capitalized,
        frozenset(lowercase_titles),
    )


@dataclass(frozen=True, slots=True)
class SurfaceMatch:
    """One alias occurrence in a document, before linking."""

    doc_id: str
    sentence_index: int
    sentence_start: int
    sentence_end: int
    start: int
    end: int
    surface: str
    key: str
    at_sentence_start: bool
    inside_longer_name: bool = False


def _longest_non_overlapping(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Longest matches first, each kept only if it overlaps none kept before; by start."""
    kept: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for start, end, key in sorted(spans, key=lambda span: (span[0] - span[1], span[0])):
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        kept.append((start, end, key))
        taken.append((start, end))
    return sorted(kept)


def _is_name_word(word: str | None) -> bool:
    """A capitalized word that may continue a name (not a function word or a title)."""
    if not word or not word[0].isupper():
        return False
    lowered = word.lower().rstrip(".")
    return lowered not in GENERIC_WORDS and lowered not in TITLE_WORDS


def inside_longer_name(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is glued (by one space, or by "of (the)") to a capitalized
    name word: "New [Mexico]", "Kingdom of [Poland]", "[United States] of Indonesia"."""
    if not text[start : start + 1].isupper():
        return False
    window_start = max(0, start - 40)
    following = text[end : end + 40]
    neighbours = [
        _WORD_BEFORE.search(text, window_start, start),
        _WORD_AFTER.match(following),
        _OF_BEFORE.search(text, window_start, start),
        _OF_AFTER.match(following),
    ]
    return any(_is_name_word(found.group(1)) for found in neighbours if found)


def matches_in_text(doc_id: str, text: str, index: AliasIndex) -> list[SurfaceMatch]:
    """The longest non-overlapping alias matches of one document, with their sentences."""
    if not text or not index.candidates:
        return []
    keyed = match_text(text)
    spans = []
    for key_end, key in index.automaton.iter(keyed.key):
        # The pattern " key " ends at key_end (its closing space); the key itself is inside.
        inner_start = key_end - len(key)
        spans.append((inner_start, key_end, key))
    sentences = split_sentences(text)
    starts = [start for start, _end in sentences]
    matches = []
    for key_start, key_stop, key in _longest_non_overlapping(spans):
        start, end = keyed.span(key_start, key_stop)
        position = max(bisect.bisect_right(starts, start) - 1, 0)
        sentence_start, sentence_end = sentences[position] if sentences else (0, len(text))
        matches.append(
            SurfaceMatch(
                doc_id=doc_id,
                sentence_index=position,
                sentence_start=sentence_start,
                sentence_end=sentence_end,
                start=start,
                end=end,
                surface=text[start:end],
                key=key,
                at_sentence_start=start == sentence_start,
                inside_longer_name=inside_longer_name(text, start, end),
            )
        )
    return matches


def find_surface_matches(documents: pl.DataFrame, index: AliasIndex) -> list[SurfaceMatch]:
    """Every alias match in every document (doc_id, text), in document order."""
    matches: list[SurfaceMatch] = []
    for doc_id, text in documents.select("doc_id", "text").sort("doc_id").iter_rows():
        matches.extend(matches_in_text(doc_id, text, index))
    return matches


def common_word_shares(matches: Sequence[SurfaceMatch], min_occurrences: int) -> dict[str, float]:
    """Per one-word alias key: the share of its mid-sentence occurrences written lower case.

    The corpus's own evidence that a title is also an ordinary word: "empire" is written in
    lower case far more often than "Napoleon". Keys seen fewer than `min_occurrences` times
    mid-sentence are left out (no evidence either way).
    """
    total: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for match in matches:
        if " " in match.key or match.at_sentence_start:
            continue
        total[match.key] += 1
        if match.surface.islower():
            lower[match.key] += 1
    return {key: lower[key] / n for key, n in total.items() if n >= min_occurrences}


@dataclass(frozen=True, slots=True)
class Decision:
    entity_id: str | None  # the linked entity, None when unlinked
    best_candidate: str | None
    score: float
    method: str


def _entity_texts(entities: pl.DataFrame, documents: pl.DataFrame) -> dict[str, str]:
    """What each entity is, as the context scorer reads it: name, description, page opening."""
    openings = dict(
        documents.select(
            "doc_id", pl.col("text").str.slice(0, DESCRIPTION_OPENING_CHARS)
        ).iter_rows()
    )
    texts = {}
    for entity_id, name, description, doc_id in entities.select(
        "entity_id", "name", "description", "doc_id"
    ).iter_rows():
        parts = [name or "", description or "", openings.get(doc_id) or ""]
        texts[entity_id] = ". ".join(part for part in parts if part)
    return texts


def link_mentions(
    matches: Sequence[SurfaceMatch],
    entities: pl.DataFrame,
    documents: pl.DataFrame,
    index: AliasIndex,
    embed: Embed,
    settings: LinkSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Decision]:
    """One `Decision` per match (same order): which entity it names, how sure, and why."""
    settings = settings or LinkSettings()
    own_entity = dict(
        entities.filter(pl.col("doc_id").is_not_null()).select("doc_id", "entity_id").iter_rows()
    )
    shares = common_word_shares(matches, settings.min_common_word_occurrences)
    for key in index.lowercase_title_keys & set(shares):
        shares[key] = 0.0  # a lower-case name in lower case is no ordinary word
    decisions: list[Decision | None] = [None] * len(matches)
    popularity: Counter[str] = Counter()
    needs_context: list[int] = []
    for position, match in enumerate(matches):
        candidates = index.candidates[match.key]
        own = own_entity.get(match.doc_id)
        if match.inside_longer_name:  # before `self`: "[Managua] Department" on Managua's page
            guess = own if own in candidates else candidates[0]
            decisions[position] = Decision(None, guess, 0.0, INSIDE_LONGER_NAME)
            continue
        if own in candidates:
            decisions[position] = Decision(own, own, 1.0, SELF)
            popularity[own] += 1
            continue
        if match.surface.islower() and all(
            index.entity_types.get(entity_id) in PROPER_NAME_TYPES
            and (entity_id, match.key) in index.capitalized_keys
            for entity_id in candidates
        ):
            decisions[position] = Decision(None, candidates[0], 0.0, LOWERCASE_PROPER_NAME)
            continue
        if len(candidates) == 1 and shares.get(match.key, 0.0) < settings.common_word_share:
            decisions[position] = Decision(candidates[0], candidates[0], 1.0, UNIQUE_ALIAS)
            popularity[candidates[0]] += 1
            continue
        needs_context.append(position)

    if needs_context:
        _decide_by_context(
            [matches[p] for p in needs_context],
            needs_context,
            decisions,
            entities,
            documents,
            index,
            embed,
            shares,
            popularity,
            settings,
            progress,
        )
    return [decision for decision in decisions if decision is not None]


def _sentence_text(match: SurfaceMatch, texts: dict[str, str], titles: dict[str, str]) -> str:
    sentence = texts[match.doc_id][match.sentence_start : match.sentence_end]
    title = titles.get(match.doc_id)
    return f"{title}: {sentence}" if title else sentence


def _decide_by_context(
    pending: list[SurfaceMatch],
    positions: list[int],
    decisions: list[Decision | None],
    entities: pl.DataFrame,
    documents: pl.DataFrame,
    index: AliasIndex,
    embed: Embed,
    shares: dict[str, float],
    popularity: Counter[str],
    settings: LinkSettings,
    progress: Callable[[int, int], None] | None,
) -> None:
    doc_texts = dict(documents.select("doc_id", "text").iter_rows())
    titles = dict(documents.select("doc_id", "title").iter_rows())
    sentence_keys = sorted({(m.doc_id, m.sentence_start, m.sentence_end) for m in pending})
    sentence_row = {key: row for row, key in enumerate(sentence_keys)}
    sentence_texts = [
        _sentence_text(SurfaceMatch(d, 0, s, e, s, s, "", "", True), doc_texts, titles)
        for d, s, e in sentence_keys
    ]
    candidate_ids = sorted({c for m in pending for c in index.candidates[m.key]})
    candidate_row = {entity_id: row for row, entity_id in enumerate(candidate_ids)}
    entity_texts = _entity_texts(
        entities.filter(pl.col("entity_id").is_in(candidate_ids)), documents
    )
    total = len(sentence_texts) + len(candidate_ids)
    entity_vectors = embed([entity_texts.get(entity_id, "") for entity_id in candidate_ids])
    if progress:
        progress(len(candidate_ids), total)
    sentence_vectors = np.zeros((len(sentence_texts), entity_vectors.shape[1]), np.float32)
    for start in range(0, len(sentence_texts), SENTENCE_EMBED_BATCH):
        stop = min(start + SENTENCE_EMBED_BATCH, len(sentence_texts))
        sentence_vectors[start:stop] = embed(sentence_texts[start:stop])
        if progress:
            progress(len(candidate_ids) + stop, total)

    weight = settings.context_weight
    for position, match in zip(positions, pending, strict=True):
        candidates = index.candidates[match.key]
        nil_prior = shares.get(match.key, 0.0)
        counts = np.array([popularity[c] + 1 for c in candidates], dtype=np.float64)
        priors = (1.0 - nil_prior) * counts / counts.sum()
        vector = sentence_vectors[
            sentence_row[(match.doc_id, match.sentence_start, match.sentence_end)]
        ]
        similarity = entity_vectors[[candidate_row[c] for c in candidates]] @ vector
        scores = weight * similarity + (1.0 - weight) * priors
        best = int(np.argmax(scores))
        best_id, best_score = candidates[best], float(scores[best])
        nil_score = weight * settings.nil_similarity + (1.0 - weight) * nil_prior
        if best_score <= nil_score:
            decisions[position] = Decision(None, best_id, best_score, NIL_CONTEXT)
        elif best_score < settings.min_score:
            decisions[position] = Decision(None, best_id, best_score, LOW_SCORE)
        else:
            decisions[position] = Decision(best_id, best_id, best_score, CONTEXT)


def mention_rows(
    matches: Sequence[SurfaceMatch], decisions: Sequence[Decision], index: AliasIndex
) -> pl.DataFrame:
    """`mentions` rows (without run stamps) for matches and their decisions."""
    if len(matches) != len(decisions):
        raise ValueError(f"{len(matches)} matches but {len(decisions)} decisions")
    rows: dict[str, list] = {column: [] for column in MENTION_ROW_SCHEMA}
    for match, decision in zip(matches, decisions, strict=True):
        values = {
            "mention_id": stable_id("men", match.doc_id, str(match.start), str(match.end)),
            "doc_id": match.doc_id,
            "sentence_id": sentence_id(match.doc_id, match.sentence_start),
            "sentence_start": match.sentence_start,
            "sentence_end": match.sentence_end,
            "start_char": match.start,
            "end_char": match.end,
            "surface": match.surface,
            "alias_key": match.key,
            "entity_id": decision.entity_id,
            "best_candidate_id": decision.best_candidate,
            "n_candidates": len(index.candidates[match.key]),
            "score": decision.score,
            "method": decision.method,
            "parent_ids": [match.doc_id, *([decision.entity_id] if decision.entity_id else [])],
        }
        for column in MENTION_ROW_SCHEMA:
            rows[column].append(values[column])
    return pl.DataFrame(rows, schema=MENTION_ROW_SCHEMA).sort("mention_id")


def sentence_id(doc_id: str, sentence_start: int) -> str:
    """Stable id of a document sentence: its document and its start offset."""
    return stable_id("sen", doc_id, str(sentence_start))


def build_mentions(
    documents: pl.DataFrame,
    entities: pl.DataFrame,
    embed: Embed,
    settings: LinkSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """The `mentions` table (without run stamps): find every alias match, then link it."""
    index = build_alias_index(entities)
    matches = find_surface_matches(documents, index)
    decisions = link_mentions(matches, entities, documents, index, embed, settings, progress)
    by_method = Counter(decision.method for decision in decisions)
    log.info("%d alias keys; %d matches: %s", len(index), len(matches), dict(by_method))
    return mention_rows(matches, decisions, index)
