"""The deployment files agree with the code: settings they set exist, replicas fit partitions, roles exist."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

from govwatch.adapters.kafka_topics import topic_specs
from govwatch.commands.kibana import KibanaSettings
from govwatch.settings import Settings
from tests.support.containers import chart_grace_s

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "govwatch"
DEPLOY_FILES = [
    REPO / "deploy" / "docker" / "Dockerfile",
    REPO / "deploy" / "compose" / "compose.yaml",
    REPO / "deploy" / "compose" / ".env.example",
    REPO / "deploy" / "compose" / "setup-elasticsearch.sh",
    REPO / "deploy" / "compose" / "make-env.sh",
    *sorted((CHART / "templates").glob("*")),
    CHART / "values.yaml",
    CHART / "ci" / "production-values.yaml",
]
CONSUMER_INPUT = {"enrich": "stories.raw", "index": "stories.enriched", "alert": "stories.indexed", "notify": "alerts"}


def _partitions() -> dict[str, int]:
    return {spec.name.removeprefix("govwatch."): spec.partitions for spec in topic_specs("govwatch")}


def test_every_govwatch_variable_is_a_setting() -> None:
    """Each GOVWATCH_* name in the Dockerfile, compose files and chart is a field of Settings (or KibanaSettings)."""
    known = {f"GOVWATCH_{name.upper()}" for name in Settings.model_fields}
    known |= {f"GOVWATCH_KIBANA_{name.upper()}" for name in KibanaSettings.model_fields}
    known.add("GOVWATCH_IMAGE")  # compose's own variable: which image tag the services run
    used: dict[str, set[str]] = {}
    for path in DEPLOY_FILES:
        for name in re.findall(r"\bGOVWATCH_[A-Z0-9_]+", path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(str(path.relative_to(REPO)))
    assert len(used) > 20
    unknown = {name: sorted(paths) for name, paths in used.items() if name not in known}
    assert unknown == {}, f"not a setting: {unknown}"


def test_chart_partition_limits_match_the_topics() -> None:
    """The chart's replica limits are the partition counts of each consumer's input topic in
    govwatch.adapters.kafka_topics."""
    helper = (CHART / "templates" / "_helpers.tpl").read_text()
    block = re.search(r'define "govwatch.partitions" -}}\s*(\{.*?\})', helper, flags=re.S)
    assert block, "govwatch.partitions helper not found"
    partitions = _partitions()
    assert json.loads(block.group(1)) == {name: partitions[topic] for name, topic in CONSUMER_INPUT.items()}
    assert [partitions[t] for t in CONSUMER_INPUT.values()] == [6, 6, 3, 3]


def test_stop_grace_matches_the_chart() -> None:
    """Compose gives each long-running role the stop grace the chart gives its pod (compose's default is 10 s)."""
    services = yaml.safe_load((REPO / "deploy" / "compose" / "compose.yaml").read_text(encoding="utf-8"))["services"]
    templates = {"poll": "flows.yaml", "digests": "flows.yaml", "spikes": "flows.yaml", "sources": "flows.yaml",
                 "web": "web.yaml",
                 **dict.fromkeys(CONSUMER_INPUT, "consumers.yaml")}
    chart = {name: chart_grace_s(template) for name, template in templates.items()}
    compose = {name: int(str(services[name]["stop_grace_period"]).removesuffix("s")) for name in templates}
    assert compose == chart
    assert chart["poll"] == 60 and chart["enrich"] == 30


def test_default_replicas_fit_partitions() -> None:
    """Replica counts in the chart's values files and the compose .env.example are within the partition counts."""
    partitions = _partitions()
    for values_file in (CHART / "values.yaml", CHART / "ci" / "production-values.yaml"):
        consumers = yaml.safe_load(values_file.read_text())["consumers"]
        for name, topic in CONSUMER_INPUT.items():
            replicas = consumers.get(name, {}).get("replicas", 1)
            assert 1 <= replicas <= partitions[topic], (values_file.name, name, replicas)
    env = dict(re.findall(r"^([A-Z_]+)=(.*)$", (REPO / "deploy" / "compose" / ".env.example").read_text(), re.M))
    for name, topic in CONSUMER_INPUT.items():
        assert 1 <= int(env[f"{name.upper()}_REPLICAS"]) <= partitions[topic], name


def test_role_commands_exist() -> None:
    """Every `python -m X` a deployment file runs names an importable module, every `govwatch X` a CLI command."""
    from govwatch import cli

    subcommands = set(cli.build_parser()._subparsers._group_actions[0].choices)  # argparse has no API for this
    modules, commands = set(), set()
    for path in DEPLOY_FILES:
        text = path.read_text(encoding="utf-8")
        modules |= set(re.findall(r'"-m",\s*"?(govwatch[\w.]*\w)', text))
        modules |= set(re.findall(r"python -m (govwatch[\w.]*\w)", text))
        commands |= set(re.findall(r'"govwatch",\s*"(\w+)"', text))
    assert {"govwatch_consumers.enrich", "govwatch_flows.send_digests", "govwatch_flows.spikes",
            "govwatch_flows.source_health", "govwatch.metrics"} <= modules
    assert {"init", "poll", "kibana"} <= commands
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module
    assert commands <= subcommands, commands - subcommands
