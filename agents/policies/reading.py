"""Reading tool output the way a careful agent does: the ranked results of a search, the
text of a visited page, and whether a fact is written in that text (and where).

The planner and HAS only ever learn something from these readers, never from the graph:
a hop is confirmed when one of the fact's written forms occurs in text a tool returned,
and the sentence around it is what the planner quotes in its thinking.

Matching is case- and accent-insensitive (the answer scorer's `fold`) on whole words: a
form must not be glued to more letters or digits ("1905" is not found in "19050", "Niger"
not in "Nigeria"), nor be the first half of a hyphenated name ("Guinea" in "Guinea-Bissau").
"""

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from agents.format import TOOL_RESPONSE_CLOSE, TOOL_RESPONSE_OPEN
from evaluation.scoring import fold
from lakehouse.index.tools import RESULT_SEPARATOR
from lakehouse.web.urls import normalize_url

# One entry of the search tool's output: "3. [Title](url)" on its own line, then the snippet.
_RESULT_LINE = re.compile(r"^(\d+)\. \[(.*)\]\((\S+)\)\s*$", re.MULTILINE)
_VISIT_HEADER = re.compile(r"^The useful information in (\S+) for user goal", re.MULTILINE)
_VISIT_TITLE = re.compile(r"^Title: (.*)$", re.MULTILINE)
_VISIT_DESCRIPTION = re.compile(r"^Description: (.*)$", re.MULTILINE)
_EVIDENCE = "Evidence in page: \n"
UNAVAILABLE = "The provided webpage content could not be accessed"
_PART_FOOTER = re.compile(r"\n\nPart \d+ of \d+ of this page.*$", re.DOTALL)
_CAPITALIZED_BEFORE = re.compile(r"\b[A-Z][\w'’-]*\s$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")
QUOTE_CHARS = 240  # longest quote put into a thinking turn (~2 lines)
MIN_FORM_CHARS = 2  # shorter forms ("a", "7") would be found anywhere
ACRONYM_CHARS = 4  # upper-case forms up to this long are acronyms ("US", "DRC", "UAE")


@dataclass(frozen=True)
class SearchResult:
    """One numbered result of one query."""

    rank: int
    title: str
    url: str
    snippet: str


@dataclass(frozen=True)
class VisitedPage:
    """One page of a visit response: its text, or why it could not be read."""

    url: str
    title: str
    text: str
    available: bool


@dataclass(frozen=True)
class Found:
    """Where a written form of a fact occurs in a text."""

    form: str
    start: int
    end: int
    sentence: str  # the sentence around it, trimmed to QUOTE_CHARS


def unwrap(content: str) -> str:
    """A tool response step's text without the `<tool_response>` wrapper."""
    text = content.strip()
    if text.startswith(TOOL_RESPONSE_OPEN):
        text = text[len(TOOL_RESPONSE_OPEN) :]
    if text.endswith(TOOL_RESPONSE_CLOSE):
        text = text[: -len(TOOL_RESPONSE_CLOSE)]
    return text.strip("\n")


def search_results(observation: str) -> list[list[SearchResult]]:
    """The results of every query in a search response, in the order the queries ran (an
    empty list for a query that found nothing)."""
    blocks = unwrap(observation).split(RESULT_SEPARATOR)
    parsed: list[list[SearchResult]] = []
    for block in blocks:
        matches = list(_RESULT_LINE.finditer(block))
        results = []
        for position, match in enumerate(matches):
            end = matches[position + 1].start() if position + 1 < len(matches) else len(block)
            results.append(
                SearchResult(
                    rank=int(match.group(1)),
                    title=match.group(2),
                    url=match.group(3),
                    snippet=" ".join(block[match.end() : end].split()),
                )
            )
        parsed.append(results)
    return parsed


def same_page(url: str, other: str) -> bool:
    """Whether two URLs name the same page (after normalization)."""
    return (normalize_url(url) or url) == (normalize_url(other) or other)


def rank_of(results: Sequence[SearchResult], urls: Iterable[str]) -> SearchResult | None:
    """The best-ranked result whose URL is one of `urls`, or None."""
    wanted = {normalize_url(url) or url for url in urls}
    for result in results:
        if (normalize_url(result.url) or result.url) in wanted:
            return result
    return None


def visited_pages(observation: str) -> list[VisitedPage]:
    """The pages of a visit response, each with its evidence text (without the header and
    the paging footer) or marked unavailable."""
    pages = []
    for block in unwrap(observation).split(RESULT_SEPARATOR):
        header = _VISIT_HEADER.search(block)
        if header is None:
            continue
        title = _VISIT_TITLE.search(block)
        start = block.find(_EVIDENCE)
        text = block[start + len(_EVIDENCE) :] if start != -1 else ""
        text = _PART_FOOTER.sub("", text).strip()
        description = _VISIT_DESCRIPTION.search(block[:start] if start != -1 else block)
        if description and text:  # the page's short description is part of what it says
            text = f"{description.group(1).strip()}\n\n{text}"
        pages.append(
            VisitedPage(
                url=header.group(1),
                title=title.group(1).strip() if title else "",
                text=text,
                available=UNAVAILABLE not in block[:start] and UNAVAILABLE not in text[:80],
            )
        )
    return pages


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    return fold(char)


@functools.lru_cache(maxsize=64)
def _folded_with_offsets(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` folded character by character, and for each folded character the offset of
    the original character it came from (folding may change lengths). Cached: one page is
    searched for many forms."""
    if text.isascii():
        return text.lower(), tuple(range(len(text)))
    folded: list[str] = []
    offsets: list[int] = []
    for position, char in enumerate(text):
        piece = char.lower() if char.isascii() else _fold_char(char)
        folded.append(piece)
        offsets.extend([position] * len(piece))
    return "".join(folded), tuple(offsets)


@functools.lru_cache(maxsize=4096)
def _form_pattern(form: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(word) for word in fold(form).split())
    # Not glued to letters/digits, not inside a number ("1,905"), not the first half of a
    # hyphenated name.
    return re.compile(rf"(?<![\w\-])(?<!\d[.,]){body}(?![\w])(?!-\w)(?![.,]\d)")


def is_acronym(form: str) -> bool:
    """ "US", "UK", "DRC": short upper-case forms, matched with their case only."""
    return form.isupper() and form.isalpha() and len(form) <= ACRONYM_CHARS


def _spans(text: str, form: str) -> Iterator[tuple[int, int]]:
    """Every (start, end) where `form` is written in `text` (module docstring's rules)."""
    if len(form.strip()) < MIN_FORM_CHARS:
        return
    if is_acronym(form):
        for match in re.finditer(rf"(?<![\w\-]){re.escape(form)}(?![\w])(?!-\w)", text):
            yield match.start(), match.end()
        return
    folded, offsets = _folded_with_offsets(text)
    for match in _form_pattern(form).finditer(folded):
        yield offsets[match.start()], offsets[match.end() - 1] + 1


def find_form(text: str, forms: Iterable[str]) -> Found | None:
    """The first of `forms` (in the given order of preference) written in `text`, with the
    sentence around it; None when none is. Acronyms must match in case ("US", not "us")."""
    for form in forms:
        for start, end in _spans(text, form):
            return Found(form, start, end, sentence_around(text, start, end))
    return None


def _glued(text: str, start: int) -> bool:
    """Whether a match starting at `start` follows a capitalized word ("South Sudan" for
    Sudan, "Equatorial Guinea" for Guinea): likely part of another name."""
    return bool(_CAPITALIZED_BEFORE.search(text, 0, start))


def find_fact(text: str, forms: Sequence[str], context: Sequence[str] = ()) -> Found | None:
    """Where `text` writes a fact: the first of `forms` found, preferring an occurrence that
    is not the tail of a longer name, then one whose sentence also names one of `context`
    (the fact's other end), so that a quote shows the relation and not only the name."""
    best: tuple[tuple[bool, bool], Found] | None = None
    for form in forms:
        for start, end in _spans(text, form):
            found = Found(form, start, end, sentence_around(text, start, end))
            named = not context or find_form(found.sentence, context) is not None
            key = (not _glued(text, start), named)
            if best is None or key > best[0]:
                best = (key, found)
            if key == (True, True):
                return found
    return best[1] if best else None


def sentence_around(text: str, start: int, end: int, limit: int = QUOTE_CHARS) -> str:
    """The sentence of `text` holding [start, end), trimmed around the span to `limit`
    characters with an ellipsis where it was cut."""
    bounds = [0]
    bounds += [match.end() for match in _SENTENCE_END.finditer(text)]
    sentence_start = max(b for b in bounds if b <= start)
    following = [match.start() for match in _SENTENCE_END.finditer(text, end)]
    sentence_end = following[0] if following else len(text)
    sentence = text[sentence_start:sentence_end].strip()
    if len(sentence) <= limit:
        return sentence
    offset = start - sentence_start
    left = max(0, min(offset - limit // 3, len(sentence) - limit))
    piece = sentence[left : left + limit]
    if left > 0:
        piece = "…" + piece[piece.find(" ") + 1 :]
    if left + limit < len(sentence):
        piece = piece[: piece.rfind(" ")] + "…"
    return piece.strip()


def python_output(observation: str) -> str:
    """What a python call printed (the sandbox's stdout section), stripped."""
    text = unwrap(observation)
    if text.startswith("stdout:"):
        text = text[len("stdout:") :]
    for marker in ("\nstderr:", "\n[exit code", "\n[timed out", "\n[memory", "\n[CPU"):
        cut = text.find(marker)
        if cut != -1:
            text = text[:cut]
    return text.strip()
