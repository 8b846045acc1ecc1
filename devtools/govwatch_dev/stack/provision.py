"""Downloading the stack's engines from Maven Central, verified, into a cache outside the repo.

Maven does the downloading with ``-C`` (strict checksums): a corrupt or tampered artifact fails the
download instead of being used. Artifacts land in Maven's own cache (~/.m2), the assembled Kafka
classpath and the unpacked Elasticsearch live under ``Settings.cache_dir`` and are reused.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from govwatch.errors import StackError

MIN_JAVA = 17
ES_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"


def find_java(java_home: Path | None) -> tuple[Path, int]:
    """The java binary to use and its major version; fails with the fix when missing or too old."""
    if java_home is not None:
        java = java_home / "bin" / "java"
    else:
        found = shutil.which("java")
        if found is None:
            raise StackError(
                "no Java found: Kafka and Elasticsearch need Java 17 or newer; "
                "install one (e.g. `apt-get install openjdk-17-jdk-headless`) or set GOVWATCH_JAVA_HOME"
            )
        java = Path(found).resolve()
    if not java.exists():
        raise StackError(f"GOVWATCH_JAVA_HOME={java_home} has no bin/java; point it at a JDK 17+ directory")
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise StackError(f"could not read the Java version from `{java} -version`: {out.strip()[:200]}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise StackError(
            f"{java} is Java {major}; Kafka 4 and Elasticsearch 8.19 need Java {MIN_JAVA}+: "
            "install a newer JDK or set GOVWATCH_JAVA_HOME to one"
        )
    return java, major


def java_home_of(java: Path) -> Path:
    """The JDK directory of a java binary (…/bin/java -> …)."""
    return java.parent.parent


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (mvn) is not installed; govwatch uses it to fetch Kafka and Elasticsearch from Maven Central: "
            "`apt-get install maven`"
        )
    return mvn


def _run_mvn(args: list[str], what: str) -> None:
    proc = subprocess.run([_mvn(), "-B", "-q", "-C", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise StackError(
            f"downloading {what} from Maven Central failed (mvn exit {proc.returncode}); check the network "
            f"or proxy settings in ~/.m2/settings.xml, and the version setting. Maven said:\n{tail}"
        )


def kafka_libs(cache_dir: Path, version: str, pom: Path) -> Path:
    """The broker's classpath directory, resolved once with Maven (strict checksums)."""
    libs = cache_dir / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    _run_mvn(
        ["-f", str(pom), "dependency:copy-dependencies", f"-Dkafka.version={version}",
         "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
        f"Apache Kafka {version}",
    )
    if not list(tmp.glob(f"kafka_2.13-{version}.jar")):
        raise StackError(f"Maven resolved no kafka_2.13-{version}.jar; is {version} a published Kafka version?")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.write_text(version)
    return libs


def elasticsearch_zip(cache_dir: Path, version: str) -> Path:
    """The integ-test-zip for ``version``, downloaded once with Maven (strict checksums)."""
    dest = cache_dir / "downloads"
    zip_path = dest / f"elasticsearch-{version}.zip"
    if zip_path.exists():
        return zip_path
    dest.mkdir(parents=True, exist_ok=True)
    _run_mvn(
        ["dependency:copy", f"-Dartifact={ES_ARTIFACT.format(version=version)}", f"-DoutputDirectory={dest}",
         "-Dmdep.stripVersion=false"],
        f"Elasticsearch {version} (integ-test-zip)",
    )
    if not zip_path.exists():
        raise StackError(f"Maven did not produce {zip_path}")
    return zip_path


def ensure_user(name: str) -> pwd.struct_passwd | None:
    """As root, the dedicated system user Elasticsearch runs as (created once); None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    proc = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise StackError(f"could not create the user {name!r} for Elasticsearch: {proc.stderr.strip()}")
    return pwd.getpwnam(name)


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    """Give a directory tree to the Elasticsearch user (no-op when not root)."""
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), user.pw_uid, user.pw_gid)


def unpack_elasticsearch(zip_path: Path, home_parent: Path, version: str) -> Path:
    """Unpack the zip once into ``home_parent/elasticsearch-<version>``; returns that ES home."""
    home = home_parent / f"elasticsearch-{version}"
    if (home / ".complete").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    home_parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(home_parent)
        for info in zf.infolist():  # zipfile drops the exec bits; restore them from the archive
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(home_parent / info.filename, mode)
    if not (home / "bin" / "elasticsearch").exists():
        raise StackError(f"{zip_path} did not unpack to {home}/bin/elasticsearch; delete it and retry")
    (home / ".complete").write_text(version)
    return home
