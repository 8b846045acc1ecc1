"""The compose project as the tests lay it out: the folder, its .env made by make-env.sh, the resolved config."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.tools import compose_binary, run

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
ROLES_DIR = REPO / "deploy" / "helm" / "govwatch" / "files" / "elasticsearch-roles"
SETUP = COMPOSE_DIR / "setup-elasticsearch.sh"
# The govwatch roles with an Elasticsearch user of their own (one compose service each).
GOVWATCH_ROLES = ("init", "poll", "digests", "spikes", "sources", "enrich", "index", "alert", "notify", "web")


def compose_config(folder: Path, name: str = "compose.yaml") -> tuple[int, str, str]:
    """`docker compose config --format json` in ``folder``: exit status, stdout, stderr."""
    proc = run([compose_binary(), "-f", folder / name, "config", "--format", "json"], cwd=folder)
    return proc.returncode, proc.stdout, proc.stderr


def env_values(text: str) -> dict[str, str]:
    """NAME=value lines of a .env text (single quotes dropped); comments and blank lines skipped."""
    return {name: value.strip("'") for name, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.M)}
