"""Sentence-aware chunking: documents → overlapping passages with exact character offsets.

A document is split into sentences, and consecutive sentences are packed into chunks of at
most `max_words` words; each chunk after the first repeats the last `overlap_sentences`
sentences of the one before, so a fact that straddles a boundary is whole in one chunk. A
sentence is only cut when it alone exceeds `max_words` (it is then split between words).
Offsets are exact: `text[chunk.start_char:chunk.end_char] == chunk.text`.

Words are counted as in the documents table (`lakehouse.web.normalize.count_words`).

The sentence splitter is a regex with rules, not a trained model. A boundary is a run of
`.`, `!`, `?` or `…` (plus closing quotes or brackets) followed by whitespace and then a
character that is not a lower-case letter; every newline is a boundary too (paragraphs,
list items, headings). A single `.` is not a boundary after a known abbreviation ("Dr.",
"e.g."; not "etc.", which often ends a sentence), a dotted acronym ("U.S.", "a.m."), a
single letter (initials: "J. R. R. Tolkien", "c. 1500"), or — before a digit only — "No.",
"Vol.", "Jan." and the like.
Decimals ("3.14") never split: there is no whitespace after their point. Known limits: a
sentence that really ends with an abbreviation, an acronym or a single letter ("… in the
U.S. The …", "World War I. It …") is joined with the next one; a sentence that starts with
a lower-case letter ("… end. iPhone sales …") is joined with the one before; text without
terminal punctuation stays one sentence per line (and is split by words if too long).
"""

import re
from dataclasses import dataclass

import polars as pl

from lakehouse.ids import stable_id
from lakehouse.tables import PASSAGES
from lakehouse.web.normalize import count_words

# Bump when the splitting or packing rules change: it is part of every passage id.
CHUNKER_VERSION = "chunker-1"

# Abbreviations after which a "." never ends a sentence (lower case, without the final ".").
_ABBREVIATION_WORDS = (
    "mr mrs ms messrs dr prof sr jr st mt ft gen col lt capt cmdr sgt adm rev hon gov sen rep "
    "pres supt insp e.g i.e cf al approx ca fl r b d vs v inc ltd co corp bros dept univ assn "
    "est ph.d a.k.a"
)
# Abbreviations that end a sentence unless a number follows ("No. 5", "Jan. 12", "p. 40").
_NUMBER_ABBREVIATION_WORDS = (
    "no nos vol vols p pp fig figs ch chap sec art op ed eds "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_NUMBER_ABBREVIATIONS = frozenset(_NUMBER_ABBREVIATION_WORDS.split())
_TERMINATOR = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_LAST_TOKEN = re.compile(r"(\S+)$")
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "U.S", "e.g", "a.m" (final "." cut)
_OPENING_PUNCTUATION = "\"'“‘([{"
_LINE = re.compile(r"[^\n]+")
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into passages; validated on creation, part of passage ids."""

    max_words: int = 120  # ~160 word pieces: inside all-MiniLM-L6-v2's 256-token window
    overlap_sentences: int = 1
    # A final piece with fewer new words than this is merged into the chunk before it (which
    # may then exceed max_words by fewer than min_words words) instead of standing alone.
    min_words: int = 8

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError(f"max_words must be at least 1, got {self.max_words}")
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {self.overlap_sentences}")
        if not 0 <= self.min_words <= self.max_words:
            raise ValueError(
                f"min_words must be between 0 and max_words ({self.max_words}), "
                f"got {self.min_words}"
            )

    def fingerprint(self) -> str:
        """The rules and numbers that decide the chunks: changing any changes passage ids."""
        return (
            f"{CHUNKER_VERSION}:max_words={self.max_words}:"
            f"overlap_sentences={self.overlap_sentences}:min_words={self.min_words}"
        )


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of a document: `text == document[start_char:end_char]`."""

    index: int
    text: str
    start_char: int
    end_char: int
    n_words: int


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    n_words: int


def _is_boundary(text: str, line_start: int, match: re.Match[str], next_char: str) -> bool:
    """Whether the terminator `match`, followed by `next_char`, ends a sentence."""
    if next_char.islower():
        return False
    if match.group() != ".":
        return True  # "!", "?", "...", or a period closed by a quote or bracket
    token_match = _LAST_TOKEN.search(text, line_start, match.start())
    word = token_match.group(1).lstrip(_OPENING_PUNCTUATION) if token_match else ""
    lowered = word.lower()
    if lowered in _ABBREVIATIONS or _DOTTED_ACRONYM.fullmatch(word):
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial
    return not (lowered in _NUMBER_ABBREVIATIONS and next_char.isdigit())


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, whitespace trimmed, in order."""
    sentences: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        line_start, line_end = line.span()
        start = line_start
        for match in _TERMINATOR.finditer(text, line_start, line_end):
            next_start = match.end()
            while next_start < line_end and text[next_start].isspace():
                next_start += 1
            if next_start >= line_end:
                break  # the line's end closes this sentence anyway
            if _is_boundary(text, line_start, match, text[next_start]):
                sentences.append((start, match.end()))
                start = next_start
        sentences.append((start, line_end))
    trimmed = []
    for start, end in sentences:
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            offset = start + len(piece) - len(piece.lstrip())
            trimmed.append((offset, offset + len(stripped)))
    return trimmed


def _split_long_sentence(text: str, start: int, end: int, settings: ChunkSettings) -> list[_Span]:
    """A sentence longer than max_words cut between words into pieces of at most max_words."""
    pieces: list[_Span] = []
    piece_start = piece_end = start
    words = 0
    for token in _TOKEN.finditer(text, start, end):
        token_words = count_words(token.group())
        if words and words + token_words > settings.max_words:
            pieces.append(_Span(piece_start, piece_end, words))
            piece_start, words = token.start(), 0
        piece_end = token.end()
        words += token_words
    pieces.append(_Span(piece_start, piece_end, words))
    if len(pieces) > 1 and pieces[-1].n_words < settings.min_words:
        tail = pieces.pop()
        pieces[-1] = _Span(pieces[-1].start, tail.end, pieces[-1].n_words + tail.n_words)
    return pieces


def _units(text: str, settings: ChunkSettings) -> list[_Span]:
    """The packing units: sentences, with over-long sentences split into word pieces."""
    units: list[_Span] = []
    for start, end in split_sentences(text):
        n_words = count_words(text[start:end])
        if n_words > settings.max_words:
            units.extend(_split_long_sentence(text, start, end, settings))
        else:
            units.append(_Span(start, end, n_words))
    return units


def _pack(units: list[_Span], settings: ChunkSettings) -> list[list[int]]:
    """Unit indices of each chunk: greedy packing up to max_words, overlapping by units."""
    chunks: list[list[int]] = []
    current: list[int] = []
    words = 0
    for position, unit in enumerate(units):
        if current and words + unit.n_words > settings.max_words:
            chunks.append(current)
            overlap = current[-settings.overlap_sentences :] if settings.overlap_sentences else []
            # Drop overlap sentences (oldest first) until the new unit fits beside them.
            while overlap and sum(units[i].n_words for i in overlap) + unit.n_words > (
                settings.max_words
            ):
                overlap = overlap[1:]
            current = list(overlap)
            words = sum(units[i].n_words for i in current)
        current.append(position)
        words += unit.n_words
    if current:
        chunks.append(current)
    if len(chunks) > 1:
        last, before = chunks[-1], chunks[-2]
        new_units = [i for i in last if i > before[-1]]
        if sum(units[i].n_words for i in new_units) < settings.min_words:
            chunks[-2] = before + new_units
            chunks.pop()
    return chunks


def chunk_document(text: str, settings: ChunkSettings | None = None) -> list[Chunk]:
    """The passages of one document's text, in order (none for empty or blank text)."""
    settings = settings or ChunkSettings()
    units = _units(text, settings)
    chunks = []
    for index, members in enumerate(_pack(units, settings)):
        start, end = units[members[0]].start, units[members[-1]].end
        body = text[start:end]
        chunks.append(Chunk(index, body, start, end, count_words(body)))
    return chunks


# The `passages` table's columns before embedding (the embedder adds the last two).
PASSAGE_COLUMNS: dict[str, pl.DataType] = {
    **{k: v for k, v in PASSAGES.columns.items() if k not in ("embedding", "embedding_model")},
    "parent_ids": pl.List(pl.String),
}


def chunk_documents(documents: pl.DataFrame, settings: ChunkSettings | None = None) -> pl.DataFrame:
    """Passage rows (without embeddings) for every document: `PASSAGE_COLUMNS`, in doc order.

    `documents` needs doc_id, url, title and text. A passage's id hashes its document id,
    the chunking fingerprint and its index, so the same documents and settings give the same
    ids; its only parent is its document.
    """
    settings = settings or ChunkSettings()
    fingerprint = settings.fingerprint()
    rows: dict[str, list] = {name: [] for name in PASSAGE_COLUMNS}
    for doc_id, url, title, text in documents.select("doc_id", "url", "title", "text").iter_rows():
        for chunk in chunk_document(text or "", settings):
            for column, value in (
                ("passage_id", stable_id("psg", doc_id, fingerprint, str(chunk.index))),
                ("doc_id", doc_id),
                ("url", url),
                ("title", title),
                ("chunk_index", chunk.index),
                ("text", chunk.text),
                ("start_char", chunk.start_char),
                ("end_char", chunk.end_char),
                ("n_words", chunk.n_words),
                ("parent_ids", [doc_id]),
            ):
                rows[column].append(value)
    return pl.DataFrame(rows, schema=PASSAGE_COLUMNS)
