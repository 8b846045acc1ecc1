"""The wheel's package list in pyproject.toml covers the source tree (setuptools finds nothing by itself here)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _folder(package: str) -> Path:
    top, _, rest = package.partition(".")
    base = CONFIG["package-dir"].get(top)
    root = REPO / base if base else REPO / CONFIG["package-dir"][""] / top
    return root.joinpath(*rest.split(".")) if rest else root


def test_every_govwatch_subpackage_is_listed() -> None:
    """A sub-package added under src/govwatch (a folder with an __init__.py) is listed in [tool.setuptools] packages."""
    src = REPO / "src"
    found = {".".join(init.parent.relative_to(src).parts) for init in src.rglob("__init__.py")}
    assert found - set(CONFIG["packages"]) == set()


def test_every_data_file_is_shipped() -> None:
    """Each data file of a listed package (everything but Python and Markdown) matches its package-data patterns."""
    missing = []
    for package in CONFIG["packages"]:
        patterns = CONFIG["package-data"].get(package, [])
        for path in _folder(package).iterdir():
            if path.is_file() and path.suffix not in (".py", ".md", ".pyc") and path.parent.name != "__pycache__":
                if package == "govwatch_deploy":
                    continue  # deploy/ ships only the feed registry; the rest configures the local stack
                if not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns):
                    missing.append(str(path.relative_to(REPO)))
    assert missing == []
    assert CONFIG["package-data"]["govwatch_deploy"] == ["feeds.yaml"]
