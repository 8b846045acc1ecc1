"""HTML output: the Jinja2 environment (autoescape always on) and the few helpers that decide what may be markup.

Feeds are hostile, so every story string is text: Jinja escapes it. Only two things ever become markup here, both
built by us from escaped parts: highlighted fragments (Elasticsearch's ``<em>`` marks become ``<mark>``, everything
between them escaped) and links, whose ``href`` is emitted only for ``http``/``https`` URLs (a ``javascript:`` or
``data:`` URL is shown as text). Kibana links are built from the configured base URL and a rison-encoded query.
"""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

PRE, POST = "<em>", "</em>"
STATUS_LABELS = {"pending": "pending", "digest_pending": "waiting for digest", "sending": "sending",
                 "delivered": "delivered", "failed": "failed", "held": "held (paused)",
                 "dead_lettered": "dead-lettered"}


def safe_href(url: object) -> str | None:
    """The URL when a browser would treat it as an ordinary web link (http/https with a host), else None."""
    if not isinstance(url, str):
        return None
    cleaned = url.strip()
    if any(ord(c) < 0x20 for c in cleaned):  # control characters can hide a scheme from naive checks
        return None
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return cleaned


def highlighted(fragment: object) -> Markup:
    """A highlight fragment as markup: text escaped, each ``<em>…</em>`` pair rendered as ``<mark>…</mark>``."""
    text = fragment if isinstance(fragment, str) else ""
    out: list[str] = []
    rest = text
    while True:
        start = rest.find(PRE)
        end = rest.find(POST, start + len(PRE)) if start >= 0 else -1
        if start < 0 or end < 0:
            out.append(str(escape(rest)))
            break
        out.append(str(escape(rest[:start])))
        out.append(f"<mark>{escape(rest[start + len(PRE):end])}</mark>")
        rest = rest[end + len(POST):]
    return Markup("".join(out))  # noqa: S704 - every piece was escaped above


def plain(fragment: object) -> str:
    """A highlight fragment without its marks (for the JSON API: text, never markup)."""
    return (fragment if isinstance(fragment, str) else "").replace(PRE, "").replace(POST, "")


def _rison_string(value: str) -> str:
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def kibana_discover_url(base: str | None, data_view_id: str, query: str, days: int = 30) -> str | None:
    """Discover on the stories data view with the subscription's Lucene query, or None without a Kibana URL."""
    href = safe_href(base)
    if href is None:
        return None
    app_state = (f"(dataSource:(dataViewId:{_rison_string(data_view_id)},type:dataView),"
                 f"query:(language:lucene,query:{_rison_string(query)}))")
    global_state = f"(time:(from:now-{int(days)}d,to:now))"
    safe = "()!:,'$-_.*~"
    return (f"{href.rstrip('/')}/app/discover#/?_g={quote(global_state, safe=safe)}"
            f"&_a={quote(app_state, safe=safe)}")


def when(value: object) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC`` (as stored: the ledger and the index keep UTC)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def make_environment() -> Environment:
    templates = files("govwatch.web") / "templates"
    env = Environment(loader=FileSystemLoader(str(templates)), autoescape=select_autoescape(default=True,
                      default_for_string=True), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(highlighted=highlighted, safe_href=safe_href, when=when,
                       status_label=lambda s: STATUS_LABELS.get(s, s))
    return env


def render(env: Environment, name: str, **context: object) -> str:
    return env.get_template(name).render(**context)
