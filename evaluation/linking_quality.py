"""Entity-linking quality against the hyperlinks of a site: gold items, scoring, a baseline.

A site's links are a gold standard nobody labeled here: on page A, the anchor text of a link to
page B names B. Hide the links, link A's text, and compare.

- `gold_items`: one item per (source document, anchor match key) whose links all point to the
  same page entity. A link row is dropped, with a counted reason (`GoldDrop`), when its
  source is no document, its anchor names nothing (`anchor_alias`: "[1]", "next", a URL),
  its target is no entity, it points at its own page (fragment-only links "#x" are
  normalized to the page itself), or its anchor does not occur in the source's text. Anchors
  are compared by their match key (`match_key`: the key mentions are matched by), as whole
  words. A key of one page pointing at several entities is ambiguous: kept apart, not scored.
- `score_items`: per gold item, the mentions of the same document with the same alias key
  (normalized, not exact, comparison); their majority entity (unlinked counts as a vote) is
  the prediction. Outcome: correct, wrong, unlinked (a match the linker left unlinked), or
  no match (no mention of that key: no entity has it as an alias, or a longer overlapping
  match won).
- `summarize`: precision = correct / predicted-linked, recall = correct / all items, F1, and
  the same per linking method.
- `naive_decisions`: the baseline linker on the same matches: own page if a candidate, else
  the unique candidate, else the most popular one (most unique-candidate matches); no
  context, no NIL.
- `with_code_doc_aliases`: an alias experiment that reads titles and text only, never the
  links: module names from "os.path — Common pathname manipulations¶" titles
  (`heading_aliases`) and the dotted names written under them ("os.path.join",
  `qualified_names`).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from lakehouse.knowledge.aliases import anchor_alias, clean_surface
from lakehouse.knowledge.entities import url_key
from lakehouse.knowledge.match_text import match_key, match_text
from lakehouse.knowledge.mentions import SELF, UNIQUE_ALIAS, AliasIndex, Decision, SurfaceMatch

MOST_POPULAR = "most_popular"  # naive baseline: the candidate with most unique-alias matches

CORRECT = "correct"
WRONG = "wrong"
UNLINKED = "unlinked"
NO_MATCH = "no_match"
OUTCOMES = (CORRECT, WRONG, UNLINKED, NO_MATCH)
# Why a gold item has no mention: no entity has the anchor's key as an alias, or one has but a
# longer match overlapping it won (the anchor occurs in the text, so nothing else is left).
NO_ALIAS = "no_alias"
ALIAS_OVERLAPPED = "alias_overlapped"

GOLD_SCHEMA = {
    "doc_id": pl.String,
    "anchor": pl.String,  # the anchor text seen most often for this key on this page
    "anchor_key": pl.String,
    "gold_entity_id": pl.String,
    "n_links": pl.UInt32,  # link rows merged into the item
}
AMBIGUOUS_SCHEMA = {
    "doc_id": pl.String,
    "anchor": pl.String,
    "anchor_key": pl.String,
    "gold_entity_ids": pl.List(pl.String),
}
SCORED_SCHEMA = {
    **GOLD_SCHEMA,
    "predicted_entity_id": pl.String,
    "method": pl.String,  # of the winning vote; null when no mention
    "n_mentions": pl.UInt32,
    "outcome": pl.String,
    "no_match_reason": pl.String,
}


class GoldDrop(StrEnum):
    """Why a link row gives no gold item."""

    SOURCE_NOT_A_DOCUMENT = "source_not_a_document"  # a rejected page, a non-HTML fetch
    NOT_A_NAME = "anchor_not_a_name"  # `anchor_alias` rejects it, or its match key is empty
    TARGET_NOT_AN_ENTITY = "target_not_an_entity"  # another site, a rejected page, a file
    SELF_LINK = "self_link"  # to its own page (fragment-only links included)
    NOT_IN_TEXT = "anchor_not_in_text"  # the anchor is navigation or was not extracted


@dataclass(frozen=True)
class Gold:
    """Gold items, ambiguous (page, anchor) pairs, and the link rows dropped by reason."""

    items: pl.DataFrame  # GOLD_SCHEMA
    ambiguous: pl.DataFrame  # AMBIGUOUS_SCHEMA
    dropped: Counter[str]
    n_links: int


def _occurs(key: str, keyed_text: str) -> bool:
    return f" {key} " in keyed_text


def gold_items(links: pl.DataFrame, documents: pl.DataFrame, entities: pl.DataFrame) -> Gold:
    """The gold items of link rows (source_snapshot_id, url, text; see `snapshot_links`).

    `documents` need doc_id, snapshot_id and text; `entities` entity_id, url and doc_id (a
    page entity's own document). See the module docstring for the rules.
    """
    doc_of_snapshot = dict(documents.select("snapshot_id", "doc_id").iter_rows())
    texts = dict(documents.select("doc_id", "text").iter_rows())
    entity_of_url = {
        url_key(url): entity for entity, url in entities.select("entity_id", "url").iter_rows()
    }
    own_entity = dict(entities.drop_nulls("doc_id").select("doc_id", "entity_id").iter_rows())
    dropped: Counter[str] = Counter()
    keyed: dict[str, str] = {}
    # (doc, key) → target → anchor texts seen
    kept: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for snapshot_id, url, text in links.select("source_snapshot_id", "url", "text").iter_rows():
        doc_id = doc_of_snapshot.get(snapshot_id)
        if doc_id is None:
            dropped[GoldDrop.SOURCE_NOT_A_DOCUMENT] += 1
            continue
        anchor = anchor_alias(text)
        key = match_key(anchor) if anchor else ""
        if not key:
            dropped[GoldDrop.NOT_A_NAME] += 1
            continue
        target = entity_of_url.get(url_key(url)) if url else None
        if target is None:
            dropped[GoldDrop.TARGET_NOT_AN_ENTITY] += 1
            continue
        if target == own_entity.get(doc_id):
            dropped[GoldDrop.SELF_LINK] += 1
            continue
        if doc_id not in keyed:
            keyed[doc_id] = match_text(texts.get(doc_id) or "").key
        if not _occurs(key, keyed[doc_id]):
            dropped[GoldDrop.NOT_IN_TEXT] += 1
            continue
        kept[(doc_id, key)][target][anchor] += 1

    items: list[tuple] = []
    ambiguous: list[tuple] = []
    for (doc_id, key), targets in sorted(kept.items()):
        surfaces = sum(targets.values(), Counter())
        anchor = min(surfaces, key=lambda surface: (-surfaces[surface], surface))
        if len(targets) > 1:
            ambiguous.append((doc_id, anchor, key, sorted(targets)))
            continue
        ((target, counts),) = targets.items()
        items.append((doc_id, anchor, key, target, sum(counts.values())))
    return Gold(
        items=pl.DataFrame(items, schema=GOLD_SCHEMA, orient="row"),
        ambiguous=pl.DataFrame(ambiguous, schema=AMBIGUOUS_SCHEMA, orient="row"),
        dropped=dropped,
        n_links=links.height,
    )


def majority_vote(votes: Sequence[tuple[str | None, str]]) -> tuple[str | None, str]:
    """(entity, method) of the most common entity among (entity_id | None, method) votes.

    Ties go to a linked entity over "unlinked", then to the smallest entity id; the method is
    the most common one among the winner's votes (ties: alphabetical).
    """
    if not votes:
        raise ValueError("no votes")
    counts = Counter(entity for entity, _method in votes)
    winner = min(counts, key=lambda entity: (-counts[entity], entity is None, entity or ""))
    methods = Counter(method for entity, method in votes if entity == winner)
    return winner, min(methods, key=lambda method: (-methods[method], method))


def score_items(
    items: pl.DataFrame, mentions: pl.DataFrame, alias_keys: Collection[str] = ()
) -> pl.DataFrame:
    """Each gold item (GOLD_SCHEMA) with its prediction and outcome (SCORED_SCHEMA).

    `mentions` need doc_id, alias_key, entity_id (null: unlinked) and method. `alias_keys`
    (the alias index's keys) tells a no-match item's reason apart: NO_ALIAS when the key is
    not among them, else ALIAS_OVERLAPPED.
    """
    votes: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)
    for doc_id, key, entity_id, method in mentions.select(
        "doc_id", "alias_key", "entity_id", "method"
    ).iter_rows():
        votes[(doc_id, key)].append((entity_id, method))
    keys = set(alias_keys)
    rows = []
    for item in items.select(list(GOLD_SCHEMA)).iter_rows(named=True):
        found = votes.get((item["doc_id"], item["anchor_key"]), [])
        predicted, method, reason = None, None, None
        if not found:
            outcome = NO_MATCH
            reason = ALIAS_OVERLAPPED if item["anchor_key"] in keys else NO_ALIAS
        else:
            predicted, method = majority_vote(found)
            if predicted is None:
                outcome = UNLINKED
            else:
                outcome = CORRECT if predicted == item["gold_entity_id"] else WRONG
        rows.append(
            {
                **item,
                "predicted_entity_id": predicted,
                "method": method,
                "n_mentions": len(found),
                "outcome": outcome,
                "no_match_reason": reason,
            }
        )
    return pl.DataFrame(rows, schema=SCORED_SCHEMA)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class LinkingQuality:
    """Precision, recall and their breakdown over scored gold items."""

    n_items: int
    outcomes: dict[str, int]  # every OUTCOMES key
    unlinked_by_method: dict[str, int]
    no_match_by_reason: dict[str, int]
    # linking method → (predicted-linked items, correct)
    by_method: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def n_linked(self) -> int:
        return self.outcomes[CORRECT] + self.outcomes[WRONG]

    @property
    def precision(self) -> float:
        return self.outcomes[CORRECT] / self.n_linked if self.n_linked else 0.0

    @property
    def recall(self) -> float:
        return self.outcomes[CORRECT] / self.n_items if self.n_items else 0.0

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    def method_precision(self, method: str) -> float:
        linked, correct = self.by_method.get(method, (0, 0))
        return correct / linked if linked else 0.0

    def summary(self) -> str:
        """One line: P, R, F1 and the outcome counts."""
        counts = self.outcomes
        by_method = ", ".join(
            f"{method} {correct:,}/{linked:,} correct (P {self.method_precision(method):.3f})"
            for method, (linked, correct) in sorted(self.by_method.items())
        )
        return (
            f"P {self.precision:.3f}, R {self.recall:.3f}, F1 {self.f1:.3f} over "
            f"{self.n_items:,} gold items: {counts[CORRECT]:,} correct, {counts[WRONG]:,} "
            f"linked wrong, {counts[UNLINKED]:,} matched but unlinked "
            f"{_braced(self.unlinked_by_method)}, {counts[NO_MATCH]:,} with no alias match "
            f"{_braced(self.no_match_by_reason)}; by method: {by_method or 'none linked'}"
        )


def _braced(counts: Mapping[str, int]) -> str:
    inner = ", ".join(f"{key}: {n:,}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return "{" + (inner or "none") + "}"


def summarize(scored: pl.DataFrame) -> LinkingQuality:
    """The `LinkingQuality` of `score_items`' rows."""
    outcomes = Counter(scored.get_column("outcome").to_list())
    unlinked = scored.filter(pl.col("outcome") == UNLINKED).get_column("method").to_list()
    no_match = scored.filter(pl.col("outcome") == NO_MATCH)
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for method, outcome in (
        scored.filter(pl.col("outcome").is_in([CORRECT, WRONG]))
        .select("method", "outcome")
        .iter_rows()
    ):
        by_method[method][0] += 1
        by_method[method][1] += outcome == CORRECT
    return LinkingQuality(
        n_items=scored.height,
        outcomes={outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        unlinked_by_method=dict(Counter(unlinked)),
        no_match_by_reason=dict(Counter(no_match.get_column("no_match_reason").to_list())),
        by_method={method: (linked, correct) for method, (linked, correct) in by_method.items()},
    )


def summarize_by(scored: pl.DataFrame, group_of: Mapping[str, str]) -> dict[str, LinkingQuality]:
    """`summarize` per group of source documents (`group_of`: doc_id → group), largest first."""
    grouped = scored.with_columns(
        pl.col("doc_id").replace_strict(group_of, default=None, return_dtype=pl.String).alias("_g")
    )
    sizes = Counter(grouped.get_column("_g").to_list())
    return {
        group: summarize(grouped.filter(pl.col("_g").eq_missing(group)).drop("_g"))
        for group, _n in sorted(sizes.items(), key=lambda item: (-item[1], str(item[0])))
    }


def error_patterns(scored: pl.DataFrame, outcome: str, limit: int) -> pl.DataFrame:
    """The `limit` most frequent (anchor key, gold, predicted, why) of items with `outcome`.

    `why` is the method of the prediction, or for a no-match item its `no_match_reason`.
    Columns: anchor (its most common spelling), anchor_key, gold_entity_id,
    predicted_entity_id, why, n_items; ties by anchor key, then gold entity.
    """
    columns = ["anchor_key", "gold_entity_id", "predicted_entity_id", "why"]
    return (
        scored.filter(pl.col("outcome") == outcome)
        .with_columns(pl.coalesce("method", "no_match_reason").alias("why"))
        .group_by(columns)
        .agg(pl.col("anchor").mode().min(), pl.len().alias("n_items"))
        .sort(["n_items", "anchor_key", "gold_entity_id"], descending=[True, False, False])
        .head(limit)
        .select("anchor", *columns, "n_items")
    )


def naive_decisions(
    matches: Sequence[SurfaceMatch], index: AliasIndex, own_entity: Mapping[str, str]
) -> list[Decision]:
    """The no-context baseline: one linked `Decision` per match (same order), never NIL.

    The document's own entity when it is a candidate (SELF); else the only candidate
    (UNIQUE_ALIAS); else the candidate with the most single-candidate matches in the corpus
    (MOST_POPULAR; ties: smallest entity id). `own_entity`: doc_id → its page entity.
    """
    popularity = Counter(
        index.candidates[match.key][0] for match in matches if len(index.candidates[match.key]) == 1
    )
    decisions = []
    for match in matches:
        candidates = index.candidates[match.key]
        own = own_entity.get(match.doc_id)
        if own in candidates:
            decisions.append(Decision(own, own, 1.0, SELF))
        elif len(candidates) == 1:
            decisions.append(Decision(candidates[0], candidates[0], 1.0, UNIQUE_ALIAS))
        else:
            best = min(candidates, key=lambda entity: (-popularity[entity], entity))
            decisions.append(Decision(best, best, 1.0, MOST_POPULAR))
    return decisions


# ---------------------------------------------------------------------------------------
# Alias experiment: names a code-documentation site gives its pages, without the links

# Sphinx's heading permalink is a "¶", and trafilatura keeps it in the title.
_HEADER_MARK = re.compile(r"\s*¶+\s*$")
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.\s+(?=\S)")  # "3. Data model"
_NAME_DASH = " — "  # "http.server — HTTP servers": a name, an em dash, a tagline
# A name, not a phrase: the heads of the Python docs' module pages are one dotted word.
MAX_DASH_HEAD_WORDS = 3
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def heading_aliases(title: str) -> list[str]:
    """Names in a documentation page title that `title_aliases` does not give, in order.

    The title without the heading mark ("¶") and without a leading section number
    ("3. Data model¶" → "Data model"); the part before an em dash when it has at most
    MAX_DASH_HEAD_WORDS words ("os.path — Common pathname manipulations¶" → "os.path").
    """
    base = _SECTION_NUMBER.sub("", _HEADER_MARK.sub("", clean_surface(title)))
    names = [base] if base else []
    head = base.split(_NAME_DASH, 1)[0].strip() if _NAME_DASH in base else ""
    if head and len(head.split()) <= MAX_DASH_HEAD_WORDS:
        names.append(head)
    return [name for name in dict.fromkeys(names) if name != clean_surface(title)]


def qualified_names(texts: Iterable[str], module_names: Mapping[str, str]) -> dict[str, set[str]]:
    """Entity id → dotted names in `texts` whose longest proper dotted prefix is its module.

    `module_names`: identifier ("os.path") → the one entity it names. "os.path.join" in any
    text becomes a name of os.path's entity, "ssl.SSLContext.wrap_socket" of ssl's: a member
    is documented on its module's page.
    """
    found: dict[str, set[str]] = defaultdict(set)
    for text in texts:
        for name in set(_DOTTED.findall(text or "")):
            if name in module_names:  # a module of its own ("os.path" is no member of os)
                continue
            parts = name.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                entity = module_names.get(".".join(parts[:cut]))
                if entity is not None:
                    found[entity].add(name)
                    break
    return found


def with_code_doc_aliases(entities: pl.DataFrame, documents: pl.DataFrame) -> pl.DataFrame:
    """`entities` with `heading_aliases` of their names and `qualified_names` added.

    New aliases are appended when their match key is new to the entity. Only identifier-like
    heads that name one entity serve as module names (two pages headed "email" name none).
    """
    extra: dict[str, list[str]] = {
        entity: heading_aliases(name or "")
        for entity, name in entities.select("entity_id", "name").iter_rows()
    }
    heads = Counter(
        alias for aliases in extra.values() for alias in set(aliases) if _IDENTIFIER.match(alias)
    )
    module_names = {
        alias: entity
        for entity, aliases in extra.items()
        for alias in aliases
        if _IDENTIFIER.match(alias) and heads[alias] == 1
    }
    for entity, names in qualified_names(documents.get_column("text"), module_names).items():
        extra[entity] = [*extra[entity], *sorted(names)]

    def extended(entity: str, aliases: list[str] | None) -> list[str]:
        result = list(aliases or [])
        keys = {match_key(alias) for alias in result}
        for alias in extra.get(entity, []):
            key = match_key(alias)
            if key and key not in keys:
                keys.add(key)
                result.append(alias)
        return result

    return entities.with_columns(
        pl.Series(
            "aliases",
            [extended(e, a) for e, a in entities.select("entity_id", "aliases").iter_rows()],
            dtype=pl.List(pl.String),
        )
    )
