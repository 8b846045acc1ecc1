"""SSRF guard: address classes, numeric host forms and the allowlist, at the socket and through the Fetcher."""

from __future__ import annotations

import ipaddress

import pytest

from govwatch.adapters.fetch import Fetcher
from govwatch.adapters.ssrf import Allowlist, GuardedBackend, blocked_reason, resolve_checked
from govwatch.errors import FetchRefused
from govwatch.settings import Settings


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"), ("::1", "loopback"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("::", "unspecified"), ("100.64.0.1", "carrier-grade-NAT"),
])
def test_blocked_address_classes(address: str, reason: str) -> None:
    """Every non-public address class is refused, and the reason names the class."""
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def test_ipv6_mapped_and_6to4_are_unwrapped() -> None:
    """An IPv4 loopback hidden in an IPv6-mapped or 6to4 address is still loopback."""
    assert "loopback" in (blocked_reason(ipaddress.ip_address("::ffff:127.0.0.1")) or "")
    assert "private" in (blocked_reason(ipaddress.ip_address("2002:0a00:0001::1")) or "")


@pytest.mark.parametrize(("address", "reason"), [
    ("fec0::1", "site-local"), ("feff:ffff::1", "site-local"),  # the deprecated fec0::/10 still routes inside
    ("0.1.2.3", "this-network"), ("100.127.255.254", "carrier-grade-NAT"), ("192.0.0.8", "IETF-protocol-assignment"),
    ("198.19.0.1", "benchmarking"), ("3fff::1", "documentation"), ("5f00::1", "segment-routing"),
])
def test_special_ranges_are_refused_by_name(address: str, reason: str) -> None:
    """Ranges this Python's ipaddress tables may call global (site-local fec0::/10 above all) are refused by name."""
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(("address", "inner"), [
    ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
    ("::ffff:0:127.0.0.1", "loopback"),  # IPv4-translated (SIIT)
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 well-known prefix -> 169.254.169.254 (cloud metadata)
    ("64:ff9b:1::c0a8:1", "private"),  # local-use NAT64 -> 192.168.0.1
    ("2002:6440:1::", "carrier-grade-NAT"),  # 6to4 of 100.64.0.1
    ("::10.0.0.1", "private"),  # deprecated IPv4-compatible form
    ("::ffff:0.0.0.1", "this-network"),
])
def test_ipv4_embedded_in_ipv6_is_judged_as_ipv4(address: str, inner: str) -> None:
    """A private IPv4 address wrapped in any IPv6 embedding (mapped, SIIT, NAT64, 6to4, compatible) is refused."""
    reason = blocked_reason(ipaddress.ip_address(address)) or ""
    assert reason.startswith(inner) and "embedded in" in reason


def test_nat64_of_a_public_address_is_still_refused() -> None:
    """A translator prefix is never a way to reach anything, even a public IPv4 address."""
    assert blocked_reason(ipaddress.ip_address("64:ff9b::808:808")) == "NAT64 (embedding 8.8.8.8)"


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    """Public addresses are not blocked."""
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "::ffff:127.0.0.1", "[::1]",
                                  "localhost"])
def test_numeric_host_forms_resolve_to_loopback_and_are_refused(host: str) -> None:
    """Decimal, hex, octal, short and IPv6-mapped spellings of loopback are refused after resolution."""
    with pytest.raises(FetchRefused, match=r"loopback.*GOVWATCH_SSRF_ALLOWLIST"):
        resolve_checked(host, 80, Allowlist())


def test_any_blocked_answer_refuses_the_host() -> None:
    """A name resolving to a public and a private address (rebinding pattern) is refused."""
    with pytest.raises(FetchRefused, match=r"10.0.0.5"):
        resolve_checked("news.example", 443, Allowlist(), resolver=lambda h, p: ["93.184.215.14", "10.0.0.5"])


def test_allowlist_cidr_and_host() -> None:
    """CIDR entries allow matching addresses; host entries allow that name whatever it resolves to."""
    assert resolve_checked("127.0.0.1", 80, Allowlist(["127.0.0.1/32"])) == ["127.0.0.1"]
    assert resolve_checked("feed.local", 80, Allowlist(["feed.local"]),
                           resolver=lambda h, p: ["10.0.0.1"]) == ["10.0.0.1"]
    with pytest.raises(FetchRefused):
        resolve_checked("127.0.0.2", 80, Allowlist(["127.0.0.1/32"]))


def test_backend_connects_to_the_checked_address() -> None:
    """The backend opens the socket to the address it validated, not to a second DNS answer."""
    connected: list[str] = []

    class Recorder:
        def connect_tcp(self, host, port, **kwargs):  # noqa: ANN001, ANN003, ANN202
            connected.append(host)
            return object()

    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # a rebinding resolver would answer differently next time
    backend = GuardedBackend(Allowlist(), resolver=lambda h, p: next(answers), inner=Recorder())
    backend.connect_tcp("news.example", 80)
    assert connected == ["93.184.215.14"]


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f.1/", "http://[::ffff:127.0.0.1]/",
                                 "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:8080/feed"])
def test_fetcher_refuses_private_targets_by_default(url: str) -> None:
    """With the default (empty) allowlist the Fetcher refuses private targets before sending anything."""
    with Fetcher(Settings(ssrf_allowlist=[])) as fetcher, pytest.raises(FetchRefused, match="GOVWATCH_SSRF_ALLOWLIST"):
        fetcher.fetch(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/feed"])
def test_fetcher_refuses_other_schemes(url: str) -> None:
    """Only http and https are fetched."""
    with Fetcher(Settings()) as fetcher, pytest.raises(FetchRefused, match="scheme"):
        fetcher.fetch(url)
