"""robots.txt per origin (scheme, host, port), fetched once per crawl run and cached.

Follows RFC 9309 for what an answer means: a 2xx body is parsed (the first 500 KiB), a 4xx
means no robots.txt (everything allowed), a 5xx or a network failure means the site is
unreachable (everything disallowed for that origin). A refused address, or a host name DNS
does not know, is not a robots answer: it propagates, so the page reports it. Rules are read
by `urllib.robotparser`, which applies the first matching rule of the matching group in file
order (RFC 9309 prefers the longest match; sites rarely depend on the difference), and reads
integer `Crawl-delay` values.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

import httpx

from lakehouse.web.netguard import RefusedAddressError, ResolutionError
from lakehouse.web.urls import url_origin

# RFC 9309 section 2.5: crawlers must parse at least the first 500 KiB.
ROBOTS_MAX_BYTES = 500 * 1024
# A Crawl-delay beyond this is capped: a site asking for hours between pages would stall the
# crawl (the limit is ours; RFC 9309 leaves Crawl-delay undefined).
MAX_CRAWL_DELAY_SECONDS = 60.0
log = logging.getLogger("sailyard.robots")
RobotsFetcher = Callable[[str], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True)
class RobotsPolicy:
    """What one origin's robots.txt says; `summary` tells how it was obtained."""

    origin: str
    parser: RobotFileParser | None  # None: a blanket rule (see `allow_all`)
    allow_all: bool
    summary: str

    @classmethod
    def from_response(cls, origin: str, status: int, body: bytes) -> "RobotsPolicy":
        """The policy for an HTTP answer to `origin/robots.txt` (after redirects)."""
        if 200 <= status < 300:
            parser = RobotFileParser(f"{origin}/robots.txt")
            text = body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            parser.parse(text.splitlines())
            return cls(origin, parser, False, f"robots.txt HTTP {status}: parsed")
        if 400 <= status < 500:
            return cls(origin, None, True, f"robots.txt HTTP {status}: unavailable, allow all")
        return cls(origin, None, False, f"robots.txt HTTP {status}: unreachable, disallow all")

    @classmethod
    def unreachable(cls, origin: str, why: str) -> "RobotsPolicy":
        return cls(origin, None, False, f"robots.txt unreachable ({why}): disallow all")

    def allows(self, url: str, user_agent: str) -> bool:
        """Whether `user_agent` may fetch `url` (a URL of this origin)."""
        if self.parser is None:
            return self.allow_all
        return self.parser.can_fetch(user_agent, url)

    def crawl_delay(self, user_agent: str) -> float | None:
        """The `Crawl-delay` for `user_agent` in seconds (capped), or None when not given."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        if delay is None:
            return None
        return min(float(delay), MAX_CRAWL_DELAY_SECONDS)


async def fetch_robots_txt(
    client: httpx.AsyncClient, url: str, max_bytes: int = ROBOTS_MAX_BYTES
) -> tuple[int, bytes]:
    """GET `url` following redirects (the client's limit); (status, first `max_bytes` bytes)."""
    async with client.stream("GET", url, follow_redirects=True) as response:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) >= max_bytes:
                break  # the rest is ignored, as RFC 9309 allows
        return response.status_code, bytes(body[:max_bytes])


class RobotsCache:
    """One `RobotsPolicy` per origin, fetched on first use by concurrent callers only once."""

    def __init__(self, fetch: RobotsFetcher, deadline_seconds: float):
        self._fetch = fetch
        self._deadline = deadline_seconds
        self._policies: dict[str, asyncio.Task[RobotsPolicy]] = {}

    async def _load(self, origin: str) -> RobotsPolicy:
        url = f"{origin}/robots.txt"
        try:
            async with asyncio.timeout(self._deadline):
                status, body = await self._fetch(url)
        except RefusedAddressError:
            raise  # the page reports the refusal itself
        except ResolutionError as error:
            if not error.temporary:
                raise  # no such host: the page reports the DNS failure itself
            policy = RobotsPolicy.unreachable(origin, str(error))
        except httpx.TooManyRedirects:
            # RFC 9309 section 2.3.1.2: more than five redirects may be treated as unavailable.
            policy = RobotsPolicy(origin, None, True, "robots.txt: too many redirects, allow all")
        except TimeoutError:
            policy = RobotsPolicy.unreachable(origin, f"no answer in {self._deadline} s")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            policy = RobotsPolicy.unreachable(origin, str(error) or type(error).__name__)
        else:
            policy = RobotsPolicy.from_response(origin, status, body)
        log.info("%s: %s", origin, policy.summary)
        return policy

    async def policy(self, url: str) -> RobotsPolicy:
        """The policy of `url`'s origin (RefusedAddressError if the origin is refused)."""
        origin = url_origin(url)
        task = self._policies.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._load(origin))
            self._policies[origin] = task
        return await asyncio.shield(task)
