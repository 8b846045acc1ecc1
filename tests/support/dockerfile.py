"""Read deploy/docker/Dockerfile (instructions per stage) and replay its build stage outside Docker.

No Docker engine runs on our machines, so the tests take the image definition at its word: the build stage's
``COPY`` lines say which files of the checkout go in, and its ``RUN`` line runs deploy/docker/install.sh; the tests
copy exactly those files into an empty folder and run the same script there (see ``replay_build_stage``).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"


@dataclass
class Instruction:
    keyword: str
    args: str

    def words(self) -> list[str]:
        """Exec form (a JSON list) as given, shell form split like a shell would."""
        text = self.args.strip()
        return json.loads(text) if text.startswith("[") else shlex.split(text)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """ENV KEY=VALUE pairs of this stage ($PATH-style references left as written)."""
        values: dict[str, str] = {}
        for ins in self.all("ENV"):
            for word in shlex.split(ins.args):
                key, _, value = word.partition("=")
                values[key] = value
        return values


def instructions(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            base = words[0]
            for key, value in args.items():
                base = base.replace(f"${{{key}}}", value)
            stages.append(Stage(base, words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        elif not stages:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                args[key.strip()] = value.strip()
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return args, stages


def replay_build_stage(context: Path, work: Path) -> tuple[Path, list[str]]:
    """Copy what the build stage's COPY lines name from ``context`` into ``work/src`` and run its RUN line.

    Paths inside the image (``/src``, ``/opt/govwatch``, ``/tmp/dist``, ``/usr/local/bin/...``) are mapped under
    ``work``. Returns the virtualenv that ``/opt/govwatch`` became and the RUN command as the Dockerfile has it.
    """
    _, stages = instructions()
    build = stages[0]
    (workdir,) = [Path(i.args.strip()) for i in build.all("WORKDIR")]

    def inside(path: str) -> Path:
        target = Path(path) if path.startswith("/") else workdir / path
        return work / target.relative_to("/")

    for copy in build.all("COPY"):
        *sources, dest = copy.words()
        for source in sources:
            origin = context / source.rstrip("/")
            target = inside(dest)
            if dest.endswith("/") and not source.endswith("/"):
                target = target / origin.name
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                                dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    (run,) = build.all("RUN")
    words = run.words()
    program = inside(words[0]) if words[0].startswith("/") else inside(f"/usr/local/bin/{words[0]}")
    command = [str(program), *(str(inside(w)) if w.startswith("/") else w for w in words[1:])]
    return inside("/opt/govwatch"), command


def run_install(command: list[str], env: dict[str, str], timeout_s: float) -> None:
    """Run the build stage's RUN command; a failure shows its output."""
    proc = subprocess.run(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout_s, check=False)
    assert proc.returncode == 0, f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-4000:]}"
