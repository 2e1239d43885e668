"""Where a webhook may go: a public address, checked when subscribed and again at each send.

A school admin names the URL, and Lingkar's worker calls it from inside the operator's network;
without this guard a subscription could make the worker call a database, a cloud metadata
service (169.254.169.254) or an admin page on loopback (server-side request forgery). The host
is resolved and every address it resolves to must be public; DNS may change between the two
checks, so the send checks again, and connects to the address it checked (`pinned`). Redirects
are never followed (they would skip the check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A name server that does not answer must not hold up a request or the worker for long.
RESOLVE_SECONDS = 5.0


class DestinationRefused(Exception):
    """The URL's host is not a public address (or does not resolve); the reason says which."""


def why_not_public(address: Address) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind, flagged in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flagged:
            return kind
    # Shared (100.64.0.0/10), documentation and other special ranges are neither of the above.
    return None if address.is_global else "special-purpose"


async def resolve(host: str, port: int) -> list[Address]:
    """Every address the host stands for (an IP literal stands for itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"the host {host} does not resolve") from exc
    except TimeoutError as exc:
        raise DestinationRefused(
            f"the host {host} did not resolve within {RESOLVE_SECONDS} s"
        ) from exc
    # An IPv6 answer may carry a scope (fe80::1%eth0); the address is what comes before it.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


async def check(url: str, *, allow_private: bool) -> list[Address]:
    """The addresses the URL's host stands for; `DestinationRefused` if one is not public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("only http:// and https:// URLs with a host are sent to")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(parts.hostname, port)
    for address in [] if allow_private else addresses:
        kind = why_not_public(address)
        if kind:
            raise DestinationRefused(
                f"the host {parts.hostname} is (or resolves to) {address} ({kind}); "
                "webhooks go to public addresses only"
            )
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A request to the address that was checked, not to whatever the name resolves to next
    (DNS rebinding): the URL names the address, the Host header and TLS name the host."""

    url: str
    host: str
    sni_hostname: str


def pinned(url: str, address: Address) -> Pinned:
    parsed = httpx.URL(url)
    return Pinned(
        url=str(parsed.copy_with(host=str(address))),
        host=parsed.netloc.decode("ascii"),
        sni_hostname=parsed.host,
    )
