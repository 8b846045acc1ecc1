"""Earlier versions of govwatch modules, read from git history, for benchmarks that score today's code against them.

A baseline is a module's source at a fixed commit (``git show <commit>:<path>``), run as a fresh module under a
benchmark-only name. Its package data (``importlib.resources.files("govwatch.data")``) is read from the same
commit, and a govwatch module it imports that is part of the same baseline resolves to the baseline's copy, not
today's. Nothing is copied into the repository: the commits below are the record of what is compared.

The history must be there: a shallow clone stops with a message that says how to fetch it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]

# govwatch.enrich.relevance (lexicon + 12-feature logistic regression) and topics, with their lexicon, model
# weights and taxonomy, before issue 25: "previous" of benchmarks/relevance_quality.py.
RELEVANCE_COMMIT = "6c1fc5f5fcc7d1c1d14cc5114a71223995743766"
# govwatch.enrich.entities / names and their gazetteer, countries and first names before issue 11: "before" of
# benchmarks/ner_quality.py.
NER_COMMIT = "cf05eed629aa6d594d4603b888151aa3db506980"
DATA_PACKAGE = "govwatch.data"
DATA_DIR = "src/govwatch/data"


def _git_show(commit: str, path: str) -> str:
    """The text of ``path`` at ``commit``; a missing commit (shallow clone) ends the benchmark with the remedy.

    Spawned with ``os.posix_spawnp``, not ``subprocess``: ner_quality.py's peak-RSS child loads the baseline
    through this module, and importing subprocess alone would add ~0.7 MiB to the figure it prints."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2),
               (os.POSIX_SPAWN_CLOSE, out_r), (os.POSIX_SPAWN_CLOSE, err_r)]
    try:
        pid = os.posix_spawnp("git", ["git", "-C", str(REPO_ROOT), "show", f"{commit}:{path}"], os.environ,
                              file_actions=actions)
    except FileNotFoundError:
        raise SystemExit(f"the benchmark baseline is {path} at git {commit[:7]}, read with git: git is not installed"
                         ) from None
    finally:
        os.close(out_w)
        os.close(err_w)
    with open(out_r, encoding="utf-8") as out, open(err_r, encoding="utf-8", errors="replace") as err:
        text, problem = out.read(), err.read().strip()
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise SystemExit(
            f"the benchmark baseline is {path} at git {commit[:7]}, which this checkout cannot read "
            f"({problem or 'git show failed'}). It needs the repository's history: in a shallow clone "
            f"run `git fetch --unshallow` (or clone without --depth).")
    return text


class _GitData:
    """Stands in for ``importlib.resources`` in a baseline module: ``files("govwatch.data")`` at the commit."""

    def __init__(self, commit: str) -> None:
        self.commit = commit

    def files(self, package: str) -> _GitFile:
        if package != DATA_PACKAGE:
            raise ValueError(f"a baseline reads package data from {DATA_PACKAGE} only, not {package}")
        return _GitFile(self.commit, DATA_DIR)


class _GitFile:
    """The little of ``importlib.resources.abc.Traversable`` the baselines use: ``joinpath`` and ``read_text``."""

    def __init__(self, commit: str, path: str) -> None:
        self.commit, self.path = commit, path

    def joinpath(self, name: str) -> _GitFile:
        return _GitFile(self.commit, f"{self.path}/{name}")

    def read_text(self, encoding: str = "utf-8") -> str:
        return _git_show(self.commit, self.path)


@contextmanager
def _resolving(modules: Mapping[str, ModuleType]) -> Iterator[None]:
    """While a baseline module runs, the govwatch names in ``modules`` import the baseline's versions.

    ``from govwatch.enrich import relevance`` reads the package's attribute before ``sys.modules``, so once today's
    module was imported the attribute must point at the baseline too."""
    missing = object()
    saved = {name: sys.modules.get(name) for name in modules}
    attrs: dict[str, tuple[ModuleType, object]] = {}
    for name, module in modules.items():
        parent_name, _, child = name.rpartition(".")
        if (parent := sys.modules.get(parent_name)) is not None:
            attrs[name] = (parent, getattr(parent, child, missing))
            setattr(parent, child, module)
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                del sys.modules[name]
            else:
                sys.modules[name] = old
        for name, (parent, attr) in attrs.items():
            child = name.rpartition(".")[2]
            if attr is missing:
                delattr(parent, child)
            else:
                setattr(parent, child, attr)


def load(name: str, commit: str, path: str, imports: Mapping[str, ModuleType] | None = None) -> ModuleType:
    """Module ``name`` from ``path`` at ``commit``; ``imports`` maps govwatch module names to baseline modules."""
    source = _git_show(commit, path)
    filename = f"git:{commit[:7]}:{path}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=filename)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class body runs
    with _resolving(imports or {}):
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own source, from our history
    module.resources = _GitData(commit)  # type: ignore[attr-defined]  # package data read lazily, at the commit
    return module


def relevance_baseline() -> ModuleType:
    """govwatch.enrich.topics with its relevance module and data at RELEVANCE_COMMIT, as ``topics_v2``."""
    relevance = load("relevance_v2", RELEVANCE_COMMIT, "src/govwatch/enrich/relevance.py")
    return load("topics_v2", RELEVANCE_COMMIT, "src/govwatch/enrich/topics.py",
                imports={"govwatch.enrich.relevance": relevance})


def ner_baseline() -> ModuleType:
    """govwatch.enrich.entities with its names module and data at NER_COMMIT, as ``entities_v1``."""
    names = load("names_v1", NER_COMMIT, "src/govwatch/enrich/names.py")
    return load("entities_v1", NER_COMMIT, "src/govwatch/enrich/entities.py",
                imports={"govwatch.enrich.names": names})
