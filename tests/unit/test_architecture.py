"""The layers of govwatch and which may import which, checked on every import in the source.

Every import counts: module level, inside a function, under ``if TYPE_CHECKING:``, and ``importlib.import_module``
with a module name the source spells out (tests/support/imports.py). A failure prints each forbidden edge as
``module -> imported (file:line)``. The table below is the module map's rule list (README); no layer may import
govwatch_dev (the development tooling, its own distribution, never in the wheel).
"""

from __future__ import annotations

from functools import cache

import pytest
from tests.support.imports import DEVTOOLS, PRODUCT, Import, imports, modules

# layer: the modules in it (a name stands for that module and everything under it)
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("govwatch.settings", "govwatch.errors", "govwatch.models", "govwatch.identity", "govwatch.log",
             "govwatch.metrics"),
    "adapters": ("govwatch.adapters",),
    "domain": ("govwatch.alerts", "govwatch.enrich", "govwatch.feeds", "govwatch.kibana"),
    "stages": ("govwatch.stages",),
    "loop": ("govwatch.loop",),
    "wiring": ("govwatch.wiring",),
    "web": ("govwatch.web",),
    "cli": ("govwatch.cli", "govwatch.commands"),
    "flows": ("govwatch_flows",),
    "consumers": ("govwatch_consumers",),
    "dev": ("govwatch_dev",),
}
# The package ``govwatch`` itself (its __init__: the version) belongs to the base.
ROOT = {"govwatch": "base"}
ONLY = "may import only"  # every rule is a list of what a layer may import: a new layer is forbidden until named
GOVWATCH = ("base", "adapters", "domain", "stages", "loop", "wiring", "web", "cli")

# layer         rule    layers (or single modules)
RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("base",      ONLY,   ("base",)),
    ("adapters",  ONLY,   ("base", "adapters")),
    ("domain",    ONLY,   ("base", "adapters", "domain")),
    ("stages",    ONLY,   ("base", "adapters", "domain", "stages")),
    ("loop",      ONLY,   ("base", "adapters", "loop", "govwatch.stages.contract")),
    ("wiring",    ONLY,   ("base", "adapters", "domain", "stages", "loop", "wiring")),
    ("web",       ONLY,   ("base", "adapters", "domain", "wiring", "web")),
    ("cli",       ONLY,   (*GOVWATCH, "flows")),
    ("flows",     ONLY,   ("base", "adapters", "domain", "wiring", "flows")),
    ("consumers", ONLY,   ("base", "adapters", "wiring", "consumers")),
)  # fmt: skip


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> str | None:
    """The layer ``module`` belongs to (None: a module of none of them, e.g. a third-party library)."""
    if module in ROOT:
        return ROOT[module]
    return next((layer for layer, prefixes in LAYERS.items() if any(_within(module, p) for p in prefixes)), None)


def _ours(module: str) -> bool:
    return any(_within(module, package) for package in (*PRODUCT, *DEVTOOLS))


def _allowed(imported: str, rule: str, targets: tuple[str, ...]) -> bool:
    assert rule == ONLY
    return layer_of(imported) in targets or any(_within(imported, t) for t in targets if "." in t)


@cache
def _edges() -> tuple[Import, ...]:
    """Every import of a product module whose target is one of our modules."""
    return tuple(edge for edge in imports(PRODUCT, known=modules(DEVTOOLS)) if _ours(edge.imported))


def test_every_module_has_a_layer() -> None:
    """A new module of src/govwatch, flows/ or consumers/ gets a place in LAYERS before any rule can judge it."""
    assert [module for module in modules(PRODUCT) if layer_of(module) is None] == []


def test_every_layer_has_a_rule() -> None:
    assert {layer for layer, _, _ in RULES} == set(LAYERS) - {"dev"}


@pytest.mark.parametrize(("layer", "rule", "targets"), RULES, ids=[layer for layer, _, _ in RULES])
def test_layer_imports(layer: str, rule: str, targets: tuple[str, ...]) -> None:
    """No module of ``layer`` imports a module its rule forbids."""
    forbidden = [str(edge) for edge in _edges()
                 if layer_of(edge.module) == layer and not _allowed(edge.imported, rule, targets)]
    if forbidden:
        pytest.fail(f"{layer} {rule} {', '.join(targets)}; forbidden edges:\n" + "\n".join(forbidden), pytrace=False)
