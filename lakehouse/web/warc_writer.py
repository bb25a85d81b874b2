"""The crawler's WARC/1.1 archive: every HTTP exchange as a `response` + `request` record.

Records go to gzip segment files under `<state dir>/warc/` (one gzip member per record, so
each record can be read from its offset). Every process run starts a new segment, numbered
after the existing ones, and a segment is rotated when it passes a size limit. A reference is
`"warc/segment-00003.warc.gz#<offset of the response record>"`, relative to the state dir.

The payload stored is the body as decoded by the HTTP client (chunked transfer and content
encoding undone): the `Content-Encoding` and `Transfer-Encoding` headers are therefore renamed
`X-Sailyard-Orig-…` and `Content-Length` is set to the stored length, so that WARC readers
return exactly the body the crawl stored. A record is flushed and fsynced before its reference
is returned; a killed process may leave a truncated last record, which no committed state
refers to.
"""

import os
import re
from datetime import datetime
from io import BytesIO
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

WARC_DIR = "warc"
WARC_VERSION = "WARC/1.1"
SEGMENT_PATTERN = re.compile(r"^segment-(\d{5,})\.warc\.gz$")
# Rotate near 1 GB, the segment size the WARC guidelines (IIPC) and Common Crawl use.
DEFAULT_SEGMENT_BYTES = 1_000_000_000
ORIGINAL_HEADER_PREFIX = "X-Sailyard-Orig-"
_REWRITTEN_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}

Headers = list[tuple[str, str]]


def _segment_number(path: Path) -> int:
    match = SEGMENT_PATTERN.match(path.name)
    return int(match.group(1)) if match else -1


def _stored_response_headers(headers: Headers, body_length: int) -> Headers:
    """The response headers as archived: encoding headers renamed, true Content-Length."""
    stored: Headers = []
    for name, value in headers:
        if name.lower() in _REWRITTEN_HEADERS:
            stored.append((f"{ORIGINAL_HEADER_PREFIX}{name}", value))
        else:
            stored.append((name, value))
    stored.append(("Content-Length", str(body_length)))
    return stored


class WarcSegmentWriter:
    """Appends exchanges to this run's segment files under `state_dir/warc`."""

    def __init__(
        self, state_dir: Path, crawl_id: str, max_segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ):
        if max_segment_bytes < 1:
            raise ValueError(f"max_segment_bytes must be positive, got {max_segment_bytes}")
        self._state_dir = state_dir
        self._directory = state_dir / WARC_DIR
        self._crawl_id = crawl_id
        self._max_bytes = max_segment_bytes
        self._handle = None
        self._writer: WARCWriter | None = None
        self._relative: str | None = None

    def _open_next_segment(self) -> None:
        self.close()
        self._directory.mkdir(parents=True, exist_ok=True)
        numbers = [_segment_number(path) for path in self._directory.iterdir()]
        name = f"segment-{max([0, *numbers]) + 1:05d}.warc.gz"
        # "xb": never append to a segment an earlier (maybe killed) run left behind.
        self._handle = (self._directory / name).open("xb")
        self._writer = WARCWriter(self._handle, gzip=True, warc_version=WARC_VERSION)
        self._relative = f"{WARC_DIR}/{name}"
        info = {"software": "sailyard crawler", "format": "WARC File Format 1.1"}
        info["isPartOf"] = self._crawl_id
        self._writer.write_record(self._writer.create_warcinfo_record(name, info))

    def write_exchange(
        self,
        url: str,
        request_line: str,
        request_headers: Headers,
        status_line: str,
        protocol: str,
        response_headers: Headers,
        body: bytes,
        fetched_at: datetime,
        ip_address: str | None = None,
        truncated: bool = False,
    ) -> str:
        """Append one response (and its request) record; the response record's reference.

        `status_line` is e.g. "200 OK", `protocol` e.g. "HTTP/1.1"; `truncated` marks a body
        that was cut at the size limit (`WARC-Truncated: length`).
        """
        if self._writer is None or self._handle.tell() >= self._max_bytes:
            self._open_next_segment()
        writer = self._writer
        date = fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        warc_headers = {"WARC-Date": date}
        if ip_address:
            warc_headers["WARC-IP-Address"] = ip_address
        if truncated:
            warc_headers["WARC-Truncated"] = "length"
        response = writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            warc_headers_dict=warc_headers,
            http_headers=StatusAndHeaders(
                status_line, _stored_response_headers(response_headers, len(body)), protocol
            ),
        )
        request = writer.create_warc_record(
            url,
            "request",
            payload=BytesIO(b""),
            length=0,
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
            http_headers=StatusAndHeaders(request_line, request_headers, is_http_request=True),
        )
        offset = self._handle.tell()
        writer.write_record(response)
        writer.write_record(request)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return f"{self._relative}#{offset}"

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = self._writer = self._relative = None


def read_warc_payload(state_dir: Path, reference: str) -> bytes:
    """The payload of the response record a reference points to (for audits and tests)."""
    relative, _, offset = reference.rpartition("#")
    with (state_dir / relative).open("rb") as handle:
        handle.seek(int(offset))
        record = next(iter(ArchiveIterator(handle)))
        if record.rec_type != "response":
            raise ValueError(f"{reference} is a {record.rec_type} record, not a response")
        return record.content_stream().read()
