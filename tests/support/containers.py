"""govwatch's image, built by deploy/docker/build-local.sh and run the way the Helm chart runs its pods.

One place knows the container command line for this machine: ``build-local.sh --engine-command`` (podman with runc,
the cgroupfs manager and its own containers.conf here; Docker elsewhere). Every container started here is hardened
as the chart's pods are (deploy/helm/govwatch/templates/_helpers.tpl): uid/gid 10001, read-only root filesystem, all
capabilities dropped, no privilege escalation, and a writable tmpfs only where the chart mounts an ``emptyDir``
(read from the chart, so a new emptyDir there is followed here). The host network stands in for the cluster's: the
containers reach the local stack and the test's HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "deploy" / "docker" / "build-local.sh"
CHART_HELPERS = REPO / "deploy" / "helm" / "govwatch" / "templates" / "_helpers.tpl"
UID = 10001  # the image's USER and the chart's runAsUser
# A cold build on a busy 2-core machine: debootstrap of the stand-in (~2 min) and pip installing every pinned wheel
# (~3 min); an hour means "hung", never "slow".
BUILD_TIMEOUT_S = 3600
# One engine command (run, exec, inspect, stop) on a loaded machine; `stop` itself waits up to STOP_GRACE_S.
COMMAND_TIMEOUT_S = 300
STOP_GRACE_S = 30  # the chart's terminationGracePeriodSeconds for consumers and web
SUMMARY_PREFIX = "govwatch-build: "
# Paths the engine itself puts into every container (bind mounts of /etc/hosts and friends, /run/.containerenv);
# creating them marks their parent directory as changed in `diff` although the container wrote nothing there.
ENGINE_MOUNT_PARENTS = {"/etc", "/run"}


@dataclass(frozen=True)
class Build:
    """What build-local.sh reported, and which steps ran rather than coming from the layer cache."""

    image: str
    size_bytes: int
    build_s: int
    base: str
    base_s: str  # seconds to make the stand-in base, or "cached"
    engine: str
    rebuilt: list[str]  # the steps that ran (podman's log; [] = every step from the layer cache)
    wall_s: float
    log: str


def build_image(tag: str, log_path: Path, *extra: str) -> Build:
    """Run build-local.sh for ``tag``; the test fails with the end of the log when it fails."""
    started = time.monotonic()
    proc = subprocess.run([str(BUILD_SCRIPT), "--tag", tag, *extra], cwd=REPO, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S)
    wall = time.monotonic() - started
    log = proc.stdout + proc.stderr
    log_path.write_text(log)
    if proc.returncode != 0:
        pytest.fail(f"deploy/docker/build-local.sh failed (exit {proc.returncode}); log {log_path}:\n{log[-4000:]}",
                    pytrace=False)
    summary = next((line for line in proc.stdout.splitlines()[::-1] if line.startswith(SUMMARY_PREFIX)), None)
    assert summary is not None, f"build-local.sh printed no summary line:\n{log[-2000:]}"
    fields = dict(word.split("=", 1) for word in summary.removeprefix(SUMMARY_PREFIX).split())
    return Build(image=fields["image"], size_bytes=int(fields["size_bytes"]), build_s=int(fields["build_s"]),
                 base=fields["base"], base_s=fields["base_s"], engine=fields["engine"], rebuilt=_steps_run(log),
                 wall_s=wall, log=log)


def _steps_run(log: str) -> list[str]:
    """Podman's build log prints "--> Using cache <id>" under each step taken from the cache: the others ran.
    FROM steps are never cached, so they are left out."""
    steps = re.split(r"^(?=\[\d+/\d+\] STEP )", log, flags=re.M)
    ran = []
    for step in steps:
        head = step.split("\n", 1)[0]
        match = re.match(r"\[(\d+)/\d+\] STEP \d+/\d+: (\w+)(.{0,40})", head)
        if match and match.group(2) != "FROM" and "--> Using cache" not in step:
            ran.append(f"stage {match.group(1)}: {match.group(2)}{match.group(3)}")
    return ran


def engine_command() -> list[str]:
    """The container command line build-local.sh uses (the test fails, saying how to install one, without it)."""
    proc = subprocess.run([str(BUILD_SCRIPT), "--engine-command"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"no container engine: {proc.stderr.strip()}", pytrace=False)
    return proc.stdout.split("\n")[:-1]


def chart_grace_s(template: str) -> int:
    """The chart's terminationGracePeriodSeconds in one of its templates (``flows.yaml``, ``consumers.yaml`` ...): the
    flow roles get more than the consumers, because Prefect's runner gives a flow run in flight 30 s after SIGTERM
    before it pauses its deployments."""
    text = (CHART_HELPERS.parent / template).read_text(encoding="utf-8")
    found = re.search(r"terminationGracePeriodSeconds:\s*(\d+)", text)
    assert found, f"no terminationGracePeriodSeconds in {template}"
    return int(found.group(1))


def chart_tmpfs_paths(helpers: Path = CHART_HELPERS) -> list[str]:
    """Mount paths of the chart's emptyDir volumes (govwatch.volumes / govwatch.volumeMounts in _helpers.tpl)."""
    text = helpers.read_text(encoding="utf-8")
    empty = set(re.findall(r"\{name:\s*([\w-]+),\s*emptyDir:", text))
    mounts = dict(re.findall(r"\{name:\s*([\w-]+),\s*mountPath:\s*([^,}\s]+)", text))
    paths = sorted(mounts[name] for name in empty if name in mounts)
    assert paths, f"no emptyDir volume with a mount found in {helpers}: the parser needs updating"
    return paths


def hardened_options(engine: str, tmpfs_paths: list[str]) -> list[str]:
    """The chart's pod and container security context, as engine options (see the module docstring)."""
    options = ["--network", "host", "--user", f"{UID}:{UID}", "--read-only", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges"]
    if engine == "podman":
        # Podman adds writable tmpfs on /run, /tmp and /var/tmp to a read-only container unless told not to; the
        # chart has none of those. An emptyDir starts empty (notmpcopyup) and is writable by the pod's fsGroup (U:
        # owned by the container's user).
        options.append("--read-only-tmpfs=false")
        options += [f"--tmpfs={path}:rw,nosuid,nodev,notmpcopyup,U" for path in tmpfs_paths]
    else:
        options += [f"--tmpfs={path}:rw,nosuid,nodev,mode=1777" for path in tmpfs_paths]
    return options


class Engine:
    """podman (or docker) as build-local.sh calls it."""

    def __init__(self, command: list[str], engine: str) -> None:
        self.command = command
        self.name = engine

    def run(self, *args: str, check: bool = True, timeout: float = COMMAND_TIMEOUT_S,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=timeout, input=stdin)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args[:3])} ... failed (exit {proc.returncode}): "
                                 f"{_without_noise(proc.stderr)[-3000:]}")
        return proc

    def inspect(self, name: str) -> dict:
        return json.loads(self.run("inspect", name).stdout)[0]

    def health_test(self, name: str) -> list[str]:
        """The container's health check command as configured (image HEALTHCHECK, or the override given)."""
        config = self.inspect(name)["Config"]
        check = config.get("Healthcheck") or config.get("HealthCheck") or {}
        return list(check.get("Test") or [])

    def healthcheck_once(self, name: str) -> bool:
        """Run the container's HEALTHCHECK now (podman: `healthcheck run`, which records the result); Docker runs
        them itself, so there the recorded status is read."""
        if self.name == "podman":
            return self.run("healthcheck", "run", name, check=False).returncode == 0
        return self.inspect(name)["State"].get("Health", {}).get("Status") == "healthy"

    def wait_healthy(self, started: dict[str, float], deadline_s: float) -> dict[str, float]:
        """For containers started at the given ``time.monotonic()``, the seconds until each one's health check first
        passed (checked in turn, about once a second each); fails when one exits or is not healthy by the deadline."""
        waiting, took = dict(started), {}
        while waiting:
            for name, at in list(waiting.items()):
                if self.healthcheck_once(name):
                    took[name] = time.monotonic() - at
                    del waiting[name]
                    continue
                state = self.inspect(name)["State"]
                if not state.get("Running"):
                    raise AssertionError(f"{name} exited ({state.get('ExitCode')}) before it was healthy:\n"
                                         f"{self.logs(name)[-3000:]}")
                if time.monotonic() - at > deadline_s:
                    raise AssertionError(f"{name} not healthy {deadline_s:.0f} s after start; health check "
                                         f"{self.health_test(name)}; log:\n{self.logs(name)[-3000:]}")
            if waiting:
                time.sleep(1.0)
        return took

    def prune_build_leftovers(self, keep_log: str) -> list[str]:
        """Remove untagged images of earlier builds (a rebuilt tag leaves its old image and build stage behind),
        keeping every image the build in ``keep_log`` made or reused (the layer cache of the next run)."""
        if self.name != "podman":
            return []
        keep = set(re.findall(r"^--> (?:Using cache )?([0-9a-f]{11})", keep_log, re.M))
        listed = self.run("images", "--quiet", "--no-trunc", "--filter", "dangling=true",
                          "--filter", "label=io.buildah.version").stdout.split()
        gone = [image for image in listed if image.removeprefix("sha256:")[:11] not in keep]
        for image in gone:
            self.run("rmi", image, check=False)
        return gone

    def logs(self, name: str) -> str:
        proc = self.run("logs", name, check=False)
        return proc.stdout + _without_noise(proc.stderr)

    def changes(self, name: str) -> list[str]:
        """What the container changed in its image's filesystem, apart from the mount points the engine made for
        the volumes it was given (a mounted directory and its parents appear as added or changed)."""
        mounts = [m["Destination"] for m in self.inspect(name).get("Mounts") or []]
        engine_made = set(ENGINE_MOUNT_PARENTS)
        for destination in mounts:
            path = Path(destination)
            engine_made |= {str(path), *(str(p) for p in path.parents)}
        out = self.run("diff", name).stdout
        changed = []
        for line in out.splitlines():
            kind, _, path = line.strip().partition(" ")
            if kind in ("A", "C") and path in engine_made:
                continue
            changed.append(line.strip())
        return changed

    def main_pid_rss_bytes(self, name: str) -> int:
        """Resident memory of the container's main process (VmRSS of its host pid)."""
        pid = self.inspect(name)["State"]["Pid"]
        status = Path(f"/proc/{pid}/status").read_text()
        kib = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
        return kib * 1024

    def stop(self, name: str, grace_s: int = STOP_GRACE_S) -> int:
        """SIGTERM, then SIGKILL after the grace period; returns the exit code."""
        self.run("stop", "-t", str(grace_s), name, check=False, timeout=COMMAND_TIMEOUT_S + grace_s)
        return int(self.inspect(name)["State"].get("ExitCode", -1))

    def remove(self, name: str) -> None:
        self.run("rm", "-f", "-t", "5", name, check=False)


def _without_noise(stderr: str) -> str:
    """Podman without systemd logs an error for every healthcheck timer it cannot create; the checks are run by
    the test instead (Engine.healthcheck_once), so those lines say nothing."""
    return "\n".join(line for line in stderr.splitlines() if "unable to get systemd connection" not in line)
