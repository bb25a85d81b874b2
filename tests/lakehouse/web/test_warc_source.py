import gzip
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from lakehouse.errors import SourceError
from lakehouse.web.warc_source import WarcReadStats, WarcSettings, iter_fetches

PAGE = (
    b"<html><head><title>Engine</title></head><body><p>The engine computes.</p>"
    b"<a href='/b'>Next page</a> <a href='https://other.org/x#frag'>Elsewhere</a></body></html>"
)


def _write_warc(path: Path, gzip_records: bool = True) -> None:
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=gzip_records)
        headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
            protocol="HTTP/1.1",
        )
        writer.write_record(
            writer.create_warc_record(
                "http://Example.org:80/a",
                "response",
                payload=BytesIO(gzip.compress(PAGE)),
                http_headers=headers,
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "http://example.org/a", "request", payload=BytesIO(b"GET /a HTTP/1.1\r\n\r\n")
            )
        )
        missing = StatusAndHeaders("404 Not Found", [("Content-Type", "text/plain")], "HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                "http://example.org/gone",
                "response",
                payload=BytesIO(b"nope"),
                http_headers=missing,
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "http://example.org/notes.txt",
                "resource",
                payload=BytesIO(b"plain notes"),
                warc_content_type="text/plain",
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "ftp://example.org/file",
                "resource",
                payload=BytesIO(b"x"),
                warc_content_type="text/plain",
            )
        )


def test_response_and_resource_records_become_fetches(tmp_path: Path):
    path = tmp_path / "crawl.warc.gz"
    _write_warc(path)
    stats = WarcReadStats()
    fetches = list(iter_fetches(WarcSettings(paths=(str(path),)), stats))
    by_url = {fetch.url: fetch for fetch in fetches}
    page = by_url["http://example.org/a"]
    assert page.status == 200
    assert page.body == PAGE  # content encoding undone
    assert page.content_type == "text/html"
    assert page.fetched_at is not None
    assert [(link.url, link.text) for link in page.links] == [
        ("http://example.org/b", "Next page"),
        ("https://other.org/x", "Elsewhere"),
    ]
    assert page.body_ref.startswith(f"{path}#")
    assert by_url["http://example.org/gone"].status == 404
    assert by_url["http://example.org/notes.txt"].body == b"plain notes"
    (bad,) = [fetch for fetch in fetches if fetch.error]
    assert "is not an http(s) URL" in bad.error
    assert stats.record_types == {"response": 2, "request": 1, "resource": 2}


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
@pytest.mark.parametrize("cut", [5, 30, 300])
def test_a_truncated_file_yields_whole_records_and_an_error_row(tmp_path: Path, suffix, cut):
    path = tmp_path / f"cut{suffix}"
    _write_warc(path, gzip_records=suffix.endswith(".gz"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    fetches = list(iter_fetches(WarcSettings(paths=(str(path),))))
    assert fetches[0].status == 200
    assert fetches[0].body == PAGE
    assert "unreadable WARC data: last record is truncated" in fetches[-1].error
    assert f"{path}#" in fetches[-1].error
    whole = [f for f in fetches[:-1] if f.error is None]
    assert all(f.body in (PAGE, b"nope", b"plain notes") for f in whole)


def test_uncompressed_warc_and_globs(tmp_path: Path):
    _write_warc(tmp_path / "one.warc", gzip_records=False)
    _write_warc(tmp_path / "two.warc.gz")
    fetches = list(iter_fetches(WarcSettings(paths=(str(tmp_path / "*.warc*"),))))
    assert len(fetches) == 8


def test_bodies_over_the_limit_are_errors(tmp_path: Path):
    path = tmp_path / "crawl.warc.gz"
    _write_warc(path)
    fetches = list(iter_fetches(WarcSettings(paths=(str(path),), max_body_bytes=10)))
    page = next(f for f in fetches if f.url == "http://example.org/a")
    assert page.error == "body exceeds 10 bytes"
    assert page.body is None


def test_missing_and_unsupported_files_are_errors(tmp_path: Path):
    with pytest.raises(SourceError, match="WARC file\\(s\\) not found"):
        list(iter_fetches(WarcSettings(paths=(str(tmp_path / "none.warc"),))))
    (tmp_path / "x.zip").write_bytes(b"PK")
    with pytest.raises(SourceError, match="unsupported WARC file"):
        list(iter_fetches(WarcSettings(paths=(str(tmp_path / "x.zip"),))))
