"""The one reading of a client's address (a REMOTE_ADDR, a gateway's client_ip): what it is as an address."""

from __future__ import annotations

import ipaddress

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
