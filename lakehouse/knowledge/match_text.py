"""Match keys for running text, with a map back to the original characters.

`normalize_alias` (aliases.py) turns one surface form into its match key. Mention detection
needs the same key for a whole document, plus, for every key character, the offset of the
text character it came from, so that a match in key space becomes an exact span of the
document. `match_text` does both, character by character, with the same policy: accents and
case folded, "&" read as "and", apostrophes and non-decimal periods removed, any other run
of punctuation or whitespace one space. One difference: a possessive "'s" is split off
("Mexico's" → "mexico s"), so that "Mexico's envoy" mentions Mexico; aliases are keyed by the
same function (`match_key`), so "McDonald's" still matches itself. The key starts and ends
with a space, so an alias key wrapped in spaces (`pattern_for`) only ever matches whole words.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lakehouse.knowledge.aliases import fold_accents

_APOSTROPHES = frozenset("'’‘`ʼ´")
_WORD_CHAR = re.compile(r"[^\W_]")


@lru_cache(maxsize=65_536)
def _fold_char(char: str) -> str:
    """The key characters of one text character (not a period or an apostrophe)."""
    if char == "&":
        return " and "
    folded = fold_accents(char).casefold()
    return "".join(c if _WORD_CHAR.match(c) else " " for c in folded)


@dataclass(frozen=True)
class MatchText:
    """A text's match key and, per key character, the text offset it came from."""

    key: str
    offsets: np.ndarray  # int32, len(key) + 1: the last entry is len(text)

    def span(self, key_start: int, key_end: int) -> tuple[int, int]:
        """The text span (start, end) of the key characters [key_start, key_end)."""
        return int(self.offsets[key_start]), int(self.offsets[key_end - 1]) + 1


def match_text(text: str) -> MatchText:
    """The match key of `text` (space-padded, see the module docstring) and its offsets."""
    chars: list[str] = [" "]
    offsets: list[int] = [0]
    length = len(text)
    for index, char in enumerate(text):
        if char in _APOSTROPHES:
            possessive = text[index + 1 : index + 2] in ("s", "S") and not _WORD_CHAR.match(
                text[index + 2 : index + 3] or " "
            )
            if possessive and chars[-1] != " ":
                chars.append(" ")
                offsets.append(index)
            continue
        if char == ".":
            decimal = (
                0 < index < length - 1 and text[index - 1].isdigit() and text[index + 1].isdigit()
            )
            if not decimal:
                continue
            piece = "."
        else:
            piece = _fold_char(char)
        for key_char in piece:
            if key_char == " " and chars[-1] == " ":
                continue
            chars.append(key_char)
            offsets.append(index)
    if chars[-1] != " ":
        chars.append(" ")
        offsets.append(length)
    offsets.append(length)
    return MatchText("".join(chars), np.asarray(offsets, dtype=np.int32))


def match_key(alias: str) -> str:
    """The key an alias is matched by in running text (`match_text` of it, trimmed)."""
    return match_text(alias).key.strip()


def pattern_for(alias_key: str) -> str:
    """The automaton pattern of an alias key: the key between spaces (whole words only)."""
    return f" {alias_key} "
