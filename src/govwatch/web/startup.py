"""What the web app refuses to start with: placeholder or guessable secrets, a hash that is not a hash, a public URL
without a scheme.

Checked by ``create_app`` (so ``govwatch web`` and every test server alike): all problems at once, in one
ConfigError, each naming the setting and how to make a good value. A session secret copied from an example lets
anyone who read the example sign an admin session; a placeholder admin hash silently locks the admin out.
"""

from __future__ import annotations

from pydantic import SecretStr

from govwatch.errors import ConfigError
from govwatch.settings import Settings
from govwatch.web.auth import hash_problem, is_legacy
from govwatch.web.secret_strength import KEY, PASSWORD, Kind, refusal, weakness

# The secrets the web role reads, and how strong each must be.
CHECKED: tuple[tuple[str, Kind], ...] = (
    ("web_session_secret", KEY),
    ("es_password", PASSWORD),
    ("es_api_key", PASSWORD),
    ("kafka_sasl_password", PASSWORD),
)
HASH_HOWTO = ('make a token with `python -c "import secrets; print(secrets.token_urlsafe(32))"`, then set '
              'GOVWATCH_WEB_ADMIN_TOKEN_HASH to the output of `echo -n "$TOKEN" | govwatch web hash-token`')


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def secret_problems(settings: Settings) -> list[str]:
    """One message per unusable secret setting (empty when all are fine or unset)."""
    problems = []
    for field, kind in CHECKED:
        value = _text(getattr(settings, field))
        if value is None:
            continue
        reason = weakness(value, kind)
        if reason is not None:
            problems.append(refusal(f"GOVWATCH_{field.upper()}", reason))
    admin_hash = _text(settings.web_admin_token_hash)
    if admin_hash is not None:
        reason = hash_problem(admin_hash.strip())
        if reason is not None:
            problems.append(f"GOVWATCH_WEB_ADMIN_TOKEN_HASH is not usable: {reason}; {HASH_HOWTO}")
    public = settings.web_public_url
    if public is not None and not public.lower().startswith(("https://", "http://")):
        # Without a scheme nobody can tell whether cookies must be Secure: say so instead of guessing http.
        problems.append(f"GOVWATCH_WEB_PUBLIC_URL must start with https:// (or http://), e.g. https://{public}")
    return problems


def check_secrets(settings: Settings) -> list[str]:
    """Raise ConfigError listing every unusable secret; return warnings for what works but should change."""
    problems = secret_problems(settings)
    if problems:
        raise ConfigError("the web app will not start: " + " | ".join(problems))
    warnings = []
    admin_hash = _text(settings.web_admin_token_hash)
    if admin_hash is not None and is_legacy(admin_hash.strip()):
        warnings.append("GOVWATCH_WEB_ADMIN_TOKEN_HASH is the old PBKDF2 form: every wrong admin-token guess that "
                        "passes the rate limit costs ~0.1 s of CPU; re-make it with "
                        "`echo -n \"$TOKEN\" | govwatch web hash-token`")
    if settings.web_trusted_proxy_header and not settings.web_trusted_proxies:
        warnings.append(f"GOVWATCH_WEB_TRUSTED_PROXY_HEADER ({settings.web_trusted_proxy_header}) is believed from "
                        "any client: set GOVWATCH_WEB_TRUSTED_PROXIES to the proxy's addresses so that only it may "
                        "name the user, and make the proxy strip the header from client requests")
    return warnings
