"""The entity extractor as it was before issue 26, read whole from git history for benchmarks/ner_quality.py.

Issue 11 split the extractor into several modules (gazetteer, name rules, rule view, CRF), so the single-module
baseline of _frozen.py is not enough: every module of the extractor is loaded at PREVIOUS_COMMIT under a
benchmark-only name, in import order, each importing the others' baseline copies; package data (YAML, name
lists and the binary CRF model) is read from the same commit. Nothing is copied into the repository.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from _frozen import REPO_ROOT, load

# git HEAD when issue 26 started: the rules + CRF of issue 11 with their data.
PREVIOUS_COMMIT = "6c1fc5f"
# Import order: each module imports only the ones before it.
MODULES = ("name_lexicon", "name_shape", "name_runs", "names", "gazetteer", "rule_view", "ner_model",
           "model_names", "entities")
DATA_DIR = "src/govwatch/data"


def _git_bytes(commit: str, path: str) -> bytes:
    """The bytes of ``path`` at ``commit`` (spawned like _frozen._git_show: no subprocess import, for RSS)."""
    out_r, out_w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, out_w, 1)]
    pid = os.posix_spawnp("git", ["git", "-C", str(REPO_ROOT), "show", f"{commit}:{path}"], os.environ,
                          file_actions=actions)
    os.close(out_w)
    with open(out_r, "rb") as out:
        data = out.read()
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise SystemExit(f"cannot read {path} at git {commit} (a shallow clone needs `git fetch --unshallow`)")
    return data


class _Ref:
    """The little of a Traversable the extractor uses: joinpath, read_text, is_file."""

    def __init__(self, commit: str, path: str) -> None:
        self.commit, self.path = commit, path

    def joinpath(self, name: str) -> _Ref:
        return _Ref(self.commit, f"{self.path}/{name}")

    def read_text(self, encoding: str = "utf-8") -> str:
        return _git_bytes(self.commit, self.path).decode(encoding)

    def is_file(self) -> bool:
        return True


class _Resources:
    """Stands in for ``importlib.resources`` in a baseline module, at one commit."""

    def __init__(self, commit: str) -> None:
        self.commit = commit

    def files(self, package: str) -> _Ref:
        if package != "govwatch.data":
            raise ValueError(f"a baseline reads package data from govwatch.data only, not {package}")
        return _Ref(self.commit, DATA_DIR)

    @contextmanager
    def as_file(self, ref: _Ref) -> Iterator[Path]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(ref.path).name
            path.write_bytes(_git_bytes(ref.commit, ref.path))
            yield path


def previous_extractor(commit: str = PREVIOUS_COMMIT) -> ModuleType:
    """govwatch.enrich.entities and the modules it uses at ``commit``; exposes extract_entities, load_gazetteer."""
    import govwatch.enrich as package

    done: dict[str, ModuleType] = {}
    saved = {m: getattr(package, m) for m in MODULES if hasattr(package, m)}
    try:
        for name in MODULES:
            # "from govwatch.enrich import ner_model" reads the package attribute before sys.modules
            for m, mod in done.items():
                setattr(package, m, mod)
            module = load(f"prev_{name}", commit, f"src/govwatch/enrich/{name}.py",
                          imports={f"govwatch.enrich.{m}": mod for m, mod in done.items()})
            module.resources = _Resources(commit)  # type: ignore[attr-defined]
            done[name] = module
    finally:
        for m in MODULES:
            if m in saved:
                setattr(package, m, saved[m])
            elif hasattr(package, m):
                delattr(package, m)
    out = ModuleType("previous")
    out.extract_entities = done["entities"].extract_entities  # type: ignore[attr-defined]
    out.load_gazetteer = done["gazetteer"].load_gazetteer  # type: ignore[attr-defined]
    out.ner_model = done["ner_model"]  # type: ignore[attr-defined]
    sys.modules.setdefault("prev_entities", done["entities"])
    return out
