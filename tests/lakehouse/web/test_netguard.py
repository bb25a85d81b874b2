import asyncio
import ipaddress

import httpcore
import httpx
import pytest

from lakehouse.web.netguard import (
    GuardedNetworkBackend,
    GuardedTransport,
    NetGuard,
    RefusedAddressError,
    ResolutionError,
    parse_networks,
    refusal_reason,
)
from tests.lakehouse.web.site import TestSite

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.255.255.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata service
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-globally-routable"),  # carrier-grade NAT
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("2002:a00:1::", "6to4 private"),
        ("64:ff9b::7f00:1", "NAT64 loopback"),
        (PUBLIC_V4, None),
        (PUBLIC_V6, None),
        ("::ffff:" + PUBLIC_V4, None),
    ],
)
def test_refusal_reason(address, reason):
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_refused_address_error_names_host_address_and_reason():
    guard = NetGuard()
    with pytest.raises(RefusedAddressError) as caught:
        guard.check_address("intranet.example", "10.1.2.3")
    assert caught.value.host == "intranet.example"
    assert caught.value.address == "10.1.2.3"
    assert caught.value.reason == "private"
    assert str(caught.value) == "refused address intranet.example (10.1.2.3): private address"


def test_allowed_networks_let_addresses_through_including_ipv4_mapped_ones():
    guard = NetGuard.from_cidrs(["127.0.0.0/8"])
    guard.check_address("h", "127.0.0.1")
    guard.check_address("h", "127.3.4.5")
    guard.check_address("h", "::ffff:127.0.0.1")
    with pytest.raises(RefusedAddressError, match="loopback"):
        guard.check_address("h", "::1")
    with pytest.raises(RefusedAddressError, match="private"):
        guard.check_address("h", "10.0.0.1")


def test_parse_networks_names_a_bad_cidr():
    assert [str(n) for n in parse_networks(["10.0.0.0/8", "::1"])] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match="allowed network 'ten' is not a CIDR network"):
        parse_networks(["ten"])


def test_localhost_is_refused_after_resolution_unless_allowed():
    with pytest.raises(RefusedAddressError) as caught:
        asyncio.run(NetGuard().vetted_addresses("localhost", 80))
    assert caught.value.host == "localhost"
    assert caught.value.reason == "loopback"
    allowed = NetGuard.from_cidrs(["127.0.0.0/8", "::1/128"])
    addresses = asyncio.run(allowed.vetted_addresses("localhost", 80))
    assert addresses
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses)


def test_one_refused_address_among_many_refuses_the_host():
    async def resolver(host, port):
        return [PUBLIC_V4, "10.0.0.5"]

    with pytest.raises(RefusedAddressError) as caught:
        asyncio.run(NetGuard(resolver=resolver).vetted_addresses("mixed.example", 443))
    assert caught.value.address == "10.0.0.5"


def test_an_unknown_host_is_a_permanent_resolution_error():
    with pytest.raises(ResolutionError) as caught:
        asyncio.run(NetGuard().vetted_addresses("nonexistent.invalid", 80))
    assert caught.value.host == "nonexistent.invalid"
    assert caught.value.temporary is False
    assert str(caught.value).startswith("DNS failure for nonexistent.invalid: ")


class _RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self):
        self.connected: list[str] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append(host)
        raise httpcore.ConnectError("recorded, not connected")

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)


def test_the_connection_goes_to_the_vetted_address_not_a_second_lookup():
    """A rebinding DNS server answers public first, private next: the guard connects to the
    first answer's address and refuses the second lookup; the name is never connected to."""
    answers = iter([[PUBLIC_V4], ["127.0.0.1"]])
    lookups = []

    async def rebinding_resolver(host, port):
        lookups.append(host)
        return next(answers)

    inner = _RecordingBackend()
    backend = GuardedNetworkBackend(NetGuard(resolver=rebinding_resolver), inner)
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("rebind.example", 80, timeout=1))
    with pytest.raises(RefusedAddressError, match="loopback"):
        asyncio.run(backend.connect_tcp("rebind.example", 80, timeout=1))
    assert lookups == ["rebind.example", "rebind.example"]
    assert inner.connected == [PUBLIC_V4]


def test_the_transport_guards_every_request():
    """httpx 0.28 has no hook for the network backend; this fails if the pool swap breaks."""

    async def get(guard: NetGuard, url: str) -> int:
        async with httpx.AsyncClient(transport=GuardedTransport(guard)) as client:
            return (await client.get(url)).status_code

    with TestSite() as site:
        with pytest.raises(RefusedAddressError, match=r"127\.0\.0\.1: loopback"):
            asyncio.run(get(NetGuard(), site.url("/c.html")))
        assert site.log.paths == []  # refused before connecting
        assert asyncio.run(get(NetGuard.from_cidrs(["127.0.0.0/8"]), site.url("/c.html"))) == 200
        assert site.log.paths == ["/c.html"]
