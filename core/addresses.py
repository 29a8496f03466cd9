"""The one reading of a client's address (a REMOTE_ADDR, a gateway's client_ip): what it is as an address, and
whether it is one of the premises' own kind (`on_premises`), which the captive portal's landing and the light
apps' abuse budgets both ask."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(raw: str | None) -> Address | None:
    """`raw` as an address, an IPv4-mapped IPv6 one (a dual-stack socket's ::ffff:10.0.0.7) as its IPv4
    address; None when it is none (empty, a Unix socket, garbage)."""
    try:
        address = ipaddress.ip_address(raw or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# Where a venue sets no `client_networks` (or `on-premises`, which says so), the addresses a request naming a MAC
# no gateway vouched for may come from: those a portal on the mall's own network sees its guests at. RFC 1918 and
# shared (RFC 6598, CGNAT) IPv4, link-local, loopback, IPv6 unique-local, link-local and loopback. Not Python's
# `is_private`, which also takes the documentation ranges (203.0.113.0/24 ...), 6to4, NAT64 and Teredo (routes to
# any IPv4 host).
PREMISES_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8",
    "fc00::/7", "fe80::/10", "::1/128"))


def within(ip: str | None, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """`ip` (a request's address; a dual-stack socket's IPv4-mapped one as its IPv4 address) is in one of
    `networks`; no usable address is in none."""
    address = client_address(ip)
    return address is not None and any(address in network for network in networks)


@functools.lru_cache(maxsize=65_536)
def on_premises(ip: str | None) -> bool:
    """`ip` is in PREMISES_NETWORKS. Memoised: the same guests probe again and again."""
    return within(ip, PREMISES_NETWORKS)
