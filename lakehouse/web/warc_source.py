"""WARC / WARC.gz files as a web source: every HTTP response record becomes a snapshot.

Reads files written by any crawler (wget --warc-file, Heritrix, Common Crawl, our own
crawler) with warcio, which undoes chunked transfer and content encodings. Request,
metadata, warcinfo and revisit records carry no page and are counted, not turned into rows.
A record or file that cannot be read becomes a snapshot with an error naming the file and
the byte offset, and reading moves on to the next file.
"""

import logging
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from lakehouse.web.corpus_source import resolve_input_files
from lakehouse.web.crawler import DEFAULT_MAX_BODY_BYTES
from lakehouse.web.extract import charset_of
from lakehouse.web.links import extract_links
from lakehouse.web.snapshots import Fetch, media_type
from lakehouse.web.urls import normalize_url

CODE_VERSION = "warc-1"
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
HTML_TYPES = ("text/html", "application/xhtml+xml")
log = logging.getLogger("sailyard.warc")


@dataclass(frozen=True)
class WarcSettings:
    """Which WARC files to read (paths or globs) and the body size limit."""

    paths: tuple[str, ...]
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_records: int | None = None


@dataclass
class WarcReadStats:
    """What reading the files found, by WARC record type (for asset metadata)."""

    record_types: Counter = field(default_factory=Counter)
    errors: int = 0


def _parse_warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


READ_CHUNK_BYTES = 1 << 16


def _read_capped(stream, max_bytes: int) -> bytes:
    """Up to max_bytes + 1 bytes of a (decompressing) stream, read in chunks.

    warcio's decoding streams may return fewer bytes than asked (even none) before the end,
    so a single bounded read() is not enough.
    """
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        chunk = stream.read(READ_CHUNK_BYTES)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _response_fetch(record, body: bytes, where: str, settings: WarcSettings) -> Fetch:
    """A Fetch for one `response` (HTTP) or `resource` (bare payload) record and its body."""
    target = record.rec_headers.get_header("WARC-Target-URI") or ""
    url = normalize_url(target.strip())
    fetched_at = _parse_warc_date(record.rec_headers.get_header("WARC-Date"))
    source = f"warc:{where.rsplit('#', 1)[0]}"
    if url is None:
        return Fetch(
            url=f"warc:{where}",
            source=source,
            body_ref=where,
            error=f"{where}: WARC-Target-URI {target[:200]!r} is not an http(s) URL",
        )
    if record.http_headers is not None:
        status = int(record.http_headers.get_statuscode() or 0) or None
        headers = {name.lower(): value for name, value in record.http_headers.headers}
    else:  # a resource record: the payload itself, typed by the WARC header
        status = 200
        headers = {"content-type": record.rec_headers.get_header("Content-Type") or ""}
    common = {
        "url": url,
        "status": status,
        "headers": headers,
        "content_type": media_type(headers.get("content-type")),
        "fetched_at": fetched_at,
        "body_ref": where,
        "source": source,
    }
    if len(body) > settings.max_body_bytes:
        return Fetch(**common, error=f"body exceeds {settings.max_body_bytes} bytes")
    links = (
        extract_links(body, url, charset_of(headers.get("content-type")))
        if common["content_type"] in HTML_TYPES
        else []
    )
    return Fetch(**common, body=body, links=links)


def truncation_of_last_record(path: Path, offset: int) -> str | None:
    """Why the record at `offset` (the file's last) is incomplete, or None if it is whole.

    warcio reads a truncated final record without complaint and hands back a partial
    payload; a killed writer or a cut download leaves exactly that, so it is checked here.
    """
    with path.open("rb") as handle:
        handle.seek(offset)
        tail = handle.read()
    if path.name.endswith(".gz"):
        decompressor = zlib.decompressobj(wbits=31)  # one gzip member per record
        try:
            decompressor.decompress(tail)
        except zlib.error as error:
            return f"gzip member is corrupt ({error})"
        return None if decompressor.eof else "gzip member ends early"
    header_end = tail.find(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", tail[: max(header_end, 0)])
    if header_end < 0 or match is None:
        return "record header is incomplete"
    expected = header_end + 4 + int(match.group(1))
    return (
        None
        if len(tail) >= expected
        else f"block has {len(tail) - header_end - 4} of {match.group(1)} bytes"
    )


def iter_file_fetches(path: Path, settings: WarcSettings, stats: WarcReadStats) -> Iterator[Fetch]:
    """Fetches for the page records of one WARC file, in file order.

    Each fetch is held back by one record, so that a truncated last record can be reported
    as an error instead of being passed on with a partial body.
    """
    offset = 0
    pending: tuple[int, Fetch] | None = None
    last_offset = None
    try:
        with path.open("rb") as handle:
            records = ArchiveIterator(handle, arc2warc=True)
            for record in records:
                stats.record_types[record.rec_type] += 1
                if record.rec_type not in ("response", "resource"):
                    last_offset = offset = records.get_record_offset()
                    continue
                # The payload must be read before asking for the offset: warcio's
                # get_record_offset() consumes the rest of the current record.
                body = _read_capped(record.content_stream(), settings.max_body_bytes)
                last_offset = offset = records.get_record_offset()
                if pending is not None:
                    yield pending[1]
                pending = (offset, _response_fetch(record, body, f"{path}#{offset}", settings))
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as error:
        # zlib errors on corrupt gzip members surface as OSError/EOFError subclasses.
        if pending is not None:
            yield pending[1]
        yield _unreadable(path, offset, str(error), stats)
        return
    problem = truncation_of_last_record(path, last_offset) if last_offset is not None else None
    if pending is not None and not (problem and pending[0] == last_offset):
        yield pending[1]
    if problem:
        yield _unreadable(path, last_offset, f"last record is truncated: {problem}", stats)


def _unreadable(path: Path, offset: int, reason: str, stats: WarcReadStats) -> Fetch:
    stats.errors += 1
    where = f"{path}#{offset}"
    log.warning("%s: unreadable WARC data (%s); rest of file skipped", where, reason)
    return Fetch(
        url=f"warc:{where}",
        source=f"warc:{path}",
        body_ref=where,
        error=f"{where}: unreadable WARC data: {reason}",
    )


def iter_fetches(settings: WarcSettings, stats: WarcReadStats | None = None) -> Iterator[Fetch]:
    """Fetches for every page record of every WARC file, in file order."""
    stats = stats if stats is not None else WarcReadStats()
    count = 0
    for path in resolve_input_files(settings.paths, WARC_SUFFIXES, "WARC"):
        for fetch in iter_file_fetches(path, settings, stats):
            if settings.max_records is not None and count >= settings.max_records:
                return
            count += 1
            yield fetch
