"""Who is asking: token hashing, per-user API tokens (stored hashed in Elasticsearch), signed session cookies.

* Tokens are random (``secrets``, 256 bits), shown once, and stored only as a SHA-256 hash (``sha256$<hash>``),
  compared in constant time. A slow KDF protects guessable human passwords; a 256-bit random token cannot be guessed
  from its hash however fast the hash is, and a slow one only hands every caller with a wrong token 0.1 s of our CPU.
  The admin token's hash comes from the settings (``GOVWATCH_WEB_ADMIN_TOKEN_HASH``); per-user tokens live in
  ``<prefix>-web-tokens`` under a token id that is the token's public prefix (``gwt_<id>_<secret>``), so a lookup
  is one GET, never a scan of hashes.
* Migration: hashes stored before (``pbkdf2_sha256$<iterations>$<salt>$<hash>``) still verify; a per-user token that
  verifies against one is rehashed to ``sha256$`` on the spot, so it pays PBKDF2 once. An old admin hash cannot be
  rewritten (it is a setting): the app logs a warning at start until it is re-made with ``govwatch web hash-token``.
  Wrong guesses never reach PBKDF2 more often than the gate's rate limit allows (govwatch.web.throttle).
* A token verified once is remembered for ``VERIFIED_TTL_S`` under an HMAC of the token with a per-process key (so
  the memory holds nothing an attacker could test guesses against offline), which keeps API scripts off
  Elasticsearch and lets a revoked token stop working within that time.
* A session cookie is ``base64(json).base64(hmac-sha256)`` with the owner, the admin flag, the token id, a CSRF
  token bound to the session, and an expiry; HttpOnly, SameSite=Lax, Secure over https (set by the pages module).
* Every comparison of something a client sent is on bytes, so a non-ASCII cookie or CSRF field is a refusal, never
  a ``TypeError`` from ``hmac.compare_digest``.
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

from govwatch.adapters import es_io
from govwatch.log import get_logger
from govwatch.models import utcnow

ALGORITHM = "sha256"  # random tokens (see the module docstring)
LEGACY_ALGORITHM = "pbkdf2_sha256"  # hashes made before; still verified, per-user ones rehashed on first use
ITERATIONS = 200_000  # PBKDF2's work factor for a human-chosen secret: ~0.1 s per check on this 2-core machine
SALT_BYTES = 16
TOKEN_BYTES = 32  # 256 bits of secret per token
TOKEN_PREFIX = "gwt"  # noqa: S105 - the public marker of a token, not a secret
VERIFIED_TTL_S = 60.0
SESSION_TTL_S = 12 * 3600  # a working day; then log in again
MAX_TOKEN_CHARS = 512  # ours have 61; anything much longer is not a token
MAX_REMEMBERED = 10_000  # tokens kept in memory (32 bytes each); a team has far fewer, so the bound is only a guard
ADMIN_OWNER = "admin"
log = get_logger("govwatch.web")


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


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings as UTF-8 bytes (``compare_digest`` refuses non-ASCII ``str``)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def hash_token(token: str) -> str:
    """The stored form of a random token (what ``govwatch web hash-token`` prints): ``sha256$<digest>``."""
    if not token:
        raise ValueError("an empty token cannot be hashed")
    return f"{ALGORITHM}${_b64(hashlib.sha256(token.encode('utf-8', 'surrogatepass')).digest())}"


def hash_password(secret: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The salted PBKDF2 form (``pbkdf2_sha256$<iterations>$<salt>$<hash>``): for secrets a person chose, and the
    form every token hash had before ``sha256$``."""
    if not secret:
        raise ValueError("an empty secret cannot be hashed")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8", "surrogatepass"), salt, iterations)
    return f"{LEGACY_ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def is_legacy(stored: str) -> bool:
    """Whether a stored hash is the old slow form (worth rehashing after a successful check)."""
    return stored.startswith(LEGACY_ALGORITHM + "$")


def hash_problem(stored: str) -> str | None:
    """Why ``stored`` is not a hash ``verify_token`` can ever accept (a placeholder, a token pasted by mistake)."""
    parts = stored.split("$")
    try:
        if parts[0] == ALGORITHM and len(parts) == 2 and len(_unb64(parts[1])) == hashlib.sha256().digest_size:
            return None
        if parts[0] == LEGACY_ALGORITHM and len(parts) == 4 and int(parts[1]) > 0 and _unb64(parts[2]) \
                and len(_unb64(parts[3])) == hashlib.sha256().digest_size:
            return None
    except (ValueError, TypeError):
        pass
    return "it is not the output of `govwatch web hash-token` (sha256$… or pbkdf2_sha256$…)"


def verify_token(token: str, stored: str) -> bool:
    """Constant-time check of ``token`` against a stored hash of either form; False for any malformed input."""
    if not token or not stored:
        return False
    try:
        algorithm, _, rest = stored.partition("$")
        raw = token.encode("utf-8", "surrogatepass")
        if algorithm == ALGORITHM:
            return hmac.compare_digest(hashlib.sha256(raw).digest(), _unb64(rest))
        if algorithm != LEGACY_ALGORITHM:
            return False
        iterations, salt, expected = rest.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", raw, _unb64(salt), int(iterations))
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
        except Exception as exc:
            raise es_io.translate(exc, "store web token") from exc
        return token

    def revoke(self, token_id: str) -> bool:
        try:
            resp = self.es.options(ignore_status=404).update(index=self.index, id=token_id,
                                                             doc={"revoked": True}, refresh="wait_for")
        except Exception as exc:
            raise es_io.translate(exc, "revoke web token") from exc
        return resp.get("result") in ("updated", "noop")

    def rehash(self, token_id: str, new_hash: str) -> None:
        """Replace a token's stored hash (the migration from PBKDF2); revocation is a separate field, kept."""
        try:
            self.es.update(index=self.index, id=token_id, doc={"hash": new_hash})
        except Exception as exc:
            raise es_io.translate(exc, "rehash web token") from exc

    def lookup(self, token_id: str) -> dict[str, Any] | None:
        """The stored record of an active (not revoked) token id, or None."""
        try:
            resp = self.es.options(ignore_status=404).get(index=self.index, id=token_id)
        except Exception as exc:
            raise es_io.translate(exc, "read web token") from exc
        if not resp.get("found") or resp["_source"].get("revoked"):
            return None
        record: dict[str, Any] = resp["_source"]
        return record


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
        self._known: set[bytes] = set()  # memory keys of every token that verified here (see has_verified)

    def _remembered(self, key: bytes) -> Principal | None:
        with self._lock:
            got = self._verified.get(key)
            if got and got[1] > time.monotonic():
                return got[0]
            self._verified.pop(key, None)
        return None

    def _remember(self, key: bytes, principal: Principal) -> None:
        with self._lock:
            if len(self._verified) > MAX_REMEMBERED:
                self._verified.clear()
            if len(self._known) > MAX_REMEMBERED:
                self._known.clear()
            self._verified[key] = (principal, time.monotonic() + self.ttl_s)
            self._known.add(key)

    def _memory_key(self, token: str) -> bytes:
        return hmac.new(self._key, token.strip().encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def has_verified(self, token: str) -> bool:
        """Whether this exact token verified before in this process (cheap, no I/O). Such a token is no guess, so the
        gate lets it past the failure limit: a user whose address an attacker shares keeps working. It is still
        checked again (revocation) by ``authenticate``."""
        if not 0 < len(token.strip()) <= MAX_TOKEN_CHARS:
            return False
        key = self._memory_key(token)
        with self._lock:
            return key in self._known

    def authenticate(self, token: str) -> Principal:
        """The principal of a token; raises BadToken (blocking: may read Elasticsearch, and PBKDF2 for an old hash)."""
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise BadToken("invalid token")
        key = self._memory_key(token)
        known = self._remembered(key)
        if known is not None and (known.token_id is None or self.token_active(known.token_id)):
            return known
        token_id = token_id_of(token)
        principal: Principal | None = None
        if token_id is not None:
            record = self.tokens.lookup(token_id)
            stored = str(record.get("hash", "")) if record is not None else ""
            if record is not None and verify_token(token, stored):
                principal = Principal(record["owner"], bool(record.get("admin")), token_id)
                if is_legacy(stored):
                    self._upgrade(token_id, token)
        elif self.admin_hash and verify_token(token, self.admin_hash):
            principal = Principal(ADMIN_OWNER, True, None)
        if principal is None:
            raise BadToken("invalid token")
        self._remember(key, principal)
        return principal

    def _upgrade(self, token_id: str, token: str) -> None:
        """Rehash a token that verified against an old PBKDF2 hash; a failure only means it pays PBKDF2 again."""
        try:
            self.tokens.rehash(token_id, hash_token(token))
            log.info("web_token_rehashed", token_id=token_id, detail="old PBKDF2 hash replaced by sha256")
        except Exception as exc:  # noqa: BLE001 - best effort; the login itself succeeded
            log.warning("web_token_rehash_failed", token_id=token_id, error=str(exc))

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
        if not payload or not sig or not payload.isascii() or not _same(sig, self._sig(payload)):
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
    return bool(expected) and bool(given) and _same(str(given), str(expected))
