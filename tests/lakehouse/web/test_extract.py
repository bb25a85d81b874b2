import json

from lakehouse.web.documents import AcceptedDocument, QualitySettings, process_snapshot
from lakehouse.web.drops import DropReason, Rejection
from lakehouse.web.extract import (
    ExtractedDocument,
    charset_of,
    decode_body,
    detect_language,
    extract,
    language_code,
)

ARTICLE = (
    "The Analytical Engine was a proposed digital mechanical general-purpose computer designed "
    "by the English mathematician and computer pioneer Charles Babbage. It was first described "
    "in 1837 as the successor to the difference engine, which was a design for a simpler "
    "mechanical calculator. "
)
SECOND = (
    "Ada Lovelace wrote the first program for the engine, computing Bernoulli numbers, and "
    "saw that it could act on symbols other than numbers, such as musical notes. "
)


def _page(body_html: str, lang: str = "en", head: str = "") -> bytes:
    return (
        f'<html lang="{lang}"><head><meta charset="utf-8"><title>Analytical Engine</title>'
        f"{head}</head><body>{body_html}</body></html>"
    ).encode()


def test_charset_comes_from_the_header_then_meta_then_utf8():
    latin = "café".encode("latin-1")
    assert decode_body(latin, "iso-8859-1") == ("café", 0.0)
    assert decode_body(b'<meta charset="windows-1252">' + latin, None)[0].endswith("café")
    text, bad = decode_body(b"caf\xe9 au lait", None)  # latin-1 bytes read as utf-8
    assert "\ufffd" in text
    assert 0 < bad < 0.1
    assert decode_body("naïve".encode(), "no-such-charset") == ("naïve", 0.0)
    assert charset_of('text/html; charset="UTF-8"') == "utf-8"
    assert charset_of("text/html") is None


def test_language_codes_are_normalized():
    assert language_code("en-GB") == "en"
    assert language_code("pt_BR, en") == "pt"
    assert language_code("x") is None
    assert language_code(None) is None


def test_language_is_detected_when_nobody_declares_it():
    assert detect_language("Ceci est une phrase écrite en français pour le test.") == "fr"
    assert detect_language("too short") is None


def test_html_yields_main_text_title_date_and_page_language():
    body = _page(
        f"<nav><a href='/'>Home</a> <a href='/a'>About</a></nav><article><h1>Analytical "
        f"Engine</h1><p>{ARTICLE}</p><p>{SECOND}</p></article>",
        lang="en-GB",
        head='<meta property="article:published_time" content="2021-03-04">',
    )
    outcome = extract("text/html", body, {})
    assert isinstance(outcome, ExtractedDocument)
    assert "Charles Babbage" in outcome.text
    assert "Bernoulli numbers" in outcome.text
    assert "About" not in outcome.text
    assert outcome.title == "Analytical Engine"
    assert outcome.date == "2021-03-04"
    assert outcome.language == "en"
    assert 0.5 < outcome.main_text_ratio <= 1.0


def test_declared_content_language_wins_over_the_page():
    body = _page(f"<article><p>{ARTICLE}</p></article>", lang="de")
    assert extract("text/html", body, {"content-language": "en"}).language == "en"


def test_malformed_html_still_extracts():
    body = f"<html><body><div><p>{ARTICLE}<p>{SECOND}<table><tr><td>x</div></body>".encode()
    outcome = extract("text/html", body, {})
    assert isinstance(outcome, ExtractedDocument)
    assert "difference engine" in outcome.text


def test_mis_encoded_html_is_rejected_with_the_share_of_bad_bytes():
    body = b"<html><body><p>" + bytes(range(128, 256)) * 20 + b"</p></body></html>"
    outcome = extract("text/html", body, {"content-type": "text/html; charset=utf-8"})
    assert isinstance(outcome, Rejection)
    assert outcome.reason is DropReason.BAD_ENCODING
    assert "do not decode as utf-8" in outcome.detail


DEFAULT_SETTINGS = QualitySettings()


def _process(body: bytes, content_type: str = "text/html", settings=DEFAULT_SETTINGS):
    return process_snapshot(200, None, content_type, json.dumps({}), body, settings)


def test_a_navigation_page_is_dropped_as_boilerplate():
    links = " ".join(
        f"<li><a href='/p{i}'>Page number {i} of the index</a></li>" for i in range(300)
    )
    body = _page(f"<ul>{links}</ul><article><p>{ARTICLE}</p></article>")
    outcome = _process(body)
    assert isinstance(outcome, Rejection)
    assert outcome.reason is DropReason.BOILERPLATE


def test_language_filter_names_the_language():
    record = json.dumps({"text": ARTICLE, "language": "en"}).encode()
    kept = _process(record, "application/vnd.sailyard.document+json")
    assert isinstance(kept, AcceptedDocument)
    dropped = _process(
        record, "application/vnd.sailyard.document+json", QualitySettings(languages=("fr",))
    )
    assert isinstance(dropped, Rejection)
    assert dropped.reason is DropReason.LANGUAGE
    assert "'en' not in ['fr']" in dropped.detail


def test_corpus_records_keep_their_metadata():
    record = {"text": ARTICLE, "title": "AE", "date": "1837-01-01", "topic": "History"}
    outcome = extract("application/vnd.sailyard.document+json", json.dumps(record).encode(), {})
    assert outcome.title == "AE"
    assert outcome.date == "1837-01-01"
    assert outcome.topic == "History"
    assert outcome.language == "en"  # detected
