"""What a Teams, JSON-webhook or e-mail destination must look like, and where it may point (pure: no I/O).

* **Shape** (:func:`shape_problem`, run by the ``Destination`` model): a webhook kind needs an https URL (plain
  http only for a receiver on this machine) of at most ``MAX_URL_CHARS``; e-mail needs 1..``MAX_RECIPIENTS``
  addresses of plain ``local@domain`` syntax (no display names, no CR/LF: an address is user input that ends up in
  a mail header); a signing secret is 16..256 characters.
* **Where** (:func:`host_problem`, :func:`recipient_problem`): at save time (``destinations``) and again before every
  send (``channel_send``), so a destination saved before an operator narrowed the lists is refused, never used.
  Teams URLs must be on ``GOVWATCH_TEAMS_WEBHOOK_HOSTS`` (default: Microsoft's webhook hosts), JSON webhooks on
  ``GOVWATCH_JSON_WEBHOOK_HOSTS`` (default: none, an operator names them): a destination is user input and the
  server must not POST to an internal address. ``*.example.org`` admits that domain's subdomains. E-mail goes only
  through the operator's SMTP server (``GOVWATCH_SMTP_HOST``, never the user's); ``GOVWATCH_EMAIL_DOMAINS``, when
  set, limits the recipients' domains.

Messages never quote a URL (a webhook URL is a secret), only its host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic import SecretStr

MAX_URL_CHARS = 2048
MAX_RECIPIENTS = 20
MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit
SECRET_CHARS = (16, 256)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# local@domain, the dot-atom forms only (no quoted locals, no IP literals): what a team's mailbox looks like.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}\Z)"
                      r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a usable recipient, or None."""
    if len(address) > MAX_ADDRESS_CHARS or not _ADDRESS.fullmatch(address) or ".." in address.split("@")[0]:
        return f"{address[:80]!r} is not an e-mail address of the form name@example.org"
    return None


def shape_problem(kind: str, url: SecretStr | None, to: Iterable[str], secret: SecretStr | None) -> str | None:
    """Why a ``kind`` destination with these parts is malformed, or None (never quotes the URL)."""
    recipients = list(to)
    if kind == "email":
        if url is not None or secret is not None:
            return "an email destination takes only recipient addresses (to)"
        if not 1 <= len(recipients) <= MAX_RECIPIENTS:
            return f"an email destination needs 1 to {MAX_RECIPIENTS} recipient addresses"
        return next((p for p in map(address_problem, recipients) if p), None)
    if recipients:
        return f"a {kind} destination takes no recipient addresses"
    if url is None:
        return f"a {kind} destination needs webhook_url"
    raw = url.get_secret_value()
    if len(raw) > MAX_URL_CHARS:
        return f"webhook_url is longer than {MAX_URL_CHARS} characters"
    parts = urlsplit(raw)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return "webhook_url must be an https:// URL"
    if parts.username or parts.password:
        return "webhook_url must not carry credentials"
    if secret is not None:
        if kind != "json":
            return "only a json webhook takes a signing_secret"
        if not SECRET_CHARS[0] <= len(secret.get_secret_value()) <= SECRET_CHARS[1]:
            return f"signing_secret must be {SECRET_CHARS[0]} to {SECRET_CHARS[1]} characters"
    return None


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """``host`` is one of ``allowed``, or under one of its ``*.domain`` entries."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def host_problem(kind: str, url: str, allowed: Iterable[str], setting: str) -> str | None:
    """Why ``url`` may not be posted to as a ``kind`` destination (scheme or host), or None."""
    allowed = tuple(allowed)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "not an http(s) URL"
    host = (parts.hostname or "").lower()
    if not host_allowed(host, allowed):
        listed = ", ".join(sorted(allowed)) or "none"
        return f"host {host or '(none)'!r} is not an allowed {kind} host; allowed: {listed} (setting {setting})"
    return None


def recipient_problem(to: Iterable[str], domains: Iterable[str]) -> str | None:
    """Why one of ``to`` may not be mailed (its domain is not in ``domains``), or None; empty ``domains``: any."""
    domains = tuple(domains)
    if not domains:
        return None
    for address in to:
        domain = address.rsplit("@", 1)[-1]
        if not host_allowed(domain, domains):
            return (f"recipient domain {domain!r} is not allowed; allowed: {', '.join(sorted(domains))} "
                    "(setting GOVWATCH_EMAIL_DOMAINS)")
    return None
