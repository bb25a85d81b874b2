"""Bring-your-own corpus: JSONL or Parquet files of documents as web snapshots.

Each record needs `url` and `text` or `html`; `title`, `language`, `description`, `topic`
and `date` are kept when present. A record with HTML becomes an HTML fetch (extracted like a
crawled page); a record with only text becomes a `DOCUMENT_RECORD_TYPE` JSON body. A line or
row that cannot be used is reported with its file and line number as a snapshot with an
error (and in the log) and skipped: nothing is dropped silently.
"""

import glob
import gzip
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from lakehouse.errors import SourceError
from lakehouse.web.links import extract_links
from lakehouse.web.snapshots import Fetch
from lakehouse.web.urls import normalize_url

CODE_VERSION = "corpus-1"
DOCUMENT_RECORD_TYPE = "application/vnd.sailyard.document+json"
OPTIONAL_TEXT_FIELDS = ("title", "language", "description", "topic", "date")
SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".parquet")
log = logging.getLogger("sailyard.corpus")


@dataclass(frozen=True)
class CorpusSettings:
    """Which files to read: paths or glob patterns of .jsonl/.ndjson(.gz) or .parquet files."""

    paths: tuple[str, ...]
    max_records: int | None = None


def resolve_input_files(
    patterns: tuple[str, ...], suffixes: tuple[str, ...], kind: str
) -> list[Path]:
    """The files named by `patterns` (globs allowed), sorted and unique.

    A pattern matching nothing, or a file with an unsupported suffix, is an error naming it.
    """
    if not patterns:
        raise SourceError(f"no {kind} files given")
    files: set[Path] = set()
    for pattern in patterns:
        expanded = str(Path(pattern).expanduser())
        has_wildcard = any(character in expanded for character in "*?[")
        matches = (
            [Path(m) for m in glob.glob(expanded, recursive=True)]
            if has_wildcard
            else [Path(expanded)]
        )
        found = [m for m in matches if m.is_file()]
        if not found:
            raise SourceError(f"{kind} file(s) not found: {pattern}")
        files.update(found)
    unsupported = sorted(str(f) for f in files if not f.name.endswith(suffixes))
    if unsupported:
        raise SourceError(f"unsupported {kind} file(s) {unsupported}: use {', '.join(suffixes)}")
    return sorted(files)


def _error_fetch(where: str, message: str) -> Fetch:
    log.warning("%s: %s (skipped)", where, message)
    return Fetch(url=f"corpus:{where}", source="corpus", error=f"{where}: {message}")


def record_fetch(record: Any, where: str) -> Fetch:
    """The fetch for one corpus record; an unusable record becomes an error fetch."""
    if not isinstance(record, dict):
        return _error_fetch(where, f"expected a JSON object, got {type(record).__name__}")
    raw_url = record.get("url")
    if not isinstance(raw_url, str) or not raw_url.strip():
        return _error_fetch(where, "missing field 'url'")
    url = normalize_url(raw_url.strip())
    if url is None:
        return _error_fetch(where, f"field 'url' is not an http(s) URL: {raw_url[:200]!r}")
    html, text = record.get("html"), record.get("text")
    for name, value in (("html", html), ("text", text)):
        if value is not None and not isinstance(value, str):
            return _error_fetch(where, f"field {name!r} must be a string")
    if not (html and html.strip()) and not (text and text.strip()):
        return _error_fetch(where, "needs a non-empty 'text' or 'html' field")
    extra = {k: record[k] for k in OPTIONAL_TEXT_FIELDS if isinstance(record.get(k), str)}
    headers = {"content-language": extra["language"]} if "language" in extra else {}
    if html and html.strip():
        body = html.encode("utf-8")
        return Fetch(
            url=url,
            status=200,
            body=body,
            content_type="text/html",
            headers=headers | {"content-type": "text/html; charset=utf-8"},
            links=extract_links(body, url, "utf-8"),
            body_ref=where,
            source="corpus",
        )
    body = json.dumps({"text": text, **extra}, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Fetch(
        url=url,
        status=200,
        body=body,
        content_type=DOCUMENT_RECORD_TYPE,
        headers=headers | {"content-type": DOCUMENT_RECORD_TYPE},
        body_ref=where,
        source="corpus",
    )


def _iter_jsonl(path: Path) -> Iterator[Fetch]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            where = f"{path}:{line_number}"
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                yield _error_fetch(where, f"invalid JSON ({error})")
                continue
            yield record_fetch(record, where)


def _iter_parquet(path: Path) -> Iterator[Fetch]:
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise SourceError(f"cannot read corpus file {path}: {error}") from error
    if "url" not in frame.columns or not {"text", "html"} & set(frame.columns):
        raise SourceError(
            f"corpus file {path} needs columns 'url' and 'text' or 'html'; has {frame.columns}"
        )
    for row_number, record in enumerate(frame.iter_rows(named=True), start=1):
        yield record_fetch(record, f"{path}:row {row_number}")


def iter_fetches(settings: CorpusSettings) -> Iterator[Fetch]:
    """Fetches for every record of every corpus file, in file then line order."""
    count = 0
    for path in resolve_input_files(settings.paths, SUPPORTED_SUFFIXES, "corpus"):
        reader = _iter_parquet if path.suffix == ".parquet" else _iter_jsonl
        for fetch in reader(path):
            if settings.max_records is not None and count >= settings.max_records:
                return
            count += 1
            yield fetch
