"""Why a snapshot did not become a document: the reasons, and the rejection record."""

from dataclasses import dataclass
from enum import StrEnum


class DropReason(StrEnum):
    """Why a snapshot did not become a document (the `document_rejects.reason` values)."""

    FETCH_ERROR = "fetch_error"  # the snapshot itself recorded an error or a skip
    HTTP_STATUS = "http_status"  # the response was not 2xx
    SUPERSEDED = "superseded"  # a newer successful snapshot of the same URL exists
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    UNPARSEABLE_BODY = "unparseable_body"  # bad JSON, missing fields
    BAD_ENCODING = "bad_encoding"  # too many bytes that do not decode in the declared charset
    EMPTY_TEXT = "empty_text"
    TOO_SHORT = "too_short"
    LOW_ALPHA_WORDS = "low_alpha_words"  # mostly numbers or symbols, not prose
    BOILERPLATE = "boilerplate"  # the main text is a small share of the page (navigation)
    LANGUAGE = "language"  # not one of the configured languages
    DISAMBIGUATION = "disambiguation"  # a list of other pages, not content
    EXACT_DUPLICATE = "exact_duplicate"  # same normalized text as a kept document
    NEAR_DUPLICATE = "near_duplicate"  # MinHash-LSH cluster member of a kept document


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: DropReason
    detail: str
