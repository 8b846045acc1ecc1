"""`govwatch kibana import` against a real HTTP server on 127.0.0.1 that checks requests as Kibana's import API
documents them (multipart field `file`, `kbn-xsrf`, `overwrite=true`, space prefix, auth) and answers with
recorded success and error bodies (shapes from Kibana's saved-objects import docs and source)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from govwatch.errors import ConfigError
from govwatch.kibana import import_ndjson, ndjson, saved_objects
from govwatch_dev.localserver import LocalServer

MISSING_REFERENCES = {"successCount": 0, "success": False, "warnings": [], "errors": [
    {"id": "govwatch-coverage", "type": "dashboard", "meta": {"title": "govwatch: Coverage", "icon": "dashboardApp"},
     "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "govwatch-stories"}]}}]}
CONFLICT = {"successCount": 0, "success": False, "warnings": [], "errors": [
    {"id": "govwatch-alerts", "type": "dashboard", "meta": {"title": "govwatch: Alerts"},
     "error": {"type": "conflict"}}]}
UNSUPPORTED = {"successCount": 6, "success": False, "warnings": [], "errors": [
    {"id": "govwatch-entity", "type": "dashboard", "meta": {"title": "govwatch: Entity drill-down"},
     "error": {"type": "unsupported_type"}}]}
TOO_NEW = {"successCount": 2, "success": False, "warnings": [], "errors": [
    {"id": "govwatch-coverage", "type": "dashboard", "meta": {"title": "govwatch: Coverage"},
     "error": {"type": "unknown", "statusCode": 422,
               "message": 'Document "govwatch-coverage" belongs to a more recent version of Kibana [8.7.0] when the '
                          "last known version is [8.5.0]."}}]}
UNAUTHORIZED = {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]: unable to authenticate"}
FAILED_SILENTLY = {"successCount": 0, "success": False, "warnings": []}


@dataclass
class FakeKibana:
    """Records each request; answers ``reply`` if set, else a Kibana-shaped success (overwrite after the first)."""

    reply: tuple[int, dict[str, Any]] | None = None
    problems: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    stored: set[tuple[str, str]] = field(default_factory=set)
    base: str = ""

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:  # noqa: ANN401
        url = urlsplit(path)
        space, _, api = url.path.rpartition("/api/")
        if api != "saved_objects/_import" or (space and not space.startswith("/s/")):
            self.problems.append(f"wrong path {url.path}")
        if parse_qs(url.query).get("overwrite") != ["true"]:
            self.problems.append(f"overwrite=true missing from {url.query!r}")
        if headers.get("kbn-xsrf") is None:
            self.problems.append("kbn-xsrf header missing")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if not message.is_multipart() or "file" not in parts:
            self.problems.append("no multipart field 'file'")
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "[request body.file]: expected value"}
        part = parts["file"]
        if not str(part.get_filename() or "").endswith(".ndjson"):
            self.problems.append("the file part has no .ndjson filename (Kibana refuses other extensions)")
        objects = [json.loads(line) for line in part.get_payload(decode=True).decode().splitlines() if line]
        self.requests.append({"space": space.removeprefix("/s/") or None, "auth": headers.get("Authorization"),
                              "objects": objects})
        if self.reply is not None:
            return self.reply
        results = []
        for obj in objects:
            key = (obj["type"], obj["id"])
            item = {"type": obj["type"], "id": obj["id"], "meta": {"title": obj["attributes"].get("title")}}
            if key in self.stored:
                item["overwrite"] = True
            self.stored.add(key)
            results.append(item)
        return 200, {"successCount": len(results), "success": True, "warnings": [], "successResults": results}


@contextmanager
def fake_kibana() -> Iterator[FakeKibana]:
    kibana = FakeKibana()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, reply = kibana.answer(self.path, self.headers, body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    with LocalServer(Handler, name="fake-kibana") as server:
        kibana.base = server.url
        yield kibana


def _govwatch(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_KIBANA_")}
    return subprocess.run([sys.executable, "-m", "govwatch.cli", "kibana", *args], input=stdin, capture_output=True,
                          text=True, env={**clean, **env}, timeout=120)


def test_import_posts_the_file_as_kibana_documents_and_is_idempotent() -> None:
    """Two imports send every object as multipart `file` with kbn-xsrf and overwrite; the second updates, exit 0."""
    with fake_kibana() as kibana:
        first = _govwatch("import", "--url", kibana.base)
        second = _govwatch("import", "--url", kibana.base)
    assert kibana.problems == []
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "13 created, 0 updated, 0 errors" in first.stdout  # 4 data views, 4 saved searches, 5 dashboards
    assert "0 created, 13 updated, 0 errors" in second.stdout
    assert "updated dashboard govwatch-coverage ('govwatch: Coverage')" in second.stdout
    assert kibana.requests[0]["objects"] == saved_objects()


def test_import_into_a_space_with_an_api_key_read_from_stdin() -> None:
    """--space puts /s/<space> before the API; --api-key - reads the key from stdin and never prints it."""
    with fake_kibana() as kibana:
        result = _govwatch("import", "--url", kibana.base + "/", "--space", "analysts", "--api-key", "-",
                           stdin="c2VjcmV0LWtleQ==\n")
    assert result.returncode == 0, result.stderr
    assert kibana.problems == []
    assert kibana.requests[0]["space"] == "analysts"
    assert kibana.requests[0]["auth"] == "ApiKey c2VjcmV0LWtleQ=="
    assert "c2VjcmV0LWtleQ" not in result.stdout + result.stderr


def test_user_and_password_come_from_the_environment_like_other_secrets() -> None:
    """GOVWATCH_KIBANA_URL, _USERNAME and _PASSWORD are used when no flags are given (basic auth)."""
    with fake_kibana() as kibana:
        result = _govwatch("import", GOVWATCH_KIBANA_URL=kibana.base, GOVWATCH_KIBANA_USERNAME="elastic",
                           GOVWATCH_KIBANA_PASSWORD="changeme")
    assert result.returncode == 0, result.stderr
    assert kibana.requests[0]["auth"] == "Basic " + base64.b64encode(b"elastic:changeme").decode()


@pytest.mark.parametrize(("reply", "words"), [
    ((200, MISSING_REFERENCES), "dashboard govwatch-coverage ('govwatch: Coverage') refers to objects that are "
                                "neither in the file nor in Kibana: index-pattern govwatch-stories"),
    ((200, CONFLICT), "already exists and was not overwritten"),
    ((200, UNSUPPORTED), "has a type this Kibana does not know; it needs Kibana 8.8.0 or later"),
    ((200, TOO_NEW), "this Kibana is older than the objects"),
    ((401, UNAUTHORIZED), "Kibana refused the credentials (HTTP 401"),
    ((200, FAILED_SILENTLY), "Kibana reported the import as failed"),
])
def test_each_import_error_is_explained_in_plain_words_and_exits_non_zero(reply, words: str) -> None:  # noqa: ANN001
    """A body with success false (even with HTTP 200) or without a result exits 1 with each error explained."""
    with fake_kibana() as kibana:
        kibana.reply = reply
        result = _govwatch("import", "--url", kibana.base)
    assert result.returncode == 1
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_is_refused_before_any_request() -> None:
    """A space name that is not a space id, a URL without a scheme and a missing --file each say what to do."""
    with pytest.raises(ConfigError, match="not a Kibana space id"):
        import_ndjson(ndjson(), "http://127.0.0.1:5601", "My Space")
    with pytest.raises(ConfigError, match="must start with http"):
        import_ndjson(ndjson(), "127.0.0.1:5601")
    result = _govwatch("import", "--url", "http://127.0.0.1:5601", "--file", "/nonexistent/x.ndjson")
    assert result.returncode == 2 and "govwatch kibana export --out" in result.stderr


def test_export_writes_the_committed_ndjson() -> None:
    """`govwatch kibana export` prints exactly the generated NDJSON (what users import by hand)."""
    result = _govwatch("export")
    assert result.returncode == 0
    assert result.stdout == ndjson()
