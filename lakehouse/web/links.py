"""Outgoing links of an HTML page: normalized absolute http(s) URLs with their anchor text.

Pages are untrusted: the body is decoded with replacement characters (never an error), parsed
by lxml's forgiving HTML parser, and only read (no script runs, nothing is fetched). Links
marked `rel="nofollow"`, or on a page whose `<meta name="robots">` says nofollow, stay in the
list (they are data) and are also reported so the crawler can choose not to follow them.
"""

import codecs
import logging
import re
from dataclasses import dataclass

import lxml.etree
import lxml.html

from lakehouse.web.normalize import normalize_text
from lakehouse.web.snapshots import Link
from lakehouse.web.urls import normalize_url

log = logging.getLogger("sailyard.links")

# The HTML standard's encoding sniffing looks for a <meta charset> in the first 1024 bytes.
CHARSET_SNIFF_BYTES = 1024
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# The HTML standard decodes these labels as windows-1252 (a superset used by real pages).
_WINDOWS_1252_ALIASES = {"latin_1", "ascii", "iso8859-1"}
_META_ROBOTS_NAMES = ("robots",)


@dataclass(frozen=True)
class PageLinks:
    """All links of a page in document order, and the URLs it asks crawlers not to follow."""

    links: list[Link]
    nofollow: frozenset[str]  # URLs whose every link is nofollow (all, if the page says so)

    def to_follow(self, follow_nofollow: bool = False) -> list[str]:
        """The distinct link URLs to follow, in document order."""
        urls = dict.fromkeys(link.url for link in self.links)
        return [url for url in urls if follow_nofollow or url not in self.nofollow]


def _codec(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


def decode_html(body: bytes, content_type_charset: str | None = None) -> str:
    """The page as text: BOM, then the header charset, then `<meta charset>`, else UTF-8.

    Invalid bytes become U+FFFD; this never raises.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    encoding = _codec(content_type_charset)
    if encoding is None:
        meta = _META_CHARSET.search(body[:CHARSET_SNIFF_BYTES])
        encoding = _codec(meta.group(1).decode("ascii") if meta else None) or "utf-8"
        if encoding.startswith("utf-16"):  # a <meta> cannot truthfully declare UTF-16
            encoding = "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:  # a label naming a non-text codec ("base64", "rot13")
        return body.decode("utf-8", errors="replace")


def _anchor_text(element: lxml.html.HtmlElement) -> str:
    """Whitespace-collapsed link text; an image-only link uses the images' alt text."""
    if element.tag == "area":
        return " ".join(normalize_text(element.get("alt", "")).split())
    text = " ".join(normalize_text(element.text_content()).split())
    if not text:
        alts = (image.get("alt", "") for image in element.iter("img"))
        text = " ".join(normalize_text(" ".join(alts)).split())
    if not text:
        text = " ".join(normalize_text(element.get("title", "")).split())
    return text


def _parse(body: bytes, content_type_charset: str | None) -> lxml.html.HtmlElement | None:
    text = _XML_DECLARATION.sub("", decode_html(body, content_type_charset), count=1)
    text = text.replace("\x00", "\ufffd")
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.LxmlError, ValueError) as error:
        log.debug("unparsable HTML (%s): no links", error)
        return None


def _page_says_nofollow(document: lxml.html.HtmlElement) -> bool:
    for meta in document.iter("meta"):
        if (meta.get("name") or "").strip().lower() in _META_ROBOTS_NAMES:
            directives = {d.strip() for d in (meta.get("content") or "").lower().split(",")}
            if directives & {"nofollow", "none"}:
                return True
    return False


def parse_links(body: bytes, base_url: str, content_type_charset: str | None = None) -> PageLinks:
    """The page's `a[href]` and `area[href]` links, resolved against `<base href>` if any.

    Only http(s) URLs are kept (javascript:, mailto:, data: and the like are dropped), each
    (url, text) pair once, in document order. Malformed HTML yields what can be read.
    """
    document = _parse(body, content_type_charset)
    if document is None:
        return PageLinks([], frozenset())
    base = base_url
    for element in document.iter("base"):
        href = element.get("href")
        if href is not None:
            base = normalize_url(href, base_url) or base_url
            break
    page_nofollow = _page_says_nofollow(document)
    links: dict[Link, None] = {}
    followed: set[str] = set()
    for element in document.iter("a", "area"):
        href = element.get("href")
        url = normalize_url(href, base) if href is not None else None
        if url is None:
            continue
        links.setdefault(Link(url=url, text=_anchor_text(element)))
        if not page_nofollow and "nofollow" not in (element.get("rel") or "").lower().split():
            followed.add(url)
    urls = {link.url for link in links}
    return PageLinks(list(links), frozenset(urls - followed))


def extract_links(
    body: bytes, base_url: str, content_type_charset: str | None = None
) -> list[Link]:
    """The page's outgoing links (see `parse_links`), nofollow ones included."""
    return parse_links(body, base_url, content_type_charset).links
