"""Who is asking: token hashing, per-user API tokens (stored hashed in Elasticsearch), signed session cookies.

* Tokens are random (``secrets``), shown once, and stored only as a salted PBKDF2-SHA256 hash
  (``pbkdf2_sha256$<iterations>$<salt>$<hash>``), compared in constant time. The admin token's hash comes from the
  settings (``GOVWATCH_WEB_ADMIN_TOKEN_HASH``); per-user tokens live in ``<prefix>-web-tokens`` under a token id
  that is the token's public prefix (``gwt_<id>_<secret>``), so a lookup is one GET, never a scan of hashes.
* PBKDF2 is deliberately slow (tens of milliseconds); a token verified once is remembered for ``VERIFIED_TTL_S``
  under an HMAC of the token with a per-process key (so the memory holds no hash an attacker could test guesses
  against offline), which keeps API scripts fast and lets a revoked token stop working within that time.
* A session cookie is ``base64(json).base64(hmac-sha256)`` with the owner, the admin flag, the token id, a CSRF
  token bound to the session, and an expiry; HttpOnly, SameSite=Lax, Secure over https (set by the pages module).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from govwatch import es_io
from govwatch.models import utcnow

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 200_000  # ~0.1 s per check on this 2-core machine: slow for guessing, once per token per TTL for us
SALT_BYTES = 16
TOKEN_BYTES = 32  # 256 bits of secret per token
TOKEN_PREFIX = "gwt"
VERIFIED_TTL_S = 60.0
SESSION_TTL_S = 12 * 3600  # a working day; then log in again
ADMIN_OWNER = "admin"


class BadToken(Exception):
    """The token (or session) is unknown, revoked, malformed or expired. Never says which."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the owner name subscriptions are filed under, admin rights, and the token used."""

    owner: str
    admin: bool = False
    token_id: str | None = None  # None: the admin token or a trusted proxy header


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_token(token: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The salted hash stored for a token (what ``govwatch web hash-token`` prints)."""
    if not token:
        raise ValueError("an empty token cannot be hashed")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", token.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_token(token: str, stored: str) -> bool:
    """Constant-time check of ``token`` against a ``hash_token`` string; False for any malformed input."""
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        if algorithm != ALGORITHM or not token:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", token.encode("utf-8"), _unb64(salt), int(iterations))
        return hmac.compare_digest(digest, _unb64(expected))
    except (ValueError, TypeError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh per-user token and its id: ``gwt_<id>_<secret>``."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def token_id_of(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == TOKEN_PREFIX and len(parts[1]) == 12:
        return parts[1]
    return None


class TokenStore:
    """Per-user API tokens in ``<prefix>-web-tokens`` (client injected)."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def create(self, owner: str, admin: bool = False) -> str:
        """Store a new token's hash; returns the token itself (shown once, never stored)."""
        if not owner.strip():
            raise ValueError("a token needs an owner name")
        token_id, token = new_token()
        doc = {"token_id": token_id, "owner": owner, "admin": admin, "hash": hash_token(token),
               "created_at": utcnow().isoformat(), "revoked": False}
        try:
            self.es.create(index=self.index, id=token_id, document=doc, refresh="wait_for")
        except Exception as exc:  # noqa: BLE001 - translated at the edge
            raise es_io.translate(exc, "store web token") from exc
        return token

    def revoke(self, token_id: str) -> bool:
        try:
            resp = self.es.options(ignore_status=404).update(index=self.index, id=token_id,
                                                             doc={"revoked": True}, refresh="wait_for")
        except Exception as exc:  # noqa: BLE001 - translated at the edge
            raise es_io.translate(exc, "revoke web token") from exc
        return resp.get("result") in ("updated", "noop")

    def lookup(self, token_id: str) -> dict[str, Any] | None:
        """The stored record of an active (not revoked) token id, or None."""
        try:
            resp = self.es.options(ignore_status=404).get(index=self.index, id=token_id)
        except Exception as exc:  # noqa: BLE001 - translated at the edge
            raise es_io.translate(exc, "read web token") from exc
        if not resp.get("found") or resp["_source"].get("revoked"):
            return None
        return resp["_source"]


class Authenticator:
    """Token -> Principal, with the short verified-token memory described in the module docstring."""

    def __init__(self, tokens: TokenStore, admin_hash: str | None, *, ttl_s: float = VERIFIED_TTL_S) -> None:
        self.tokens = tokens
        self.admin_hash = admin_hash
        self.ttl_s = ttl_s
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._verified: dict[bytes, tuple[Principal, float]] = {}
        self._active: dict[str, tuple[bool, float]] = {}

    def _remembered(self, key: bytes) -> Principal | None:
        with self._lock:
            got = self._verified.get(key)
            if got and got[1] > time.monotonic():
                return got[0]
            self._verified.pop(key, None)
        return None

    def _remember(self, key: bytes, principal: Principal) -> None:
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[key] = (principal, time.monotonic() + self.ttl_s)

    def authenticate(self, token: str) -> Principal:
        """The principal of a token; raises BadToken (blocking: may read Elasticsearch and run PBKDF2)."""
        token = token.strip()
        if not token or len(token) > 512:
            raise BadToken("invalid token")
        key = hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).digest()
        known = self._remembered(key)
        if known is not None and (known.token_id is None or self.token_active(known.token_id)):
            return known
        token_id = token_id_of(token)
        principal: Principal | None = None
        if token_id is not None:
            record = self.tokens.lookup(token_id)
            if record is not None and verify_token(token, record.get("hash", "")):
                principal = Principal(record["owner"], bool(record.get("admin")), token_id)
        elif self.admin_hash and verify_token(token, self.admin_hash):
            principal = Principal(ADMIN_OWNER, True, None)
        if principal is None:
            raise BadToken("invalid token")
        self._remember(key, principal)
        return principal

    def token_active(self, token_id: str) -> bool:
        """Whether a per-user token still exists and is not revoked (remembered for the TTL)."""
        now = time.monotonic()
        with self._lock:
            got = self._active.get(token_id)
            if got and got[1] > now:
                return got[0]
        active = self.tokens.lookup(token_id) is not None
        with self._lock:
            self._active[token_id] = (active, now + self.ttl_s)
        return active


class SessionSigner:
    """Signed session cookies carrying a Principal and the session's CSRF token."""

    def __init__(self, secret: bytes, ttl_s: int = SESSION_TTL_S) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must have at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s

    def _sig(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, str]:
        """A cookie value and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        body = {"o": principal.owner, "a": principal.admin, "t": principal.token_id, "c": csrf,
                "e": int((now if now is not None else time.time()) + self.ttl_s)}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sig(payload)}", csrf

    def csrf_for(self, owner: str) -> str:
        """The CSRF token of a user signed in by a trusted proxy (no cookie of ours): bound to the name."""
        return _b64(hmac.new(self._secret, b"csrf\x00" + owner.encode("utf-8"), hashlib.sha256).digest())

    def read(self, cookie: str, now: float | None = None) -> tuple[Principal, str]:
        """The principal and CSRF token of a cookie; raises BadToken when forged, altered or expired."""
        payload, _, sig = cookie.partition(".")
        if not payload or not sig or not hmac.compare_digest(sig, self._sig(payload)):
            raise BadToken("invalid session")
        try:
            body = json.loads(_unb64(payload))
            principal = Principal(str(body["o"]), bool(body["a"]), body.get("t"))
            csrf, expires = str(body["c"]), int(body["e"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadToken("invalid session") from exc
        if expires < (now if now is not None else time.time()):
            raise BadToken("session expired")
        return principal, csrf


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time CSRF comparison; False when either side is missing."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
