import random

import pytest

from lakehouse.web.links import decode_html, extract_links, parse_links
from lakehouse.web.snapshots import Link

BASE = "http://example.com/dir/index.html"


def _pairs(body: bytes, base: str = BASE, charset: str | None = None) -> list[tuple[str, str]]:
    return [(link.url, link.text) for link in extract_links(body, base, charset)]


def test_links_are_absolute_normalized_with_collapsed_text_in_document_order():
    body = b"""<html><body>
    <a href="next.html">  Next
       page </a>
    <a href="/Top/../about#team">About <b>us</b></a>
    <a href="HTTPS://Other.ORG:443">Other</a>
    </body></html>"""
    assert _pairs(body) == [
        ("http://example.com/dir/next.html", "Next page"),
        ("http://example.com/about", "About us"),
        ("https://other.org/", "Other"),
    ]


def test_base_href_is_honored():
    body = b'<head><base href="/sub/"></head><a href="page.html">P</a><a href="/abs">A</a>'
    assert _pairs(body) == [
        ("http://example.com/sub/page.html", "P"),
        ("http://example.com/abs", "A"),
    ]


def test_non_http_links_are_dropped():
    body = b"""<a href="javascript:alert(1)">js</a><a href="mailto:a@example.org">mail</a>
    <a href="tel:+100">tel</a><a href="data:text/html,x">data</a><a href="ftp://x.org/">ftp</a>
    <a>no href</a><a href="ok">ok</a>"""
    assert _pairs(body) == [("http://example.com/dir/ok", "ok")]


def test_image_links_use_alt_text_and_areas_are_links():
    body = b"""<a href="/logo"><img src="l.png" alt="Company  logo"></a>
    <a href="/icon" title="Icon title"><img src="i.png"></a>
    <map><area href="/region" alt="A region"></map>"""
    assert _pairs(body) == [
        ("http://example.com/logo", "Company logo"),
        ("http://example.com/icon", "Icon title"),
        ("http://example.com/region", "A region"),
    ]


def test_duplicate_url_text_pairs_are_kept_once_in_order():
    body = b'<a href="/a">A</a><a href="/a#x">A</a><a href="/a">Again</a><a href="/b">B</a>'
    assert _pairs(body) == [
        ("http://example.com/a", "A"),
        ("http://example.com/a", "Again"),
        ("http://example.com/b", "B"),
    ]


def test_nofollow_links_are_listed_and_reported():
    body = b"""<a href="/both" rel="nofollow">B1</a><a href="/both">B2</a>
    <a href="/only" rel="NoFollow ugc">Only</a><a href="/plain">Plain</a>"""
    page = parse_links(body, BASE)
    assert [link.url for link in page.links] == [
        "http://example.com/both",
        "http://example.com/both",
        "http://example.com/only",
        "http://example.com/plain",
    ]
    assert page.nofollow == {"http://example.com/only"}  # /both also has a followed link
    assert page.to_follow() == ["http://example.com/both", "http://example.com/plain"]
    assert page.to_follow(follow_nofollow=True) == [
        "http://example.com/both",
        "http://example.com/only",
        "http://example.com/plain",
    ]


def test_meta_robots_nofollow_marks_every_link():
    body = b'<meta name="Robots" content="noindex, NOFOLLOW"><a href="/a">A</a><a href="/b">B</a>'
    page = parse_links(body, BASE)
    assert len(page.links) == 2
    assert page.to_follow() == []


def test_malformed_html_yields_the_links_it_can():
    body = (
        b"<html><div><p>Unclosed <a href='/c'>See <b>C</div></span>&&& <<<>>> </td>"
        b'<a href="/d">D <i>again</a><table><tr><td></html></html>garbage \x00 <a href='
    )
    assert _pairs(body) == [("http://example.com/c", "See C"), ("http://example.com/d", "D again")]


def test_invalid_bytes_are_replaced_not_fatal():
    body = b"<p>Caf\xe9 \xff\xfe</p><a href='/d'>D \xe9t\xe9</a>"
    assert _pairs(body, charset="utf-8") == [("http://example.com/d", "D \ufffdt\ufffd")]


def test_charset_comes_from_the_header_then_meta_then_utf8():
    latin = "<meta charset='iso-8859-1'><a href='/é'>café</a>".encode("latin-1")
    assert _pairs(latin) == [("http://example.com/%C3%A9", "café")]
    utf8 = "<a href='/x'>café</a>".encode()
    assert _pairs(utf8) == [("http://example.com/x", "café")]
    assert _pairs(latin, charset="utf-8")[0][1] == "caf\ufffd"  # the header wins
    assert _pairs(latin, charset="no-such-charset")[0][1] == "café"  # unknown label: meta
    assert decode_html("é".encode("cp1252"), "latin-1") == "é"
    assert decode_html(b"x", "base64") == "x"  # a non-text codec label is ignored


def test_xhtml_with_an_xml_declaration():
    body = b'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
    body += b'<body><a href="q">Q</a></body></html>'
    assert extract_links(body, BASE) == [Link("http://example.com/dir/q", "Q")]


@pytest.mark.parametrize("body", [b"", b"   ", b"<", b"\x00" * 10, b"<a href='", b"\xff\xfe\x00<"])
def test_degenerate_bodies_give_no_links(body):
    assert extract_links(body, BASE) == []


def test_random_bytes_never_raise():
    rng = random.Random(7)
    for _ in range(200):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(300)))
        extract_links(b"<a href='/x'>" + body, BASE, rng.choice([None, "utf-8", "latin-1"]))
