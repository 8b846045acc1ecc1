"""The imports a source tree makes, read from its syntax tree: nothing is imported or run.

Every ``import``/``from ... import`` counts, wherever it is (module level, inside a function, under
``if TYPE_CHECKING:``), and so does ``importlib.import_module(...)`` whose argument is a string literal, a module-level
string constant, or an f-string (its literal head up to the last dot, e.g. ``f"govwatch.commands.{name}"`` imports
from ``govwatch.commands``). Shared by tests/unit/test_architecture.py and tests/unit/test_declared_dependencies.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Each package of the product wheel that holds code, by import name -> its folder in the checkout (pyproject.toml's
# [tool.setuptools.package-dir]); the development tooling's package is separate.
PRODUCT = {
    "govwatch": REPO / "src" / "govwatch",
    "govwatch_flows": REPO / "flows",
    "govwatch_consumers": REPO / "consumers",
}
DEVTOOLS = {"govwatch_dev": REPO / "devtools" / "govwatch_dev"}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as ``module -> imported (file:line)``."""

    module: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.module} -> {self.imported} ({self.path.relative_to(REPO)}:{self.line})"


def modules(packages: dict[str, Path]) -> dict[str, Path]:
    """Every module of ``packages``: dotted name -> file (a package is its ``__init__.py``)."""
    found = {}
    for package, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            constants.update({target.id: node.value.value for target in node.targets if isinstance(target, ast.Name)})
    return constants


def _import_module_target(call: ast.Call, constants: dict[str, str]) -> str | None:
    """The module an ``importlib.import_module(...)`` call names, when the source says it."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name != "import_module" or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name):
        return constants.get(arg.id)
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        head = str(arg.values[0].value)
        return head.rpartition(".")[0] or None
    return None


def imports(packages: dict[str, Path], known: dict[str, Path] | None = None) -> Iterator[Import]:
    """Every import made by a module of ``packages``, relative imports resolved.

    ``from a import b`` imports ``a.b`` when that is a module of ``known`` (default: the modules of ``packages``),
    otherwise ``a``.
    """
    own = modules(packages)
    known = own if known is None else {**known, **own}
    for module, path in own.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        constants = _string_constants(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str]
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            elif isinstance(node, ast.Call):
                target = _import_module_target(node, constants)
                targets = [target] if target else []
            else:
                continue
            for target in dict.fromkeys(targets):
                yield Import(module, target, path, node.lineno)
