"""Extraction: from a fetched body (HTML, JSON record, plain text) to clean text and metadata.

HTML goes through trafilatura (main text without navigation and boilerplate, title, date,
description); bodies are decoded with their declared charset, bytes that do not decode are
counted, and the language comes from the response, the page, or detection, in that order.
"""

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from lakehouse.web.drops import DropReason, Rejection
from lakehouse.web.normalize import normalize_text

# Share of characters that may fail to decode before a body counts as mis-encoded: a few
# stray bytes in a long page are common and harmless; more means the charset is wrong.
MAX_REPLACEMENT_RATIO = 0.01
# Language detection on less text than this is a guess (py3langid is trained on sentences).
MIN_DETECTION_CHARS = 40
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.IGNORECASE)
_INVISIBLE_TAGS = ("script", "style", "noscript", "template")


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """What one body yields after extraction and normalization."""

    title: str | None
    text: str
    language: str | None
    description: str | None = None
    topic: str | None = None
    date: str | None = None  # ISO date of publication, when the page says
    main_text_ratio: float | None = None  # HTML: main text chars / all visible text chars


def optional_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = normalize_text(value)
    return cleaned or None


def language_code(value: str | None) -> str | None:
    """`en-GB`, `en_US, fr` → `en`; None for absent or malformed values."""
    if not value:
        return None
    code = value.split(",")[0].strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code detected by py3langid, or None for text too short to tell."""
    if len(text) < MIN_DETECTION_CHARS:
        return None
    import py3langid  # loads its model (~0.5 s) on first use only

    language, _score = py3langid.classify(text[:5000])
    return language


def charset_of(content_type_header: str | None) -> str | None:
    for parameter in (content_type_header or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def decode_body(body: bytes, declared_charset: str | None) -> tuple[str, float]:
    """(text, share of characters that failed to decode) with the best known charset.

    Order: the HTTP charset, a `<meta charset>` in the first 2 KB, then UTF-8.
    """
    sniffed = _META_CHARSET.search(body[:2048])
    candidates = [declared_charset, sniffed.group(1).decode("ascii") if sniffed else None, "utf-8"]
    for charset in candidates:
        if not charset:
            continue
        try:
            return body.decode(charset), 0.0
        except LookupError:
            continue  # unknown charset name: try the next one
        except UnicodeDecodeError:
            text = body.decode(charset, errors="replace")
            return text, text.count("\ufffd") / max(len(text), 1)
    text = body.decode("utf-8", errors="replace")
    return text, text.count("\ufffd") / max(len(text), 1)


def _check_encoding(ratio: float, charset: str | None) -> Rejection | None:
    if ratio > MAX_REPLACEMENT_RATIO:
        return Rejection(
            DropReason.BAD_ENCODING,
            f"{ratio:.1%} of characters do not decode as {charset or 'utf-8'}",
        )
    return None


def _extract_summary_json(body: bytes, headers: dict[str, str]) -> ExtractedDocument | Rejection:
    """A Wikipedia REST page summary {"title", "extract", "description"} or a corpus record
    {"text", "title", "language", "description", "topic", "date"}."""
    try:
        record = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return Rejection(DropReason.UNPARSEABLE_BODY, f"invalid JSON: {error}")
    if not isinstance(record, dict):
        return Rejection(DropReason.UNPARSEABLE_BODY, f"JSON body is a {type(record).__name__}")
    text = record.get("extract", record.get("text"))
    if not isinstance(text, str):
        return Rejection(DropReason.UNPARSEABLE_BODY, "JSON body has no string 'extract' or 'text'")
    return ExtractedDocument(
        title=optional_text(record.get("title")),
        text=normalize_text(text),
        language=language_code(record.get("language")),
        description=optional_text(record.get("description")),
        topic=optional_text(record.get("topic")),
        date=optional_text(record.get("date")),
    )


def _extract_plain_text(body: bytes, headers: dict[str, str]) -> ExtractedDocument | Rejection:
    charset = charset_of(headers.get("content-type"))
    text, bad_ratio = decode_body(body, charset)
    return _check_encoding(bad_ratio, charset) or ExtractedDocument(
        title=None, text=normalize_text(text), language=None
    )


def _visible_text_chars(tree: Any) -> int:
    """Characters of text a reader would see on the page (scripts and styles removed)."""
    for element in list(tree.iter(*_INVISIBLE_TAGS)):
        element.drop_tree()
    return len(" ".join(tree.text_content().split()))


def _extract_html(body: bytes, headers: dict[str, str]) -> ExtractedDocument | Rejection:
    """Main text, title, date and description of an HTML page with trafilatura."""
    import lxml.etree
    import lxml.html
    import trafilatura  # imported lazily: ~0.5 s, and JSON sources never need it

    charset = charset_of(headers.get("content-type"))
    html, bad_ratio = decode_body(body, charset)
    if rejection := _check_encoding(bad_ratio, charset):
        return rejection
    try:
        tree = lxml.html.document_fromstring(html.replace("\x00", ""))
    except (lxml.etree.ParserError, ValueError) as error:
        return Rejection(DropReason.UNPARSEABLE_BODY, f"HTML does not parse: {error}")
    page_language = language_code(tree.get("lang"))
    page_chars = _visible_text_chars(tree)
    extracted = trafilatura.bare_extraction(
        tree, with_metadata=True, include_comments=False, include_tables=True
    )
    if extracted is None or not extracted.text:
        return Rejection(DropReason.EMPTY_TEXT, "trafilatura found no main text")
    text = normalize_text(extracted.text)
    return ExtractedDocument(
        title=optional_text(extracted.title),
        text=text,
        language=page_language,
        description=optional_text(extracted.description),
        date=optional_text(extracted.date),
        main_text_ratio=min(1.0, len(text) / page_chars) if page_chars else None,
    )


EXTRACTORS = {
    "application/json": _extract_summary_json,
    "application/vnd.sailyard.document+json": _extract_summary_json,
    "text/plain": _extract_plain_text,
    "text/html": _extract_html,
    "application/xhtml+xml": _extract_html,
}


def extract(
    content_type: str | None, body: bytes, headers: dict[str, str]
) -> ExtractedDocument | Rejection:
    """Clean text and metadata of one body; the language is filled in whenever it can be."""
    extractor = EXTRACTORS.get((content_type or "").lower())
    if extractor is None:
        return Rejection(DropReason.UNSUPPORTED_CONTENT_TYPE, f"content type {content_type!r}")
    extracted = extractor(body, headers)
    if isinstance(extracted, Rejection):
        return extracted
    language = (
        language_code(headers.get("content-language"))
        or extracted.language
        or detect_language(extracted.text)
    )
    return replace(extracted, language=language) if language != extracted.language else extracted
