"""SSRF guard: which network addresses govwatch may connect to, checked where the socket is opened.

A URL's host is resolved once, every resolved address is checked, and the connection goes to a checked
address (never to a second DNS answer), so DNS rebinding cannot slip a private address in after the check.
Numeric host forms (``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``) are resolved by the same
``getaddrinfo`` call as names, so they meet the same rules.

``GuardedBackend`` is an httpcore network backend: the fetcher installs it in its transport so the rule
holds for every redirect hop and every new connection. TLS keeps the URL's host name for SNI and the
certificate check, and the Host header is untouched.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpcore

from govwatch.errors import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
# One socket option as httpcore's backends take it: (level, option, value) or (level, option, None, length).
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]

ALLOWED_SCHEMES = frozenset({"http", "https"})
FIX_HINT = "if this target is intended (tests, an offline run), add it to GOVWATCH_SSRF_ALLOWLIST"


class Allowlist:
    """Hosts and CIDRs exempt from the guard (``settings.ssrf_allowlist``); production default is empty."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


# Ranges refused by name, whatever this Python's ``ipaddress`` thinks of them (its ``is_private`` / ``is_global``
# tables differ between 3.11 and 3.13, and omit the deprecated site-local fec0::/10, which some routers still route
# to the inside). Checked before the generic address classes so the reason says exactly which range it is.
_SPECIAL: tuple[tuple[IPNetwork, str], ...] = tuple((ipaddress.ip_network(net), why) for net, why in (
    ("0.0.0.0/8", "this-network"),  # "0.x.y.z" reaches the local host on Linux
    ("100.64.0.0/10", "carrier-grade-NAT"),
    ("192.0.0.0/24", "IETF-protocol-assignment"),
    ("198.18.0.0/15", "benchmarking"),
    ("240.0.0.0/4", "reserved"),
    ("fec0::/10", "site-local"),
    ("3fff::/20", "documentation"),  # RFC 9637; unknown to Python 3.11
    ("5f00::/16", "segment-routing"),  # RFC 9602 SRv6 SIDs: never a web server
))
# IPv6 prefixes whose low 32 bits are an IPv4 address that a translator or tunnel will reach: the embedded address
# is judged as if it were given (the mapped, 6to4 and Teredo forms are unwrapped by ``ipaddress`` itself).
_EMBEDDING_V4: tuple[tuple[IPNetwork, str], ...] = tuple((ipaddress.ip_network(net), why) for net, why in (
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("::ffff:0:0:0/96", "IPv4-translated"),
    ("::/96", "IPv4-compatible"),
))


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    for net, _why in _EMBEDDING_V4:
        if ip in net:
            return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why an address is off limits (``"loopback"``, ``"private"`` ...), or None for a public address."""
    if ip.is_unspecified or ip.is_loopback:  # before the embeddings: ``::1`` lies inside ``::/96``
        return "unspecified" if ip.is_unspecified else "loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            inner = blocked_reason(embedded)
            if inner:
                return f"{inner} (embedded in {ip})"
        if any(ip in net for net, _why in _EMBEDDING_V4):
            # A translator reaches whatever v4 address it embeds; even a public one is not ours to reach this way.
            return next(f"{why} (embedding {embedded})" for net, why in _EMBEDDING_V4 if ip in net)
    for net, why in _SPECIAL:
        if ip.version == net.version and ip in net:
            return why
    for name in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:  # e.g. documentation ranges
        return "non-global"
    return None


def check_scheme(url: str) -> None:
    """Refuse anything but http(s) before any network activity."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise FetchRefused(f"refused {url!r}: scheme {scheme or '(none)'!r} is not http or https")


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses ``getaddrinfo`` gives for ``host`` (also parses decimal/hex/octal IPv4 forms)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        from govwatch.errors import TransientError

        raise TransientError(f"cannot resolve {host!r}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(host: str, port: int, allowlist: Allowlist, resolver: Resolver = system_resolver) -> list[str]:
    """Resolve ``host`` once and return only addresses we may connect to; FetchRefused if any is blocked.

    One blocked answer refuses the host outright: a name that resolves to both a public and a private
    address is a rebinding attempt or a misconfiguration, and either way not ours to fetch.
    """
    host = host.strip("[]")
    addresses = resolver(host, port)
    if not addresses:
        from govwatch.errors import TransientError

        raise TransientError(f"{host!r} resolved to no address")
    if allowlist.allows_host(host):
        return addresses
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        reason = blocked_reason(ip)
        if reason and not allowlist.allows_ip(ip):
            raise FetchRefused(f"refused {host!r}: it resolves to {ip}, a {reason} address; {FIX_HINT}")
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore backend that connects only to addresses ``resolve_checked`` approved."""

    def __init__(self, allowlist: Allowlist, resolver: Resolver = system_resolver,
                 inner: httpcore.NetworkBackend | None = None) -> None:
        self.allowlist = allowlist
        self.resolver = resolver
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[SocketOption] | None = None) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, self.allowlist, self.resolver)
        failures: list[Exception] = []  # resolve_checked returns at least one address
        for address in addresses:
            try:
                return self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                              socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failures.append(exc)
        raise failures[-1]

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[SocketOption] | None = None) -> httpcore.NetworkStream:
        raise FetchRefused("refused: unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
