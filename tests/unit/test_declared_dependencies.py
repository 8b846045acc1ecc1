"""Every distribution that our code imports directly is declared by the distribution that ships that code.

A library that arrives only because another dependency needs it today can vanish with that dependency's next
release (the image installs the wheel's declared dependencies and nothing else). The imports are read from the
source (tests/support/imports.py); the importing module -> distribution map comes from the installed environment
(``importlib.metadata.packages_distributions``).
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.support.imports import DEVTOOLS, PRODUCT, REPO, Import, imports

# Top-level packages that are ours: shipped by the product wheel (pyproject.toml's package-dir) or the dev tooling's.
OWN = {"govwatch", "govwatch_flows", "govwatch_consumers", "govwatch_schemas", "govwatch_deploy"}
DEV_PACKAGE = "govwatch_dev"


def _normalise(requirement: str) -> str:
    """The distribution a requirement names (``"kafka-python[crc32c]>=3"``: ``kafka-python``), PEP 503-normalised."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(1)).lower()


def _declared(pyproject: Path, *extras: str) -> set[str]:
    """The distributions a pyproject.toml declares in ``dependencies`` (and the named extras), normalised."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {_normalise(line) for line in requirements}


def _undeclared(found: list[Import], declared: set[str], own: set[str]) -> list[str]:
    """``module -> imported (file:line) [distribution]`` for each import of a distribution not in ``declared``."""
    distributions = packages_distributions()
    problems = []
    for edge in found:
        top = edge.imported.partition(".")[0]
        if top in sys.stdlib_module_names or top in own:
            continue
        names = distributions.get(top)
        if not names:
            problems.append(f"{edge} [no installed distribution provides {top!r}]")
        elif not {_normalise(name) for name in names} & declared:
            problems.append(f"{edge} [{', '.join(sorted(names))}]")
    return problems


def test_the_product_declares_every_distribution_it_imports() -> None:
    """src/govwatch, flows/ and consumers/ import only distributions in govwatch's ``dependencies``."""
    problems = _undeclared(list(imports(PRODUCT)), _declared(REPO / "pyproject.toml"), OWN)
    assert problems == [], "imported but not declared in pyproject.toml [project] dependencies:\n" + "\n".join(problems)


def test_the_product_never_imports_the_development_tooling() -> None:
    """govwatch_dev is not in the wheel: no product module imports it, not even inside a function."""
    edges = [str(edge) for edge in imports(PRODUCT) if edge.imported.partition(".")[0] == DEV_PACKAGE]
    assert edges == [], "the product imports govwatch_dev:\n" + "\n".join(edges)


def test_the_development_tooling_declares_every_distribution_it_imports() -> None:
    """devtools/govwatch_dev imports only what govwatch-dev declares, or govwatch (which it depends on) declares."""
    declared = _declared(REPO / "devtools" / "pyproject.toml")
    assert "govwatch" in declared
    declared |= _declared(REPO / "pyproject.toml")
    problems = _undeclared(list(imports(DEVTOOLS)), declared, OWN | {DEV_PACKAGE})
    assert problems == [], "imported but not declared by govwatch-dev or govwatch:\n" + "\n".join(problems)
