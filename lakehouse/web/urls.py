"""URL normalization and crawl scope: one spelling per page, so a URL is fetched at most once.

`normalize_url` applies RFC 3986 section 6 normalization (case, percent-encoding, dot
segments, default ports) plus the usual crawler rules (http/https only, no fragment, IDNA
host, credentials dropped); every source keys its fetches by its result. The scope helpers
say whether a normalized URL belongs to a crawl (host and path prefix), with a reason when not.
"""

import ipaddress
import re
import socket
import string
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

HTTP_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_SUB_DELIMS = "!$&'()*+,;="
# RFC 3986: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; query adds "/" "?".
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set("?"))
_HEX = frozenset(string.hexdigits)
# WHATWG URL parsing: leading/trailing C0 controls and spaces are stripped, tabs and newlines
# anywhere are removed (browsers do this to every href).
_STRIP_CHARS = "".join(chr(code) for code in range(0x21))
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
# Host spellings that inet_aton reads as IPv4 (0x7f.1, 2130706433, 0177.0.0.1).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$")


def _normalize_percent_encoding(component: str, safe: frozenset[str]) -> str:
    """Upper-case %xx, decode unreserved characters, encode everything outside `safe`.

    Reserved characters that arrive percent-encoded stay encoded (%2F is not "/"); a "%"
    that starts no valid escape is encoded as %25. Non-ASCII is encoded as UTF-8.
    """
    out: list[str] = []
    index = 0
    while index < len(component):
        char = component[index]
        if char == "%":
            escape = component[index + 1 : index + 3]
            if len(escape) == 2 and all(c in _HEX for c in escape):
                decoded = chr(int(escape, 16))
                out.append(decoded if decoded in _UNRESERVED else f"%{escape.upper()}")
                index += 3
                continue
            out.append("%25")
        elif char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        index += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: resolve "." and ".." segments of an absolute path."""
    output: list[str] = []
    segments = path.split("/")
    for position, segment in enumerate(segments):
        is_last = position == len(segments) - 1
        if segment == ".":
            if is_last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if is_last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _normalize_host(host: str) -> str | None:
    """Lower-case ASCII host: IDNA for names, canonical form for IP literals; None if invalid."""
    host = host.strip().lower()
    if not host:
        return None
    if ":" in host:  # IPv6 literal (urlsplit removed the brackets)
        try:
            return f"[{ipaddress.IPv6Address(host.split('%', 1)[0]).compressed}]"
        except ValueError:
            return None
    if _NUMERIC_HOST.match(host):
        try:  # the spelling the resolver would use: 0x7f.1 and 127.0.0.1 are one host
            return socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if any(char in ascii_host for char in " %/\\?#@[]<>^|"):
        return None
    return ascii_host


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical absolute form of `url` (resolved against `base`), or None if not http(s).

    Lower-case scheme and host, IDNA host, no default port, no fragment, no credentials,
    dot segments resolved, percent-encoding normalized (upper-case hex, unreserved characters
    decoded), "/" for an empty path, query kept in its order. Never raises.
    """
    try:
        url = _TAB_NEWLINE.sub("", url.strip(_STRIP_CHARS))
        if base is not None:
            url = urljoin(_TAB_NEWLINE.sub("", base.strip(_STRIP_CHARS)), url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in HTTP_SCHEMES or parts.hostname is None:
            return None
        host = _normalize_host(parts.hostname)
        port = parts.port
    except ValueError:  # an invalid port or IPv6 literal
        return None
    if host is None:
        return None
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = remove_dot_segments(_normalize_percent_encoding(parts.path, _PATH_SAFE) or "/")
    query = _normalize_percent_encoding(parts.query, _QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def url_host(url: str) -> str:
    """The host of a normalized URL (IPv6 in brackets), without port."""
    netloc = urlsplit(url).netloc
    if netloc.startswith("["):
        return netloc[: netloc.index("]") + 1]
    return netloc.rsplit(":", 1)[0]


def url_origin(url: str) -> str:
    """`scheme://host[:port]` of a normalized URL: the unit robots.txt and connections use."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def normalize_host_name(host: str) -> str:
    """A configured host name in the form `url_host` returns; ValueError names a bad one."""
    parts = urlsplit(f"http://{host.strip()}/")
    try:
        has_port = parts.port is not None
    except ValueError:
        has_port = True
    normalized = normalize_url(f"http://{host.strip()}/")
    extra = has_port or parts.path != "/" or parts.query or parts.fragment or "@" in parts.netloc
    if normalized is None or extra:
        raise ValueError(f"{host!r} is not a host name (no scheme, port or path)")
    return url_host(normalized)


def scope_violation(
    url: str, allowed_hosts: Iterable[str], allowed_path_prefixes: Iterable[str] = ()
) -> str | None:
    """Why a normalized URL is outside the crawl's scope, or None when it is inside.

    A URL is inside when its host is one of `allowed_hosts` (exact match, any port) and,
    when prefixes are given, its path starts with one of them.
    """
    host = url_host(url)
    if host not in set(allowed_hosts):
        return f"host {host} not allowed"
    prefixes = tuple(allowed_path_prefixes)
    path = urlsplit(url).path
    if prefixes and not path.startswith(prefixes):
        return f"path {path} outside the allowed prefixes {', '.join(prefixes)}"
    return None
