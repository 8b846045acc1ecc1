"""Import the saved objects into Kibana through its saved-objects API, and say what happened in plain words.

``POST <kibana>[/s/<space>]/api/saved_objects/_import?overwrite=true`` with the NDJSON as the multipart
field ``file`` and the ``kbn-xsrf`` header. Kibana answers 200 even when objects fail, so the result is
judged by the body's ``success`` and ``errors[]``, never by the HTTP status alone. With ``overwrite``
the import is idempotent: a second run updates the same ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from govwatch.errors import ConfigError
from govwatch.kibana.objects import KIBANA_MIN_VERSION

IMPORT_TIMEOUT_S = 60.0  # a big import on a busy Kibana takes seconds; this is only a hang guard
SPACE_RE = re.compile(r"^[a-z0-9_-]+$")  # Kibana's rule for space ids
_NEWER = re.compile(r"more recent version|newer than|is newer|higher than the current", re.IGNORECASE)


@dataclass
class ImportReport:
    """The outcome: objects created, updated, and one plain-words line per error."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        out = [f"created {name}" for name in self.created] + [f"updated {name}" for name in self.updated]
        out += [f"error: {line}" for line in self.errors]
        out.append(f"{len(self.created)} created, {len(self.updated)} updated, {len(self.errors)} errors")
        return out


def import_url(base_url: str, space: str | None) -> str:
    """The import endpoint of a Kibana URL and an optional space id."""
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"Kibana URL {base_url!r} must start with http:// or https:// "
                          "(pass --url or set GOVWATCH_KIBANA_URL, e.g. http://127.0.0.1:5601)")
    base = base_url.rstrip("/")
    if space and space != "default":
        if not SPACE_RE.match(space):
            raise ConfigError(f"space id {space!r} is not a Kibana space id: use lower-case letters, digits, "
                              "'_' and '-' (the id shown in the space's URL, not its display name)")
        base = f"{base}/s/{space}"
    return f"{base}/api/saved_objects/_import?overwrite=true"


def _name(item: dict[str, Any]) -> str:
    title = (item.get("meta") or {}).get("title") or item.get("title")
    return f"{item.get('type')} {item.get('id')}" + (f" ({title!r})" if title else "")


def explain_error(item: dict[str, Any]) -> str:
    """One import error in plain words, with what to do about it."""
    error = item.get("error") or {}
    kind = error.get("type", "unknown")
    who = _name(item)
    if kind == "missing_references":
        refs = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references", []))
        return (f"{who} refers to objects that are neither in the file nor in Kibana: {refs}; import the whole "
                "file (data views first), not single lines")
    if kind == "conflict":
        return f"{who} already exists and was not overwritten; import again with overwrite (govwatch always sets it)"
    if kind == "ambiguous_conflict":
        dest = ", ".join(d.get("id", "?") for d in error.get("destinations", []))
        return f"{who} matches several existing objects ({dest}); delete the duplicates in Kibana, then import again"
    if kind == "unsupported_type":
        return f"{who} has a type this Kibana does not know; it needs Kibana {KIBANA_MIN_VERSION} or later"
    message = str(error.get("message") or error.get("reason") or kind)
    if _NEWER.search(message):
        return (f"{who}: this Kibana is older than the objects ({message}); they need Kibana "
                f"{KIBANA_MIN_VERSION} or later")
    return f"{who}: {message}"


def judge(status: int, body: Any) -> ImportReport:  # noqa: ANN401 - decoded JSON of any shape
    """The report for an import response (status code and decoded body)."""
    report = ImportReport()
    if not isinstance(body, dict) or "success" not in body:
        message = body.get("message") if isinstance(body, dict) else None
        text = str(message or body)[:500]
        if status in (401, 403):
            report.errors.append(f"Kibana refused the credentials (HTTP {status}: {text}); pass --api-key - "
                                 "or --user with --password -, or set GOVWATCH_KIBANA_API_KEY")
        elif message and _NEWER.search(str(message)):
            report.errors.append(f"this Kibana is older than the objects ({text}); they need Kibana "
                                 f"{KIBANA_MIN_VERSION} or later")
        else:
            report.errors.append(f"Kibana answered HTTP {status} without an import result: {text}")
        return report
    for item in body.get("successResults", []):
        (report.updated if item.get("overwrite") else report.created).append(_name(item))
    report.errors.extend(explain_error(item) for item in body.get("errors", []))
    if not body["success"] and not report.errors:
        report.errors.append(f"Kibana reported the import as failed (HTTP {status}) without naming an object")
    return report


def import_ndjson(text: str, base_url: str, space: str | None = None, *, api_key: str | None = None,
                  username: str | None = None, password: str | None = None,
                  transport: httpx.BaseTransport | None = None) -> ImportReport:
    """POST the NDJSON ``text`` to Kibana's import API and judge the answer."""
    url = import_url(base_url, space)
    headers = {"kbn-xsrf": "true"}
    auth: httpx.BasicAuth | None = None
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif username:
        auth = httpx.BasicAuth(username, password or "")
    files = {"file": ("govwatch.ndjson", text.encode("utf-8"), "application/ndjson")}
    try:
        with httpx.Client(timeout=IMPORT_TIMEOUT_S, transport=transport, auth=auth) as client:
            resp = client.post(url, headers=headers, files=files)
    except httpx.HTTPError as exc:
        raise ConfigError(f"Kibana at {base_url} did not answer ({type(exc).__name__}: {exc}); check --url "
                          "or GOVWATCH_KIBANA_URL and that Kibana is running") from exc
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:500]
    return judge(resp.status_code, body)
