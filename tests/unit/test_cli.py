"""The command line: unreachable services and bad input end in one clear line with the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def _govwatch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "govwatch.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_unreachable_elasticsearch_is_one_line_with_the_fix() -> None:
    """With nothing listening at GOVWATCH_ES_URL, `subscriptions list` says so and how to fix it (exit 2)."""
    result = _govwatch("subscriptions", "list", GOVWATCH_ES_URL="http://127.0.0.1:9")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Elasticsearch unreachable" in result.stderr and "GOVWATCH_ES_URL" in result.stderr
    assert "govwatch stack up" in result.stderr


def test_module_entry_point_knows_every_command() -> None:
    """`python -m govwatch.cli --help` lists the registered sub-commands (poll, subscriptions, digest, demo)."""
    result = _govwatch("--help")
    assert result.returncode == 0
    for command in ("stack", "init", "poll", "subscriptions", "digest", "demo"):
        assert command in result.stdout
