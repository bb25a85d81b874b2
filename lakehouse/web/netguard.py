"""Keep the crawler off private networks: vet every address a host resolves to, then pin it.

Links on untrusted pages (and their redirects) can point at `localhost`, the cloud metadata
service (169.254.169.254), or a name whose DNS answers with an internal address. The check
therefore runs after DNS resolution, on every resolved address, and the connection is then
opened to the vetted address itself, not to the name: the `GuardedNetworkBackend` below is
httpcore's connect step, so there is no second lookup a rebinding DNS server could answer
differently. TLS still verifies the certificate against the host name (httpcore passes the
URL's host as SNI/server_hostname), and the Host header is the URL's host as usual.

Refused: unspecified, loopback, link-local, multicast, private, reserved and other
non-globally-routable addresses, and IPv6 forms embedding such an IPv4 address (IPv4-mapped,
6to4, NAT64) — unless the address is inside one of the configured `allowed_networks`.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_TEMPORARY_DNS_ERRORS = {socket.EAI_AGAIN}


class NetGuardError(Exception):
    """A connection the guard did not open: a refused address or a failed DNS lookup."""


class RefusedAddressError(NetGuardError):
    """A host resolved to an address the crawler must not connect to."""

    def __init__(self, host: str, address: str, reason: str):
        self.host, self.address, self.reason = host, address, reason
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"refused address {shown}: {reason} address")


class ResolutionError(NetGuardError):
    """DNS gave no address for a host; `temporary` when a retry may succeed."""

    def __init__(self, host: str, detail: str, temporary: bool):
        self.host, self.detail, self.temporary = host, detail, temporary
        super().__init__(f"DNS failure for {host}: {detail}")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for (and how), if any."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused by default (e.g. "loopback"), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind, ipv4 = embedded
            reason = refusal_reason(ipv4)
            return f"{kind} {reason}" if reason else None
    for reason, flagged in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),  # before private: Python counts 240/4 as both
        ("private", address.is_private),
        ("non-globally-routable", not address.is_global),
    ):
        if flagged:
            return reason
    return None


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings as networks; a ValueError names the one that is not a network."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"allowed network {cidr!r} is not a CIDR network: {error}") from None
    return tuple(networks)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`, in its order, without duplicates."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ResolutionError(
            host, error.strerror or str(error), error.errno in _TEMPORARY_DNS_ERRORS
        ) from None
    except UnicodeError as error:  # a name the IDNA codec rejects
        raise ResolutionError(host, f"invalid host name ({error})", temporary=False) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class NetGuard:
    """The address policy: refuse non-public addresses except inside `allowed_networks`."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str], resolver: Resolver | None = None) -> "NetGuard":
        return cls(parse_networks(cidrs), resolver or system_resolver)

    def _allowed(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.allowed_networks
        )

    def check_address(self, host: str, address: str) -> None:
        """Raise RefusedAddressError if `host`'s resolved `address` must not be connected to."""
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise RefusedAddressError(host, address, "an unparsable") from None
        if self._allowed(parsed):
            return
        reason = refusal_reason(parsed)
        if reason is not None:
            raise RefusedAddressError(host, address, reason)

    async def vetted_addresses(self, host: str, port: int) -> list[str]:
        """All addresses of `host`, each checked; any refused address refuses the host."""
        addresses = await self.resolver(host, port)
        if not addresses:
            raise ResolutionError(host, "no addresses", temporary=False)
        for address in addresses:
            self.check_address(host, address)
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's connect step: resolve, vet every address, connect to a vetted address."""

    def __init__(self, guard: NetGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._guard.vetted_addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout} s") from None
        last_error: Exception | None = None
        for address in addresses:  # pinned: the name is never looked up again
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(self, path: str, timeout=None, socket_options=None):
        raise RefusedAddressError(path, path, "a Unix socket, not a network")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every new connection goes through a `NetGuard`.

    Environment proxies are ignored (a proxy would resolve names itself, past the guard).
    httpx 0.28 offers no argument for httpcore's network backend, so the connection pool is
    rebuilt here with the same settings and the guarded backend; `test_netguard` checks that
    a request through this transport is refused, so an httpx upgrade that changes this fails
    loudly instead of silently unguarding the crawler.
    """

    def __init__(self, guard: NetGuard, limits: httpx.Limits | None = None):
        limits = limits or httpx.Limits()
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )
