"""The live HTTP crawler: seeds → polite, guarded, resumable breadth-first crawl → `Fetch`es.

`run_crawl` crawls the pages reachable from the seeds inside the configured scope (hosts and
path prefixes) up to a depth and a page budget, breadth first. Every page becomes exactly one
`Fetch` (failures included, with `error` set); the state lives in a state dir (SQLite frontier
and fetches, WARC segments), so a killed crawl resumes where it stopped and never fetches a
finished page again.

Per request: robots.txt (RFC 9309, cached per origin), per-host politeness (a delay between
request starts, at least the site's Crawl-delay, and a concurrency cap), `netguard` (every
resolved address vetted, the connection pinned to it), retries with exponential backoff and
jitter on 429/5xx/timeouts/connection errors (Retry-After honored up to a cap), timeouts and
a per-page deadline, a body size cap (streamed, reading stops at the cap), and a content-type
allow-list checked on the headers, before any body byte is read. Redirects are followed by
hand so each hop is checked like a page: scope, robots, netguard, and never a URL the crawl
already knows. Page content is only parsed for links, never executed.
"""

import asyncio
import dataclasses
import email.utils
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from lakehouse.errors import SailyardError
from lakehouse.web.crawl_state import CrawlState, QueuedPage
from lakehouse.web.links import PageLinks, parse_links
from lakehouse.web.netguard import GuardedTransport, NetGuard, NetGuardError, ResolutionError
from lakehouse.web.robots import RobotsCache, fetch_robots_txt
from lakehouse.web.snapshots import Fetch, media_type
from lakehouse.web.urls import normalize_host_name, normalize_url, scope_violation, url_host
from lakehouse.web.warc_writer import WarcSegmentWriter

CODE_VERSION = "crawl-1"
SOURCE = "crawl:http"
HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TOO_MANY_REQUESTS = 429
# Exponential backoff never waits longer than this between two attempts (before jitter).
MAX_BACKOFF_SECONDS = 60.0
DEFAULT_USER_AGENT = "SailyardBot/0.1 (+https://github.com/sailyard)"
DEFAULT_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
# 5 MB: far above the HTML of almost every page (HTTP Archive's median HTML is ~30 KB).
DEFAULT_MAX_BODY_BYTES = 5_000_000
_TIMEOUT_KINDS = {
    httpx.ConnectTimeout: "connect timeout",
    httpx.ReadTimeout: "read timeout",
    httpx.WriteTimeout: "write timeout",
    httpx.PoolTimeout: "connection pool timeout",
}
_RETRIABLE_ERRORS = (
    httpx.TimeoutException,
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    ResolutionError,
)
log = logging.getLogger("sailyard.crawler")


class CrawlSettingsError(SailyardError, ValueError):
    """Crawl settings that cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class CrawlSettings:
    """What to crawl and how politely; validated on creation, stored with the crawl state.

    Sequences may be given as lists; they are kept as tuples. Seeds are normalized, and an
    empty `allowed_hosts` becomes the seeds' hosts.
    """

    seeds: tuple[str, ...]
    allowed_hosts: tuple[str, ...] = ()  # empty: the seeds' hosts (exact host names)
    allowed_path_prefixes: tuple[str, ...] = ()  # empty: the whole host
    max_depth: int = 3  # link distance from the seeds
    max_pages: int | None = 1000  # pages fetched (failures included); None: no limit
    delay_seconds: float = 1.0  # between request starts to one host (robots may raise it)
    per_host_concurrency: int = 2
    concurrency: int = 16  # pages in flight over all hosts
    retries: int = 3  # extra attempts after a 429/5xx/timeout/connection error
    backoff_seconds: float = 0.5  # first backoff; doubles per retry, jittered ×0.5–1.5
    max_retry_after_seconds: float = 60.0  # a longer Retry-After is capped to this
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # between two received bytes
    page_deadline: float = 120.0  # a whole page: robots, redirects, retries, body
    max_redirects: int = 5
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allowed_content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    user_agent: str = DEFAULT_USER_AGENT
    respect_robots: bool = True
    follow_nofollow: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDRs netguard lets through (e.g. 127.0.0.0/8)

    def __post_init__(self) -> None:
        problems: list[str] = []
        for item in dataclasses.fields(self):
            if item.type == tuple[str, ...]:
                self._set_string_tuple(item.name, problems)
        seeds = []
        for seed in self.seeds:
            normalized = normalize_url(seed)
            if normalized is None:
                problems.append(f"seed {seed!r} is not an absolute http(s) URL")
            else:
                seeds.append(normalized)
        self._set("seeds", tuple(dict.fromkeys(seeds)))
        if not self.seeds and not problems:
            problems.append("seeds must name at least one URL")
        hosts = []
        for host in self.allowed_hosts or tuple(url_host(seed) for seed in self.seeds):
            try:
                hosts.append(normalize_host_name(host))
            except ValueError as error:
                problems.append(f"allowed_hosts: {error}")
        self._set("allowed_hosts", tuple(dict.fromkeys(hosts)))
        for prefix in self.allowed_path_prefixes:
            if not prefix.startswith("/"):
                problems.append(f"allowed path prefix {prefix!r} must start with '/'")
        self._set(
            "allowed_content_types", tuple(t.strip().lower() for t in self.allowed_content_types)
        )
        if not self.allowed_content_types:
            problems.append("allowed_content_types must name at least one media type")
        networks = []
        for cidr in self.allowed_networks:
            try:
                networks.append(str(NetGuard.from_cidrs([cidr]).allowed_networks[0]))
            except ValueError as error:
                problems.append(str(error))
        self._set("allowed_networks", tuple(networks))
        problems += self._number_problems()
        if not isinstance(self.user_agent, str) or not self.user_agent.strip():
            problems.append("user_agent must be a non-empty string")
        for name in ("respect_robots", "follow_nofollow"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not problems:
            for seed in self.seeds:
                violation = scope_violation(seed, self.allowed_hosts, self.allowed_path_prefixes)
                if violation:
                    problems.append(f"seed {seed} is outside the crawl scope: {violation}")
        if problems:
            raise CrawlSettingsError("invalid crawl settings: " + "; ".join(problems))

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # normalizing a frozen dataclass's own fields

    def _set_string_tuple(self, name: str, problems: list[str]) -> None:
        value = getattr(self, name)
        if isinstance(value, str) or not isinstance(value, list | tuple):
            problems.append(f"{name} must be a list of strings, got {value!r}")
            self._set(name, ())
        elif not all(isinstance(item, str) for item in value):
            problems.append(f"{name} must hold only strings, got {value!r}")
            self._set(name, ())
        else:
            self._set(name, tuple(value))

    def _number_problems(self) -> list[str]:
        problems = []
        integers = {
            "max_depth": 0,
            "per_host_concurrency": 1,
            "concurrency": 1,
            "retries": 0,
            "max_redirects": 0,
            "max_body_bytes": 1,
        }
        if self.max_pages is not None:
            integers["max_pages"] = 1
        for name, minimum in integers.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                problems.append(f"{name} must be an integer >= {minimum}, got {value!r}")
        positive = ("connect_timeout", "read_timeout", "page_deadline")
        non_negative = ("delay_seconds", "backoff_seconds", "max_retry_after_seconds")
        for name in positive + non_negative:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name} must be a number of seconds, got {value!r}")
            elif value < 0 or (value == 0 and name in positive):
                bound = "> 0" if name in positive else ">= 0"
                problems.append(f"{name} must be {bound} seconds, got {value!r}")
        return problems

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (stored with the crawl, compared on resume)."""
        return {
            key: list(v) if isinstance(v, tuple) else v
            for key, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict) -> "CrawlSettings":
        """Settings from `to_dict` output (or a config file); unknown keys are an error."""
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CrawlSettingsError(
                f"unknown crawl setting(s) {unknown}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or HTTP date), or None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(retry: int, base_seconds: float, rng: random.Random) -> float:
    """Wait before retry number `retry` (1, 2, …): base × 2^(retry-1), capped, jittered."""
    return min(MAX_BACKOFF_SECONDS, base_seconds * 2 ** (retry - 1)) * rng.uniform(0.5, 1.5)


def describe_error(error: Exception, attempts: int) -> str:
    """A one-line reason for a request that raised `error` after `attempts` attempts."""
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(error, NetGuardError):
        return str(error)
    for kind, name in _TIMEOUT_KINDS.items():
        if isinstance(error, kind):
            return f"timeout: {name} {tries}"
    if isinstance(error, httpx.ConnectError):
        return f"connection failed: {error or 'no connection'} {tries}"
    if isinstance(error, httpx.TooManyRedirects | httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"invalid request: {error}"
    return f"network error: {type(error).__name__}: {error} {tries}"


class _HostGate:
    """Politeness for one host: at most `concurrency` requests, starts `delay` apart."""

    def __init__(self, concurrency: int, delay: float):
        self.delay = delay
        self._slots = asyncio.Semaphore(concurrency)
        self._next_start = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            loop = asyncio.get_running_loop()
            start = max(loop.time(), self._next_start)
            self._next_start = start + self.delay  # reserved before awaiting: no race
            if start > loop.time():
                await asyncio.sleep(start - loop.time())
            yield


@dataclass
class _Response:
    """One HTTP response as the crawler kept it."""

    url: str
    status: int
    headers: dict[str, str]
    content_type: str | None
    fetched_at: datetime
    location: str | None = None  # set for a redirect
    body: bytes | None = None
    body_ref: str | None = None
    charset: str | None = None
    error: str | None = None  # why the body was not kept


@dataclass
class _Page:
    """A page being fetched; what it has done so far survives a deadline cancel."""

    url: str
    depth: int
    redirects: list[str] = field(default_factory=list)
    hops: list[str] = field(default_factory=list)  # redirect targets claimed by this page
    retries: int = 0
    response: _Response | None = None
    final_url: str | None = None
    links: PageLinks | None = None
    error: str | None = None

    def fetch(self) -> Fetch:
        response = self.response
        return Fetch(
            url=self.url,
            status=response.status if response else None,
            body=response.body if response else None,
            content_type=response.content_type if response else None,
            headers=response.headers if response else {},
            final_url=self.final_url,
            redirects=list(self.redirects),
            depth=self.depth,
            links=list(self.links.links) if self.links else [],
            body_ref=response.body_ref if response else None,
            fetched_at=response.fetched_at if response else None,
            attempts=1 + self.retries,
            source=SOURCE,
            error=self.error,
        )


class _Crawl:
    """One run of one crawl: dispatches pages from the state's frontier, finishes them."""

    def __init__(
        self,
        settings: CrawlSettings,
        state: CrawlState,
        warc: WarcSegmentWriter,
        progress: Callable[[int, int], None] | None,
    ):
        self.settings = settings
        self.state = state
        self.warc = warc
        self.progress = progress
        self.claimed: set[str] = set()  # redirect targets of in-flight pages
        self.gates: dict[str, _HostGate] = {}
        self.pages_per_host: Counter[str] = Counter()
        self.rng = random.Random()  # jitter only: timing, never results
        self.client: httpx.AsyncClient | None = None
        self.robots: RobotsCache | None = None

    def gate(self, host: str) -> _HostGate:
        if host not in self.gates:
            settings = self.settings
            self.gates[host] = _HostGate(settings.per_host_concurrency, settings.delay_seconds)
        return self.gates[host]

    async def run(self) -> None:
        settings = self.settings
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.page_deadline,
        )
        limits = httpx.Limits(
            max_connections=2 * settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        )
        accept = ",".join(settings.allowed_content_types) + ",*/*;q=0.1"
        guard = NetGuard.from_cidrs(settings.allowed_networks)
        async with httpx.AsyncClient(
            transport=GuardedTransport(guard, limits),
            timeout=timeout,
            headers={"User-Agent": settings.user_agent, "Accept": accept},
            follow_redirects=False,
            max_redirects=settings.max_redirects,
            trust_env=False,
        ) as client:
            self.client = client
            self.robots = RobotsCache(self._fetch_robots, settings.page_deadline)
            await self._dispatch()

    async def _dispatch(self) -> None:
        settings = self.settings
        tasks: dict[asyncio.Task, str] = {}
        done, _ = self.state.counts()
        while True:
            while len(tasks) < settings.concurrency and (
                settings.max_pages is None or done + len(tasks) < settings.max_pages
            ):
                busy = {
                    host
                    for host, count in self.pages_per_host.items()
                    if count >= settings.per_host_concurrency
                }
                queued = self.state.claim_next(busy)
                if queued is None:
                    break
                host = url_host(queued.url)
                self.pages_per_host[host] += 1
                tasks[asyncio.create_task(self._crawl_page(queued))] = host
            if not tasks:
                return
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                self.pages_per_host[tasks.pop(task)] -= 1
                self._finish(task.result())
                done += 1

    def _finish(self, page: _Page) -> None:
        """Commit a page (fetch, redirect targets, new in-scope links) and report progress."""
        settings = self.settings
        new_links = []
        status = page.response.status if page.response else None
        followable = status is not None and 200 <= status < 300 and page.links is not None
        if followable and page.depth < settings.max_depth:
            for url in page.links.to_follow(settings.follow_nofollow):
                in_scope = not scope_violation(
                    url, settings.allowed_hosts, settings.allowed_path_prefixes
                )
                if in_scope and url not in self.claimed:
                    new_links.append(url)
        self.state.finish(page.fetch(), page.hops, new_links)
        self.claimed.difference_update(page.hops)
        if self.progress is not None:
            done, known = self.state.counts()
            if settings.max_pages is not None:
                known = min(known, settings.max_pages)
            self.progress(done, known)

    async def _crawl_page(self, queued: QueuedPage) -> _Page:
        page = _Page(queued.url, queued.depth)
        try:
            async with asyncio.timeout(self.settings.page_deadline):
                await self._follow_chain(page)
        except TimeoutError:
            page.error = f"timeout: page deadline of {self.settings.page_deadline:g} s exceeded"
        if page.error is not None:
            level = logging.INFO if page.error.startswith("skipped:") else logging.WARNING
            log.log(level, "%s: %s", page.url, page.error)
        return page

    def _is_known(self, url: str) -> bool:
        return url in self.claimed or self.state.is_known(url)

    def _hop_problem(self, page: _Page, current: str, location: str) -> tuple[str | None, str]:
        """(why the redirect from `current` to `location` is not followed, or None; target)."""
        settings = self.settings
        target = normalize_url(location, current)
        if target is None:
            return f"redirect to a non-http(s) location {location[:200]!r}", location
        if len(page.redirects) > settings.max_redirects:
            return f"too many redirects (more than {settings.max_redirects})", target
        violation = scope_violation(target, settings.allowed_hosts, settings.allowed_path_prefixes)
        if violation:
            return f"skipped: redirect target {target} out of scope ({violation})", target
        if target in page.redirects:
            return f"redirect loop: {target} was already requested", target
        if self._is_known(target):
            return f"skipped: redirect target {target} already in this crawl", target
        return None, target

    async def _follow_chain(self, page: _Page) -> None:
        """Fetch the page, following allowed redirects; sets `page.response`/`error`."""
        url = page.url
        while True:
            try:
                robots_refusal = await self._robots_refusal(url)
            except NetGuardError as error:
                page.error = self._prefixed(page, url, str(error))
                return
            if robots_refusal is not None:
                prefix = "" if url == page.url else f"redirect target {url} "
                page.error = f"skipped: {prefix}{robots_refusal}"
                return
            response = await self._request(page, url)
            if response is None:
                return
            page.response = response
            page.error = response.error
            if response.location is None:
                await self._parse_links(page, response)
                return
            page.redirects.append(url)
            problem, target = self._hop_problem(page, url, response.location)
            page.final_url = target
            if problem is not None:
                page.error = problem
                return
            page.hops.append(target)
            self.claimed.add(target)
            url = target

    @staticmethod
    def _prefixed(page: _Page, url: str, message: str) -> str:
        return message if url == page.url else f"redirect target {url}: {message}"

    async def _parse_links(self, page: _Page, response: _Response) -> None:
        if response.body is not None and response.content_type in HTML_TYPES:
            base = page.final_url or page.url
            page.links = await asyncio.to_thread(parse_links, response.body, base, response.charset)

    async def _robots_refusal(self, url: str) -> str | None:
        """Why robots.txt forbids `url` (None: allowed); applies its Crawl-delay."""
        settings = self.settings
        if not settings.respect_robots:
            return None
        policy = await self.robots.policy(url)
        delay = policy.crawl_delay(settings.user_agent)
        gate = self.gate(url_host(url))
        if delay is not None and delay > gate.delay:
            gate.delay = delay
        if policy.allows(url, settings.user_agent):
            return None
        return "disallowed by robots.txt" if policy.parser is not None else policy.summary

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        async with self.gate(url_host(url)).slot():
            return await fetch_robots_txt(self.client, url)

    async def _request(self, page: _Page, url: str) -> _Response | None:
        """GET `url` with retries; None (and `page.error`) when no response came back."""
        settings = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._attempt(url)
            except _RETRIABLE_ERRORS as error:
                permanent = isinstance(error, ResolutionError) and not error.temporary
                if permanent or attempt > settings.retries:
                    page.error = self._prefixed(page, url, describe_error(error, attempt))
                    return None
                wait = backoff_delay(attempt, settings.backoff_seconds, self.rng)
                log.debug("%s: %s; retry in %.2f s", url, describe_error(error, attempt), wait)
            except (NetGuardError, httpx.HTTPError, httpx.InvalidURL) as error:
                page.error = self._prefixed(page, url, describe_error(error, attempt))
                return None
            else:
                retriable = response.status == TOO_MANY_REQUESTS or response.status >= 500
                if not retriable or attempt > settings.retries:
                    return response
                wait = backoff_delay(attempt, settings.backoff_seconds, self.rng)
                asked = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
                if asked is not None:
                    wait = max(wait, min(asked, settings.max_retry_after_seconds))
                log.debug("%s: HTTP %d; retry in %.2f s", url, response.status, wait)
            page.retries += 1
            await asyncio.sleep(wait)

    async def _attempt(self, url: str) -> _Response:
        """One GET of `url` under its host's politeness gate."""
        request = self.client.build_request("GET", url)
        async with self.gate(url_host(url)).slot():
            response = await self.client.send(request, stream=True)
            try:
                return await self._read(url, request, response)
            finally:
                await response.aclose()

    async def _read(self, url: str, request: httpx.Request, response: httpx.Response) -> _Response:
        """Check the headers, then read the body (up to the limit) and archive the exchange.

        The WARC write (and its fsync) runs on the event loop: one writer, no interleaving.
        """
        settings = self.settings
        headers = dict(response.headers.items())  # lower-case names, repeats comma-joined
        kept = _Response(
            url=url,
            status=response.status_code,
            headers=headers,
            content_type=media_type(headers.get("content-type")),
            fetched_at=datetime.now(UTC),
            charset=response.charset_encoding,
        )
        if response.status_code in REDIRECT_STATUSES and headers.get("location"):
            kept.location = headers["location"]
        elif kept.content_type not in settings.allowed_content_types:
            kept.error = f"skipped: content type {kept.content_type or '(none)'} not allowed"
            return kept
        declared = headers.get("content-length", "")
        limit = settings.max_body_bytes
        if declared.isdigit() and int(declared) > limit:
            if kept.location is None:
                kept.error = f"body too large: Content-Length {declared} exceeds {limit} bytes"
            return kept
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > limit:
                if kept.location is None:
                    kept.error = f"body too large: more than {limit} bytes (stopped reading)"
                return kept
        stream = response.extensions.get("network_stream")
        server = stream.get_extra_info("server_addr") if stream is not None else None
        kept.body_ref = self.warc.write_exchange(
            url=url,
            request_line=f"GET {request.url.raw_path.decode('ascii')} HTTP/1.1",
            request_headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
            ],
            status_line=f"{response.status_code} {response.reason_phrase}".strip(),
            protocol=response.http_version,
            response_headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
            ],
            body=bytes(body),
            fetched_at=kept.fetched_at,
            ip_address=server[0] if isinstance(server, tuple) else None,
        )
        if kept.location is None:
            kept.body = bytes(body)
        else:  # archived, but the page's reference is its final response's
            kept.body_ref = None
        return kept


def run_crawl(
    crawl_id: str,
    settings: CrawlSettings,
    state_dir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[Fetch]:
    """Crawl (or resume crawling) into `state_dir`; every Fetch of the crawl, sorted by URL.

    A state dir holds one crawl: resuming needs the same `crawl_id` and settings (else a
    CrawlStateError). Fetches finished by earlier, killed runs are returned too; a page is
    never fetched twice. `progress(done, known)` is called as pages finish. Runs its own
    event loop (`asyncio.run`), so call it from synchronous code.
    """
    if not crawl_id or not crawl_id.strip():
        raise CrawlSettingsError("crawl_id must be a non-empty string")
    with CrawlState(state_dir, crawl_id, settings.to_dict(), list(settings.seeds)) as state:
        if state.requeued:
            log.info(
                "crawl %r: %d in-flight page(s) of a stopped run queued again",
                crawl_id,
                state.requeued,
            )
        warc = WarcSegmentWriter(state_dir, crawl_id)
        try:
            asyncio.run(_Crawl(settings, state, warc, progress).run())
        finally:
            warc.close()
        return state.fetches()
