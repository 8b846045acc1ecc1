"""Fixtures of the compose tests: the compose folder with a .env made the documented way (make-env.sh)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose_env import COMPOSE_DIR, compose_config
from tests.deploy.tools import run


@pytest.fixture(scope="session")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The .env deploy/compose/make-env.sh writes (random secrets, the admin token's hash), made once."""
    folder = tmp_path_factory.mktemp("make-env")
    shutil.copy(COMPOSE_DIR / ".env.example", folder / ".env.example")
    shutil.copy(COMPOSE_DIR / "make-env.sh", folder / "make-env.sh")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # govwatch
    proc = run(["bash", folder / "make-env.sh"], cwd=folder, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip()) == 64, "make-env.sh prints the new admin token once"
    return (folder / ".env").read_text()


@pytest.fixture
def project(tmp_path: Path, generated_env: str) -> Path:
    """The compose folder laid out as in the repository, with .env made by make-env.sh as the guide says."""
    folder = tmp_path / "deploy" / "compose"
    shutil.copytree(COMPOSE_DIR, folder)
    (folder / ".env").write_text(generated_env)
    return folder


@pytest.fixture
def loaded(project: Path) -> dict[str, Any]:
    """The file as Compose resolves it (anchors merged, variables interpolated from .env)."""
    code, out, err = compose_config(project)
    assert code == 0, err
    return json.loads(out)
