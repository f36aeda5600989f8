"""Requests the server makes to URLs its users give it (webhooks): only to public addresses unless allowed.

* At registration the URL must be http(s) with a host, at most 2,048 characters, and an IP-literal host must be
  public (`check_url`).
* At delivery the host is resolved and every address must be public (`resolve_public`); the request then goes
  to the address that was checked (the host kept in the Host header and TLS server name), so a name that
  resolves differently the second time (DNS rebinding) cannot reach an internal address. Redirects are not
  followed (a 3xx is a failed delivery).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from honcho_server.errors import ValidationError

MAX_URL_LENGTH = 2048


class Unsafe(Exception):
    """The URL may not be called (a non-public address, or a name that does not resolve)."""


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """The URL as stored, or ValidationError (422) saying what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"The URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The URL must be http:// or https:// with a host")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if not allow_private and not _public(literal):
        raise ValidationError(f"The URL points at a non-public address ({literal}); set "
                              "HONCHO_WEBHOOKS__ALLOW_PRIVATE=true to allow it")
    return url


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request really goes: the URL with the checked address in place of the host."""

    url: str
    host: str  # the Host header
    server_name: str | None  # TLS server name (https)


async def resolve_public(url: str, allow_private: bool) -> Target:
    """The URL pinned to one checked address of its host; Unsafe when an address is not public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unsafe(f"{host} does not resolve: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise Unsafe(f"{host} has no address")
    if not allow_private and (bad := [a for a in addresses if not _public(a)]):
        raise Unsafe(f"{host} resolves to a non-public address ({bad[0]}); set HONCHO_WEBHOOKS__ALLOW_PRIVATE=true "
                     "to allow it")
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{port}"
    header_host = parts.netloc.rsplit("@", 1)[-1]
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(pinned, header_host, host if parts.scheme == "https" else None)
