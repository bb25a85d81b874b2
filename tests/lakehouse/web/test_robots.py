import asyncio

import httpx
import pytest

from lakehouse.web.netguard import RefusedAddressError, ResolutionError
from lakehouse.web.robots import (
    MAX_CRAWL_DELAY_SECONDS,
    ROBOTS_MAX_BYTES,
    RobotsCache,
    RobotsPolicy,
    fetch_robots_txt,
)

UA = "SailyardBot/0.1 (+https://github.com/sailyard)"
ORIGIN = "http://example.com"
ROBOTS = b"""User-agent: *
Disallow: /private/
Crawl-delay: 2

User-agent: SailyardBot
Disallow: /no-bots/
Crawl-delay: 5
"""


def test_a_2xx_robots_txt_is_parsed_for_our_user_agent():
    policy = RobotsPolicy.from_response(ORIGIN, 200, ROBOTS)
    assert policy.summary == "robots.txt HTTP 200: parsed"
    assert not policy.allows(f"{ORIGIN}/no-bots/page", UA)
    assert policy.allows(f"{ORIGIN}/private/page", UA)  # our group replaces the * group
    assert not policy.allows(f"{ORIGIN}/private/page", "OtherBot/1.0")
    assert policy.allows(f"{ORIGIN}/", UA)
    assert policy.crawl_delay(UA) == 5.0
    assert policy.crawl_delay("OtherBot/1.0") == 2.0


def test_crawl_delay_is_capped():
    policy = RobotsPolicy.from_response(ORIGIN, 200, b"User-agent: *\nCrawl-delay: 86400\n")
    assert policy.crawl_delay(UA) == MAX_CRAWL_DELAY_SECONDS
    assert RobotsPolicy.from_response(ORIGIN, 200, b"").crawl_delay(UA) is None


@pytest.mark.parametrize(
    ("status", "allowed", "summary"),
    [
        (404, True, "robots.txt HTTP 404: unavailable, allow all"),
        (403, True, "robots.txt HTTP 403: unavailable, allow all"),
        (500, False, "robots.txt HTTP 500: unreachable, disallow all"),
        (503, False, "robots.txt HTTP 503: unreachable, disallow all"),
    ],
)
def test_rfc_9309_status_handling(status, allowed, summary):
    policy = RobotsPolicy.from_response(ORIGIN, status, b"User-agent: *\nDisallow: /\n")
    assert policy.allows(f"{ORIGIN}/page", UA) is allowed
    assert policy.summary == summary


def _cache(answer, deadline: float = 5.0) -> tuple[RobotsCache, list[str]]:
    calls: list[str] = []

    async def fetch(url: str):
        calls.append(url)
        if isinstance(answer, BaseException):
            raise answer
        if answer == "hang":
            await asyncio.sleep(60)
        return answer

    return RobotsCache(fetch, deadline), calls


def test_one_fetch_per_origin_even_for_concurrent_callers():
    cache, calls = _cache((200, b"User-agent: *\nDisallow: /x\n"))

    async def ask():
        return await asyncio.gather(
            cache.policy("http://example.com/a"),
            cache.policy("http://example.com/b?c"),
            cache.policy("http://example.com:8080/a"),
            cache.policy("https://example.com/a"),
        )

    policies = asyncio.run(ask())
    assert calls == [
        "http://example.com/robots.txt",
        "http://example.com:8080/robots.txt",
        "https://example.com/robots.txt",
    ]
    assert policies[0] is policies[1]
    assert not policies[0].allows("http://example.com/x/y", UA)


@pytest.mark.parametrize(
    ("failure", "summary"),
    [
        (httpx.ConnectError("connection refused"), "robots.txt unreachable (connection refused)"),
        (httpx.ReadTimeout(""), "robots.txt unreachable (ReadTimeout)"),
        ("hang", "robots.txt unreachable (no answer in 0.05 s)"),
        (
            ResolutionError("example.com", "Temporary failure", temporary=True),
            "robots.txt unreachable (DNS failure for example.com: Temporary failure)",
        ),
    ],
)
def test_network_failures_disallow_the_whole_origin(failure, summary):
    cache, _ = _cache(failure, deadline=0.05)
    policy = asyncio.run(cache.policy("http://example.com/page"))
    assert not policy.allows("http://example.com/page", UA)
    assert policy.summary == f"{summary}: disallow all"


def test_too_many_redirects_means_no_robots_txt():
    cache, _ = _cache(httpx.TooManyRedirects("too many"))
    policy = asyncio.run(cache.policy("http://example.com/page"))
    assert policy.allows("http://example.com/page", UA)
    assert "too many redirects" in policy.summary


@pytest.mark.parametrize(
    "error",
    [
        RefusedAddressError("example.com", "10.0.0.1", "private"),
        ResolutionError("example.com", "Name or service not known", temporary=False),
    ],
)
def test_refused_and_unknown_hosts_are_reported_not_turned_into_rules(error):
    cache, _ = _cache(error)
    with pytest.raises(type(error)):
        asyncio.run(cache.policy("http://example.com/page"))


def test_fetch_follows_redirects_and_caps_the_size():
    big = b"User-agent: *\nDisallow: /a\n" + b"#" * (ROBOTS_MAX_BYTES + 10_000)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(301, headers={"Location": "/real-robots.txt"})
        return httpx.Response(200, content=big)

    async def fetch():
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, max_redirects=5) as client:
            return await fetch_robots_txt(client, "http://example.com/robots.txt")

    status, body = asyncio.run(fetch())
    assert status == 200
    assert len(body) == ROBOTS_MAX_BYTES
    assert body.startswith(b"User-agent: *\nDisallow: /a\n")
