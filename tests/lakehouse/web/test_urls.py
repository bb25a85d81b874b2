import pytest

from lakehouse.web.urls import (
    normalize_host_name,
    normalize_url,
    remove_dot_segments,
    scope_violation,
    url_host,
    url_origin,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://example.com/a#section", "http://example.com/a"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/..", "http://example.com/"),
        ("http://example.com/%2e%2E/x", "http://example.com/x"),  # decoded, then resolved
        ("http://example.com/%7euser/%41", "http://example.com/~user/A"),  # unreserved
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),  # reserved stays encoded
        ("http://example.com/100%", "http://example.com/100%25"),  # a lone % is encoded
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("https://bücher.de/Łódź", "https://xn--bcher-kva.de/%C5%81%C3%B3d%C5%BA"),
        ("http://example.com/?b=2&a=1&b=1", "http://example.com/?b=2&a=1&b=1"),  # order kept
        ("http://example.com/?q=%e2%82%ac", "http://example.com/?q=%E2%82%AC"),
        ("http://example.com/?", "http://example.com/"),
        ("http://user:secret@example.com/", "http://example.com/"),  # credentials dropped
        ("http://[0:0::1]:8080/x", "http://[::1]:8080/x"),
        ("http://0x7f.1/", "http://127.0.0.1/"),  # the resolver's reading of the host
        ("  http://example.com/x\n\ty  ", "http://example.com/xy"),  # as browsers read hrefs
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "mailto:someone@example.org",
        "javascript:alert(1)",
        "data:text/html,hi",
        "http://",
        "http://example.com:99999/",
        "http://exa..mple.com/",
        "/relative/without/base",
        "",
    ],
)
def test_normalize_url_rejects_what_is_not_an_http_url(url):
    assert normalize_url(url) is None


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("../x", "http://a.com/b/x"),
        ("g;x?y#s", "http://a.com/b/c/g;x?y"),
        ("?q=1", "http://a.com/b/c/d?q=1"),
        ("#top", "http://a.com/b/c/d"),
        ("//other.org/p", "http://other.org/p"),
        ("https://x.org", "https://x.org/"),
    ],
)
def test_normalize_url_resolves_relative_to_a_base(href, expected):
    assert normalize_url(href, "http://A.com/b/c/d") == expected


def test_remove_dot_segments_follows_rfc_3986_examples():
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("/mid/content=5/../6") == "/mid/6"
    assert remove_dot_segments("/a/b/..") == "/a/"


def test_host_and_origin_of_a_normalized_url():
    assert url_host("http://example.com:8080/a") == "example.com"
    assert url_host("http://[::1]:8080/a") == "[::1]"
    assert url_origin("https://example.com:8443/a?b") == "https://example.com:8443"
    assert normalize_host_name("Bücher.DE") == "xn--bcher-kva.de"
    with pytest.raises(ValueError, match="is not a host name"):
        normalize_host_name("example.com:8080")


def test_scope_violation_names_the_reason():
    hosts, prefixes = ["example.com"], ["/docs/", "/blog/"]
    assert scope_violation("http://example.com/docs/a", hosts, prefixes) is None
    assert scope_violation("https://example.com:8443/blog/", hosts, prefixes) is None
    assert scope_violation("http://example.com/shop/", hosts, prefixes) == (
        "path /shop/ outside the allowed prefixes /docs/, /blog/"
    )
    assert scope_violation("http://www.example.com/docs/", hosts) == (
        "host www.example.com not allowed"
    )
    assert scope_violation("http://example.com/anything", hosts) is None
