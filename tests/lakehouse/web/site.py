"""A small web site for crawler tests, served on loopback from a background thread.

`TestSite` serves the pages below on 127.0.0.1 (a free port) with `ThreadingHTTPServer` and
logs every request path, so tests can say exactly what the crawler asked for. The site has
pages over three link depths, a robots.txt disallowing /private/ (linked from the home page),
an exact and a near duplicate, a 404, a three-hop redirect chain, redirects to a private
address and to another host, a page slower than any test read timeout, an always-503 page,
a large binary, an oversized HTML page, malformed HTML, invalid UTF-8, plain text, and
nofollow, out-of-scope, mailto and javascript links.
"""

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.loopback import QuietHandler

ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"
SLOW_SECONDS = 1.0  # the slow page answers after this long: above the tests' read timeout
BINARY_BYTES = 32 * 1024 * 1024  # far above what socket buffers hold: a full read shows
BINARY_CHUNK = 64 * 1024
BIG_HTML_BYTES = 300_000  # above the tests' max_body_bytes

HOME = b"""<!doctype html><html><head><title>Home</title></head><body>
<h1>Test site</h1>
<a href="/a.html">Alpha page</a>
<a href="b.html">Beta</a>
<a href="/private/secret.html">Secret</a>
<a href="/dup.html">Duplicate</a>
<a href="/near-dup.html">Near duplicate</a>
<a href="/missing.html">Missing</a>
<a href="/redirect/1">Redirect chain</a>
<a href="/to-private">To private</a>
<a href="/to-elsewhere">To elsewhere</a>
<a href="/slow.html">Slow</a>
<a href="/unavailable.html">Unavailable</a>
<a href="/file.bin">Binary</a>
<a href="/big.html">Big</a>
<a href="/malformed.html">Malformed</a>
<a href="/bad-utf8.html">Bad UTF-8</a>
<a href="/notes.txt">Notes</a>
<a href="/nofollow.html" rel="nofollow">Do not follow</a>
<a href="http://other.example/page">Elsewhere</a>
<a href="mailto:someone@example.org">Mail us</a>
<a href="javascript:alert(1)">Script</a>
<a href="/a.html#top">Alpha   page</a>
</body></html>"""

ALPHA = b"""<html><head><title>Alpha</title></head><body>
<p>The analytical engine was a proposed mechanical general-purpose computer designed by the
English mathematician Charles Babbage. It was first described in 1837 as the successor to the
difference engine, a simpler mechanical calculator. The engine had an arithmetic logic unit,
control flow with conditional branching and loops, and integrated memory, which made it the
first design for a general-purpose computer that could be called Turing-complete in modern
terms. Babbage never finished building it.</p>
<a href="/a/deeper.html">Deeper</a>
</body></html>"""
# A near duplicate: one word changed near the end (Jaccard of 5-word shingles ≈ 0.9).
NEAR_ALPHA = ALPHA.replace(b"never finished", b"never completed")

PAGES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/": (200, {}, HOME),
    "/a.html": (200, {}, ALPHA),
    "/dup.html": (200, {}, ALPHA),
    "/near-dup.html": (200, {}, NEAR_ALPHA),
    "/b.html": (
        200,
        {},
        b"""<html><head><base href="/sub/"></head><body>
<a href="page.html">Sub page</a>
<a href="/a.html"><img src="/logo.png" alt="Alpha logo"></a>
</body></html>""",
    ),
    "/sub/page.html": (200, {}, b"<p>A page under /sub/.</p>"),
    "/a/deeper.html": (200, {}, b'<p>Depth two.</p><a href="/a/deepest.html">Deepest</a>'),
    "/a/deepest.html": (200, {}, b"<p>Depth three: beyond the tests' max depth.</p>"),
    "/private/secret.html": (200, {}, b"<p>Robots.txt keeps crawlers out of here.</p>"),
    "/nofollow.html": (200, {}, b"<p>Only linked with rel=nofollow.</p>"),
    "/missing.html": (
        404,
        {},
        b'<p>Not here.</p><a href="/from-404.html">Linked from the 404 page</a>',
    ),
    "/redirect/1": (302, {"Location": "/redirect/2"}, b""),
    "/redirect/2": (301, {"Location": "{origin}/redirect/3"}, b"<p>Moved</p>"),
    "/redirect/3": (307, {"Location": "../final.html"}, b""),
    "/final.html": (
        200,
        {},
        b'<p>End of the chain.</p><a href="/final.html">Self</a>'
        b'<a href="/redirect/2">Back into the chain</a>',
    ),
    "/to-private": (302, {"Location": "http://10.255.255.1/secret"}, b""),
    "/to-elsewhere": (302, {"Location": "http://other.example/landing"}, b""),
    "/unavailable.html": (503, {"Retry-After": "0"}, b"<p>Down for maintenance.</p>"),
    "/malformed.html": (
        200,
        {},
        b"<html><body><div><p>Unclosed <a href='/c.html'>See <b>C</div></span>&&& <<<>>> "
        b'</td></tr><a href="/a.html">Alpha <i>again</a><table><tr><td>'
        b"</html></html>garbage \x00 <a href=",
    ),
    "/bad-utf8.html": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b"<html><body><p>Caf\xe9 \xff\xfe\xfa</p><a href='/d.html'>D \xe9t\xe9</a></body></html>",
    ),
    "/c.html": (200, {}, b"<p>C.</p>"),
    "/d.html": (200, {}, b"<p>D.</p>"),
    "/notes.txt": (200, {"Content-Type": "text/plain; charset=utf-8"}, b"Plain notes."),
}


@dataclass
class SiteLog:
    """What the site was asked for, and how much of the binary it sent."""

    paths: list[str] = field(default_factory=list)
    binary_bytes_sent: list[int] = field(default_factory=list)  # one entry per finished send
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str) -> None:
        with self.lock:
            self.paths.append(path)

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.paths)

    def clear(self) -> None:
        with self.lock:
            self.paths.clear()
            self.binary_bytes_sent.clear()


class TestSite:
    """The site on a background thread: `with TestSite() as site: site.url("/")`."""

    __test__ = False  # not a pytest test class

    def __init__(self, page_delay: float = 0.0):
        self.page_delay = page_delay  # added to every page (not robots.txt): slows a crawl
        self.log = SiteLog()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def __enter__(self) -> "TestSite":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):  # the site keeps its own request log
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                site.log.add(path)
                # The crawler may hang up early (timeout, size limit, skipped content type).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    site._respond(self, path)

        return Handler

    def _send(self, handler, status: int, headers: dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        headers = {"Content-Type": "text/html", **headers}
        for name, value in headers.items():
            handler.send_header(name, value.replace("{origin}", self.origin))
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _respond(self, handler, path: str) -> None:
        if path == "/robots.txt":
            self._send(handler, 200, {"Content-Type": "text/plain"}, ROBOTS_TXT)
            return
        if self.page_delay:
            time.sleep(self.page_delay)
        if path == "/slow.html":
            time.sleep(SLOW_SECONDS)
            self._send(handler, 200, {}, b"<p>Finally.</p>")
        elif path == "/file.bin":
            self._send_binary(handler)
        elif path == "/big.html":
            # No Content-Length: the body ends when the connection closes (HTTP/1.0), so only
            # reading it shows its size.
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            handler.wfile.write(b"<p>" + b"x" * BIG_HTML_BYTES + b"</p>")
        elif path in PAGES:
            self._send(handler, *PAGES[path])
        else:
            self._send(handler, 404, {}, b"<p>No such page.</p>")

    def _send_binary(self, handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(BINARY_BYTES))
        handler.end_headers()
        sent = 0
        chunk = b"\x89" * BINARY_CHUNK
        try:
            while sent < BINARY_BYTES:
                handler.wfile.write(chunk)
                sent += len(chunk)
        finally:
            with self.log.lock:
                self.log.binary_bytes_sent.append(sent)
