"""Text normalization shared by every document source: Unicode NFC and whitespace.

NFC (not NFKC) so that "m²", "ﬁ" or full-width digits keep their meaning; invisible and
control characters are removed; runs of spaces collapse; paragraph breaks survive as one
blank line.
"""

import re
import unicodedata

# Zero-width and formatting characters that carry no text (ZWSP, ZWNJ, ZWJ, word joiner, BOM,
# soft hyphen). ZWJ/ZWNJ matter in some scripts; summaries here are Latin-script, and the
# dedup key must not depend on them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline (incl. NBSP)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SINGLE_NEWLINE = re.compile(r"\s*\n\s*")
_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """Text in NFC with invisible/control characters removed and whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = _CONTROL_CHARS.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _HORIZONTAL_SPACE.sub(" ", text)
    paragraphs = _PARAGRAPH_BREAK.split(text)
    cleaned = (_SINGLE_NEWLINE.sub("\n", paragraph).strip() for paragraph in paragraphs)
    return "\n\n".join(p for p in cleaned if p)


def dedup_key(text: str) -> str:
    """The form of normalized text that exact dedup compares: case-folded, single-spaced."""
    return " ".join(text.casefold().split())


def count_words(text: str) -> int:
    return len(_WORD.findall(text))
