import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpcore
import pytest
from warcio.archiveiterator import ArchiveIterator

from lakehouse.ids import sha256_hex
from lakehouse.web.crawl_state import STATE_FILE, CrawlState, CrawlStateError
from lakehouse.web.crawler import (
    DEFAULT_USER_AGENT,
    CrawlSettings,
    CrawlSettingsError,
    _HostGate,
    backoff_delay,
    retry_after_seconds,
    run_crawl,
)
from lakehouse.web.snapshots import Fetch, Link
from lakehouse.web.warc_writer import read_warc_payload
from tests.lakehouse.web.site import ALPHA, BINARY_BYTES, NEAR_ALPHA, PAGES, TestSite

REPO = Path(__file__).resolve().parents[3]
UNKNOWN_HOST = "http://nonexistent.invalid/"  # RFC 6761: never resolves
MAX_BODY_BYTES = 100_000

# Every URL the crawl must record, with its HTTP status and error; nothing else.
EXPECTED_OUTCOMES = {
    "/": (200, None),
    "/a.html": (200, None),
    "/a/deeper.html": (200, None),
    "/b.html": (200, None),
    "/bad-utf8.html": (200, None),
    "/big.html": (200, f"body too large: more than {MAX_BODY_BYTES} bytes (stopped reading)"),
    "/c.html": (200, None),
    "/d.html": (200, None),
    "/dup.html": (200, None),
    "/file.bin": (200, "skipped: content type application/octet-stream not allowed"),
    "/malformed.html": (200, None),
    "/missing.html": (404, None),
    "/near-dup.html": (200, None),
    "/notes.txt": (200, None),
    "/private/secret.html": (None, "skipped: disallowed by robots.txt"),
    "/redirect/1": (200, None),
    "/slow.html": (None, "timeout: read timeout after 3 attempts"),
    "/sub/page.html": (200, None),
    "/to-elsewhere": (
        302,
        "skipped: redirect target http://other.example/landing out of scope "
        "(host other.example not allowed)",
    ),
    "/to-private": (
        302,
        "redirect target http://10.255.255.1/secret: refused address 10.255.255.1: private address",
    ),
    "/unavailable.html": (503, None),
    UNKNOWN_HOST: (None, "DNS failure for nonexistent.invalid: "),  # + the resolver's words
}
WITHOUT_BODY = {
    "/big.html",
    "/file.bin",
    "/private/secret.html",
    "/slow.html",
    "/to-elsewhere",
    "/to-private",
    UNKNOWN_HOST,
}


def _settings(site: TestSite, **overrides) -> CrawlSettings:
    values = {
        "seeds": [site.url("/"), UNKNOWN_HOST],
        # 10.255.255.1 is in scope so that its refusal is netguard's, not the scope's.
        "allowed_hosts": ["127.0.0.1", "10.255.255.1", "nonexistent.invalid"],
        "max_depth": 2,
        "delay_seconds": 0.0,
        "retries": 2,
        "backoff_seconds": 0.02,
        "connect_timeout": 1.0,
        "read_timeout": 0.3,
        "page_deadline": 10.0,
        "max_body_bytes": MAX_BODY_BYTES,
        "allowed_networks": ["127.0.0.0/8"],
    }
    return CrawlSettings(**(values | overrides))


def _path(site: TestSite, url: str) -> str:
    return url.removeprefix(site.origin)


@dataclass
class Crawled:
    site: TestSite
    settings: CrawlSettings
    state_dir: Path
    fetches: list[Fetch]
    by_path: dict[str, Fetch]
    connected: list[str]  # hosts the socket layer was asked to connect to
    progress: list[tuple[int, int]]
    seconds: float


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Crawled:
    connected: list[str] = []
    connect = httpcore.AnyIOBackend.connect_tcp

    async def spy(self, host, port, *args, **kwargs):
        connected.append(host)
        return await connect(self, host, port, *args, **kwargs)

    progress: list[tuple[int, int]] = []
    with pytest.MonkeyPatch.context() as patch, TestSite() as site:
        patch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
        settings = _settings(site)
        state_dir = tmp_path_factory.mktemp("crawl")
        started = time.monotonic()
        fetches = run_crawl("test-crawl", settings, state_dir, lambda *p: progress.append(p))
        seconds = time.monotonic() - started
        by_path = {_path(site, fetch.url): fetch for fetch in fetches}
        yield Crawled(site, settings, state_dir, fetches, by_path, connected, progress, seconds)


def test_exactly_the_expected_urls_are_recorded_with_their_outcome(crawled: Crawled):
    outcomes = {path: (f.status, f.error) for path, f in crawled.by_path.items()}
    dns_error = outcomes.pop(UNKNOWN_HOST)[1]
    expected = dict(EXPECTED_OUTCOMES)
    assert dns_error.startswith(expected.pop(UNKNOWN_HOST)[1])
    assert outcomes == expected
    assert [f.url for f in crawled.fetches] == sorted(f.url for f in crawled.fetches)
    assert crawled.seconds < 10


def test_bodies_are_kept_exactly_for_complete_allowed_responses(crawled: Crawled):
    with_body = {path for path, fetch in crawled.by_path.items() if fetch.body is not None}
    assert with_body == set(EXPECTED_OUTCOMES) - WITHOUT_BODY
    by_path = crawled.by_path
    assert by_path["/a.html"].body == ALPHA
    assert by_path["/dup.html"].body == by_path["/a.html"].body  # the exact duplicate
    assert by_path["/near-dup.html"].body == NEAR_ALPHA
    assert by_path["/missing.html"].body == PAGES["/missing.html"][2]
    assert by_path["/notes.txt"].content_type == "text/plain"


def test_each_page_was_requested_once_and_forbidden_ones_never(crawled: Crawled):
    counts = crawled.site.log.counts()
    assert counts["/slow.html"] == 3  # 1 + 2 retries, each cut by the read timeout
    assert counts["/unavailable.html"] == 3  # 503 with Retry-After: 0, retried
    assert counts["/robots.txt"] == 1
    for path in ("/redirect/2", "/redirect/3", "/final.html"):  # redirect hops, seen once
        assert counts[path] == 1
    assert {path for path, count in counts.items() if count > 1} == {
        "/slow.html",
        "/unavailable.html",
    }
    never = {"/private/secret.html", "/nofollow.html", "/a/deepest.html", "/from-404.html"}
    assert never.isdisjoint(counts)


def test_the_redirect_to_a_private_address_is_refused_before_any_connection(crawled: Crawled):
    assert "10.255.255.1" not in crawled.connected
    assert set(crawled.connected) == {"127.0.0.1"}
    refused = crawled.by_path["/to-private"]
    assert refused.final_url == "http://10.255.255.1/secret"
    assert refused.redirects == [crawled.site.url("/to-private")]
    assert refused.attempts == 1


def test_the_redirect_chain_is_followed_and_its_targets_count_as_seen(crawled: Crawled):
    site = crawled.site
    chain = crawled.by_path["/redirect/1"]
    assert chain.final_url == site.url("/final.html")
    assert chain.redirects == [site.url(f"/redirect/{hop}") for hop in (1, 2, 3)]
    assert chain.body == PAGES["/final.html"][2]
    # final.html links to itself and back into the chain: both already seen, neither queued.
    assert [link.url for link in chain.links] == [site.url("/final.html"), site.url("/redirect/2")]
    assert "/final.html" not in crawled.by_path


def test_the_slow_page_is_retried_then_recorded_as_a_timeout(crawled: Crawled):
    slow = crawled.by_path["/slow.html"]
    assert slow.attempts == 3
    assert slow.body is None
    assert crawled.by_path["/unavailable.html"].attempts == 3


def test_the_binary_is_skipped_on_its_headers_without_downloading_it(crawled: Crawled):
    binary = crawled.by_path["/file.bin"]
    assert binary.body is None
    assert binary.headers["content-length"] == str(BINARY_BYTES)
    deadline = time.monotonic() + 5
    while not crawled.site.log.binary_bytes_sent and time.monotonic() < deadline:
        time.sleep(0.01)  # the server notices the hang-up on its next write
    (sent,) = crawled.site.log.binary_bytes_sent
    assert sent < BINARY_BYTES // 4


def test_links_are_recorded_with_anchor_text(crawled: Crawled):
    site = crawled.site
    home = crawled.by_path["/"]
    names = [
        ("/a.html", "Alpha page"),
        ("/b.html", "Beta"),
        ("/private/secret.html", "Secret"),
        ("/dup.html", "Duplicate"),
        ("/near-dup.html", "Near duplicate"),
        ("/missing.html", "Missing"),
        ("/redirect/1", "Redirect chain"),
        ("/to-private", "To private"),
        ("/to-elsewhere", "To elsewhere"),
        ("/slow.html", "Slow"),
        ("/unavailable.html", "Unavailable"),
        ("/file.bin", "Binary"),
        ("/big.html", "Big"),
        ("/malformed.html", "Malformed"),
        ("/bad-utf8.html", "Bad UTF-8"),
        ("/notes.txt", "Notes"),
        ("/nofollow.html", "Do not follow"),  # recorded, not followed
    ]
    expected = [Link(site.url(path), text) for path, text in names]
    expected.append(Link("http://other.example/page", "Elsewhere"))  # recorded, out of scope
    assert home.links == expected  # no mailto:/javascript:, "/a.html#top" is "/a.html"
    assert crawled.by_path["/b.html"].links == [
        Link(site.url("/sub/page.html"), "Sub page"),  # <base href="/sub/">
        Link(site.url("/a.html"), "Alpha logo"),  # image alt text
    ]
    assert crawled.by_path["/malformed.html"].links == [
        Link(site.url("/c.html"), "See C"),
        Link(site.url("/a.html"), "Alpha again"),
    ]
    assert crawled.by_path["/bad-utf8.html"].links == [Link(site.url("/d.html"), "D \ufffdt\ufffd")]
    assert crawled.by_path["/missing.html"].links == [
        Link(site.url("/from-404.html"), "Linked from the 404 page")  # kept, not followed
    ]


def test_depths_and_fetch_fields(crawled: Crawled):
    depths = {path: fetch.depth for path, fetch in crawled.by_path.items()}
    assert depths["/"] == depths[UNKNOWN_HOST] == 0
    assert {p for p, d in depths.items() if d == 2} == {
        "/a/deeper.html",
        "/sub/page.html",
        "/c.html",
        "/d.html",
    }
    for fetch in crawled.fetches:
        assert fetch.source == "crawl:http"
        assert all(name == name.lower() for name in fetch.headers)
        if fetch.status is not None:
            assert fetch.fetched_at.tzinfo == UTC
            assert fetch.content_type == fetch.headers["content-type"].split(";")[0].lower()
    assert crawled.by_path["/bad-utf8.html"].headers["content-type"] == "text/html; charset=utf-8"


def test_warc_references_resolve_to_the_stored_bodies(crawled: Crawled):
    for fetch in crawled.fetches:
        assert (fetch.body_ref is None) == (fetch.body is None), fetch.url
        if fetch.body is not None:
            assert fetch.body_ref.startswith("warc/segment-00001.warc.gz#")
            assert read_warc_payload(crawled.state_dir, fetch.body_ref) == fetch.body


def test_the_warc_segment_holds_a_response_and_request_for_every_exchange(crawled: Crawled):
    (segment,) = (crawled.state_dir / "warc").iterdir()
    records = []
    with segment.open("rb") as handle:
        for record in ArchiveIterator(handle):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            records.append((record.rec_type, uri, record.content_stream().read()))
    types = [kind for kind, _, _ in records]
    assert types[0] == "warcinfo"
    assert types[1:] == ["response", "request"] * ((len(types) - 1) // 2)
    responses = {(uri, payload) for kind, uri, payload in records if kind == "response"}
    for fetch in crawled.fetches:
        if fetch.body is not None:
            assert (fetch.final_url or fetch.url, fetch.body) in responses
    hops = [uri for kind, uri, _ in records if kind == "response" and "/redirect/" in uri]
    assert hops == [crawled.site.url(f"/redirect/{hop}") for hop in (1, 2, 3)]


def test_without_robots_the_transport_still_refuses_and_the_deadline_holds(
    crawled: Crawled, tmp_path: Path
):
    site = crawled.site
    seeds = ["/to-private", "/private/secret.html", "/slow.html"]
    settings = _settings(
        site,
        seeds=[site.url(path) for path in seeds] + [UNKNOWN_HOST],
        max_depth=0,
        respect_robots=False,
        read_timeout=5.0,
        page_deadline=0.5,
    )
    by_path = {_path(site, f.url): f for f in run_crawl("no-robots", settings, tmp_path)}
    assert by_path["/to-private"].error == EXPECTED_OUTCOMES["/to-private"][1]
    assert by_path["/private/secret.html"].status == 200
    assert by_path["/slow.html"].error == "timeout: page deadline of 0.5 s exceeded"
    assert by_path[UNKNOWN_HOST].error.startswith("DNS failure for nonexistent.invalid: ")
    assert by_path[UNKNOWN_HOST].attempts == 1  # an unknown name is not retried


def test_progress_reports_every_finished_page(crawled: Crawled):
    done = [d for d, _ in crawled.progress]
    assert done == list(range(1, len(crawled.fetches) + 1))
    assert crawled.progress[-1] == (len(crawled.fetches), len(crawled.fetches))


def test_a_finished_crawl_run_again_returns_the_same_fetches_without_requests(crawled: Crawled):
    before = crawled.site.log.counts()
    again = run_crawl("test-crawl", crawled.settings, crawled.state_dir)
    assert crawled.site.log.counts() == before
    assert [f.to_row("test-crawl") for f in again] == [
        f.to_row("test-crawl") for f in crawled.fetches
    ]


def test_resuming_with_other_settings_or_crawl_id_is_refused(crawled: Crawled):
    other = _settings(crawled.site, max_depth=3)
    with pytest.raises(CrawlStateError, match=r"other settings \(max_depth: 2 -> 3\)"):
        run_crawl("test-crawl", other, crawled.state_dir)
    with pytest.raises(CrawlStateError, match="holds crawl 'test-crawl', not 'another'"):
        run_crawl("another", crawled.settings, crawled.state_dir)


def test_a_state_dir_is_used_by_one_crawl_at_a_time(crawled: Crawled, tmp_path: Path):
    args = ("c", crawled.settings.to_dict(), list(crawled.settings.seeds))
    with CrawlState(tmp_path, *args), pytest.raises(CrawlStateError, match="another process"):
        CrawlState(tmp_path, *args)


def test_max_pages_stops_the_crawl_in_breadth_first_order(crawled: Crawled, tmp_path: Path):
    settings = _settings(crawled.site, seeds=[crawled.site.url("/")], max_pages=3)
    fetches = run_crawl("small", settings, tmp_path)
    assert [_path(crawled.site, f.url) for f in fetches] == ["/", "/a.html", "/b.html"]


def test_settings_defaults_and_round_trip():
    settings = CrawlSettings(seeds=["HTTP://Example.com:80/start#x", "https://b.example.org"])
    assert settings.seeds == ("http://example.com/start", "https://b.example.org/")
    assert settings.allowed_hosts == ("example.com", "b.example.org")
    assert settings.user_agent == DEFAULT_USER_AGENT
    assert (settings.delay_seconds, settings.per_host_concurrency, settings.concurrency) == (
        1.0,
        2,
        16,
    )
    assert (settings.retries, settings.max_redirects, settings.max_body_bytes) == (3, 5, 5_000_000)
    assert settings.respect_robots
    assert not settings.follow_nofollow
    assert CrawlSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    with pytest.raises(CrawlSettingsError, match=r"unknown crawl setting\(s\) \['max_pgaes'\]"):
        CrawlSettings.from_dict({"seeds": ["http://a.org/"], "max_pgaes": 3})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seeds": []}, "seeds must name at least one URL"),
        ({"seeds": "http://a.org/"}, "seeds must be a list of strings"),
        ({"seeds": ["ftp://a.org/"]}, "seed 'ftp://a.org/' is not an absolute http(s) URL"),
        ({"allowed_hosts": ["b.org"]}, "seed http://a.org/ is outside the crawl scope"),
        ({"allowed_hosts": ["a.org:80"]}, "allowed_hosts: 'a.org:80' is not a host name"),
        ({"allowed_path_prefixes": ["docs/"]}, "prefix 'docs/' must start with '/'"),
        ({"max_depth": -1}, "max_depth must be an integer >= 0, got -1"),
        ({"max_pages": 0}, "max_pages must be an integer >= 1, got 0"),
        ({"concurrency": 1.5}, "concurrency must be an integer >= 1, got 1.5"),
        ({"retries": True}, "retries must be an integer >= 0, got True"),
        ({"read_timeout": 0}, "read_timeout must be > 0 seconds, got 0"),
        ({"delay_seconds": -1}, "delay_seconds must be >= 0 seconds, got -1"),
        ({"allowed_content_types": []}, "allowed_content_types must name at least one"),
        ({"allowed_networks": ["127.0.0.0/33"]}, "allowed network '127.0.0.0/33' is not a CIDR"),
        ({"user_agent": " "}, "user_agent must be a non-empty string"),
        ({"respect_robots": "no"}, "respect_robots must be true or false"),
    ],
)
def test_invalid_settings_are_rejected_with_the_reason(overrides, message):
    with pytest.raises(CrawlSettingsError) as caught:
        CrawlSettings(**({"seeds": ["http://a.org/"]} | overrides))
    assert message in str(caught.value)


def test_retry_after_and_backoff():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 31 Dec 2025 00:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None

    class Midpoint:  # jitter factor 1.0
        def uniform(self, low, high):
            return (low + high) / 2

    assert [backoff_delay(n, 0.5, Midpoint()) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_delay(20, 0.5, Midpoint()) == 60.0  # capped


def test_the_host_gate_spaces_request_starts_by_the_delay():
    async def starts() -> list[float]:
        gate = _HostGate(concurrency=2, delay=0.05)
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def one():
            async with gate.slot():
                times.append(loop.time())

        await asyncio.gather(*(one() for _ in range(3)))
        return times

    times = asyncio.run(starts())
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(times))


# --- a crawl killed with SIGKILL and resumed -------------------------------------------------

CHILD = (
    "import json, sys; from pathlib import Path; "
    "from lakehouse.web.crawler import CrawlSettings, run_crawl; "
    "run_crawl('kill-test', CrawlSettings.from_dict(json.loads(sys.argv[1])), Path(sys.argv[2]))"
)


def _outcome(site: TestSite, fetch: Fetch) -> tuple:
    return (
        _path(site, fetch.url),
        fetch.status,
        fetch.error,
        sha256_hex(fetch.body) if fetch.body is not None else None,
        fetch.depth,
        fetch.final_url,
        fetch.redirects,
        fetch.links,
    )


def _query(state_dir: Path, sql: str) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{state_dir / STATE_FILE}?mode=ro", uri=True) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def _start_and_kill(settings: CrawlSettings, state_dir: Path, log: Path, after: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with log.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(settings.to_dict()), str(state_dir)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert child.poll() is None, f"the crawl ended before the kill: {log.read_text()}"
            if (_query(state_dir, "SELECT count(*) FROM fetches") or [(0,)])[0][0] >= after:
                break
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)


@pytest.mark.slow
def test_a_killed_crawl_resumes_without_refetching_finished_pages(tmp_path: Path):
    with TestSite(page_delay=0.1) as site:
        settings = _settings(
            site, seeds=[site.url("/")], allowed_hosts=["127.0.0.1", "10.255.255.1"]
        )
        clean = run_crawl("kill-test", settings, tmp_path / "clean")
        clean_counts = site.log.counts()
        site.log.clear()

        state_dir = tmp_path / "killed"
        _start_and_kill(settings, state_dir, tmp_path / "child.log", after=5)
        finished_before = {url for (url,) in _query(state_dir, "SELECT url FROM fetches")}
        in_flight = {
            _path(site, url)
            for (url,) in _query(state_dir, "SELECT url FROM frontier WHERE status='in-flight'")
        }
        assert 5 <= len(finished_before) < len(clean), "the kill did not land mid-crawl"
        assert len(in_flight) <= settings.per_host_concurrency

        resumed = run_crawl("kill-test", settings, state_dir)
        counts = site.log.counts()

    assert [_outcome(site, f) for f in resumed] == [_outcome(site, f) for f in clean]
    assert len(_query(state_dir, "SELECT url FROM fetches")) == len(resumed)  # no duplicates
    first_run = {url for (url,) in _query(state_dir, "SELECT url FROM fetches WHERE run = 1")}
    assert first_run == finished_before  # earlier fetches were kept, not redone
    # Which page each requested path belongs to (a redirect hop belongs to its chain's page).
    owner = {}
    for fetch in clean:
        for url in [fetch.url, *fetch.redirects, *([fetch.final_url] if fetch.final_url else [])]:
            owner[_path(site, url)] = _path(site, fetch.url)
    assert counts["/robots.txt"] == 2  # once per run
    refetched = set()
    for path, count in counts.items():
        if path == "/robots.txt":
            continue
        assert count >= clean_counts[path], path
        if count > clean_counts[path]:
            refetched.add(owner[path])
    assert refetched <= in_flight  # only pages in flight at the kill were requested again
    segments = sorted(p.name for p in (state_dir / "warc").iterdir())
    assert segments == ["segment-00001.warc.gz", "segment-00002.warc.gz"]  # one per run
    for fetch in resumed:
        if fetch.body is not None:
            assert read_warc_payload(state_dir, fetch.body_ref) == fetch.body
