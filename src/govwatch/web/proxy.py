"""Who the client really is, and whether it spoke https, behind reverse proxies we were told to trust.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the connection comes from an address in
``GOVWATCH_WEB_TRUSTED_PROXIES``; from anyone else they are ignored (a client could write any address there and
escape its rate limit). Each proxy appends the address it received the connection from, so the list is read from
the right: the first address that is not itself a trusted proxy is the client. The scheme is the leftmost
``X-Forwarded-Proto`` value (set by the proxy the browser spoke to).

``GOVWATCH_WEB_PUBLIC_URL=https://…`` states the public scheme outright: requests then count as https whatever the
headers say (session cookies Secure, HSTS), which works even when the proxy's address is not known in advance.
uvicorn's own X-Forwarded-* handling is off (``govwatch web``), so this module is the only rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from govwatch.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header entry (``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def parse_networks(entries: Iterable[str], setting: str = "GOVWATCH_WEB_TRUSTED_PROXIES") -> list[Network]:
    """Addresses or CIDRs as networks; a ConfigError naming the setting for an entry that is neither."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"{setting}: {entry!r} is not an IP address or CIDR (e.g. 10.0.0.0/8, 127.0.0.1)"
                              ) from exc
    return networks


class ProxyResolver:
    """The client address and scheme of a request, given who sent the connection (see the module docstring)."""

    def __init__(self, trusted: Iterable[str], public_url: str | None = None) -> None:
        self.trusted = parse_networks(trusted)
        self.public_https = bool(public_url) and str(public_url).lower().startswith("https://")

    def trusts(self, address: str | None) -> bool:
        ip = _address(address) if address else None
        return ip is not None and any(ip in net for net in self.trusted)

    def resolve(self, peer: str | None, forwarded_for: str | None, forwarded_proto: str | None,
                scheme: str) -> tuple[str | None, str]:
        """``(client address, scheme)`` of a request whose TCP peer is ``peer`` and whose own scheme is ``scheme``."""
        client, seen_scheme = peer, scheme
        if self.trusts(peer):
            for entry in reversed((forwarded_for or "").split(",")):
                ip = _address(entry)
                if ip is None:
                    break  # a proxy of ours never writes garbage: stop at the nearest address we can vouch for
                client = str(ip)
                if not self.trusts(client):
                    break
            proto = (forwarded_proto or "").split(",")[0].strip().lower()
            if proto in SCHEMES:
                seen_scheme = proto
        return client, "https" if self.public_https else seen_scheme
