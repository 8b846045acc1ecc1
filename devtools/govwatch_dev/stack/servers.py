"""The three servers of the local stack: how each is provisioned, started and health-checked."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from govwatch.errors import StackError
from govwatch.settings import Settings
from govwatch_dev.stack import procs, provision

ES_ROOT_BASE = Path("/var/lib/govwatch")  # ES's user cannot enter /root, so as root its files live here


def deploy_dir() -> Path:
    """The repository's deploy/ directory (config templates for the servers)."""
    override = os.environ.get("GOVWATCH_DEPLOY_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "deploy"


@dataclass
class Service:
    """A server we start: where its pid, log and health live."""

    name: str
    settings: Settings
    port: int
    port_setting: str

    @property
    def pid_file(self) -> Path:
        return self.settings.cache_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.cache_dir / "logs" / f"{self.name}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    marker = ""  # a word of the server's command line (see procs.read_pid)

    def pid(self) -> int | None:
        return procs.read_pid(self.pid_file, self.marker)

    def provision(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def command(self) -> tuple[list[str], dict[str, str]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def health(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def ports(self) -> list[tuple[int, str]]:
        return [(self.port, self.port_setting)]

    def start(self) -> int:
        for port, setting in self.ports():
            procs.require_free_port(port, self.name, setting)
        cmd, env = self.command()
        pid = procs.spawn(cmd, self.log_file, env=env)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(str(pid))
        return pid

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        procs.stop_pid(pid, self.name)
        self.pid_file.unlink(missing_ok=True)
        return True


class KafkaServer(Service):
    marker = "kafka.Kafka"

    def __init__(self, settings: Settings) -> None:
        super().__init__("kafka", settings, settings.kafka_port, "kafka_port")
        self.home = settings.cache_dir / f"kafka-{settings.kafka_version}"
        self.data_dir = settings.cache_dir / "state" / "kafka-data"
        self.java: Path | None = None

    def ports(self) -> list[tuple[int, str]]:
        return [(self.port, "kafka_port"), (self.settings.kafka_controller_port, "kafka_controller_port")]

    def provision(self) -> None:
        self.java, _ = provision.find_java(self.settings.java_home)
        self.libs = provision.kafka_libs(self.settings.cache_dir, self.settings.kafka_version,
                                         deploy_dir() / "kafka" / "pom.xml")
        template = (deploy_dir() / "kafka" / "server.properties.template").read_text()
        self.config = self.home / "server.properties"
        self.config.write_text(template.format(
            port=self.port, controller_port=self.settings.kafka_controller_port, data_dir=self.data_dir))
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage()

    def _java_base(self) -> list[str]:
        return [str(self.java), "-cp", f"{self.libs}/*",
                f"-Dlog4j2.configurationFile={deploy_dir() / 'kafka' / 'log4j2.xml'}",
                f"-Dkafka.logs.dir={self.log_file.parent / 'kafka'}"]

    def _format_storage(self) -> None:
        """Format KRaft storage exactly once (the broker refuses to start without meta.properties)."""
        tool = [*self._java_base(), "kafka.tools.StorageTool"]
        cluster_id = subprocess.run([*tool, "random-uuid"], capture_output=True, text=True, check=False)
        if cluster_id.returncode != 0:
            raise StackError(f"kafka storage tool failed: {cluster_id.stderr.strip()[-500:]}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fmt = subprocess.run([*tool, "format", "--standalone", "-t", cluster_id.stdout.strip(), "-c", str(self.config)],
                             capture_output=True, text=True, check=False)
        if fmt.returncode != 0:
            raise StackError(f"formatting Kafka storage in {self.data_dir} failed: {(fmt.stdout + fmt.stderr)[-500:]}")

    def command(self) -> tuple[list[str], dict[str, str]]:
        heap = self.settings.kafka_heap
        cmd = [*self._java_base(), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
               "kafka.Kafka", str(self.config)]
        return cmd[:1] + cmd[1:], dict(os.environ)

    def health(self) -> str | None:
        if procs.port_free(self.port):
            return f"nothing listens on {self.address}"
        from govwatch.adapters.kafka_io import broker_health  # late: keeps `stack status` light when Kafka is down

        return broker_health(self.settings.kafka_bootstrap)


class ElasticsearchServer(Service):
    marker = "elasticsearch"

    def __init__(self, settings: Settings) -> None:
        super().__init__("elasticsearch", settings, settings.es_port, "es_port")
        default = ES_ROOT_BASE if os.geteuid() == 0 else settings.cache_dir / "state"
        self.base = settings.es_base_dir or default
        self.home = self.base / f"elasticsearch-{settings.es_version}"
        self.user: pwd.struct_passwd | None = None

    def ports(self) -> list[tuple[int, str]]:
        return [(self.port, "es_port"), (self.settings.es_transport_port, "es_transport_port")]

    def provision(self) -> None:
        self.java, _ = provision.find_java(self.settings.java_home)
        zip_path = provision.elasticsearch_zip(self.settings.cache_dir, self.settings.es_version)
        self.user = provision.ensure_user(self.settings.es_user)
        provision.unpack_elasticsearch(zip_path, self.base, self.settings.es_version)
        data, logs = self.base / "es-data", self.base / "es-logs"
        for d in (data, logs):
            d.mkdir(parents=True, exist_ok=True)
        template = (deploy_dir() / "elasticsearch" / "elasticsearch.yml.template").read_text()
        (self.home / "config" / "elasticsearch.yml").write_text(template.format(
            port=self.port, transport_port=self.settings.es_transport_port, data_dir=data, logs_dir=logs))
        provision.chown_tree(self.base, self.user)

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        env.update({
            "ES_JAVA_HOME": str(provision.java_home_of(self.java)),
            "ES_JAVA_OPTS": f"-Xms{self.settings.es_heap} -Xmx{self.settings.es_heap}",
        })
        cmd = [str(self.home / "bin" / "elasticsearch")]
        if self.user is not None:  # ES refuses to run as root
            cmd = ["runuser", "-u", self.user.pw_name, "--", "env", f"ES_JAVA_HOME={env['ES_JAVA_HOME']}",
                   f"ES_JAVA_OPTS={env['ES_JAVA_OPTS']}", *cmd]
        return cmd, env

    def health(self) -> str | None:
        try:
            resp = httpx.get(f"{self.settings.es_url}/_cluster/health", timeout=2.0)
        except httpx.HTTPError as exc:
            return f"no answer from {self.settings.es_url} ({type(exc).__name__})"
        if resp.status_code != 200:
            return f"/_cluster/health answered {resp.status_code}"
        status = resp.json().get("status")
        return None if status in ("green", "yellow") else f"cluster status {status}"


class PrefectServer(Service):
    marker = "prefect"

    def __init__(self, settings: Settings) -> None:
        super().__init__("prefect", settings, settings.prefect_port, "prefect_port")
        self.home = settings.cache_dir / "state" / "prefect"

    def provision(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update({"PREFECT_HOME": str(self.home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(self.port)})
        return [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                "--port", str(self.port)], env

    def health(self) -> str | None:
        try:
            resp = httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=2.0)
        except httpx.HTTPError as exc:
            return f"no answer on {self.address} ({type(exc).__name__})"
        return None if resp.status_code == 200 else f"/api/health answered {resp.status_code}"


def all_services(settings: Settings) -> list[Service]:
    return [KafkaServer(settings), ElasticsearchServer(settings), PrefectServer(settings)]
