"""``govwatch init``: create topics, the stories index template + alias, the events index and the state indices.

Idempotent; indices made by an older govwatch gain the fields their template now has (additive changes only)."""

from __future__ import annotations

from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from govwatch.adapters import es_io, event_index, kafka_io
from govwatch.adapters.kafka_topics import topic_specs
from govwatch.settings import Settings

STATE_INDICES = ("published", "subscriptions", "alert-ledger", "alert-threads", "web-tokens", "spike-state",
                 "source-health")


def bootstrap(settings: Settings, es: Elasticsearch | None = None) -> list[str]:
    """Bring Kafka and Elasticsearch to the documented layout; returns one line per object."""
    lines = [f"kafka topic {name}: {state}"
             for name, state in kafka_io.ensure_topics(settings, topic_specs(settings.topic_prefix)).items()]
    client = es or es_io.make_client(settings)
    prefix = settings.index_prefix
    template = es_io.load_schema("stories.template.json", prefix)
    state = es_io.ensure_template(client, f"{prefix}-stories", template, replicas=settings.es_replicas)
    lines.append(f"es index template {prefix}-stories: {state}")
    # The current month's index exists up front so the read alias resolves before the first story.
    current = es_io.stories_index_for(prefix, datetime.now(UTC))
    lines.append(f"es index {current} (alias {prefix}-stories): {es_io.ensure_index(client, current, {})}")
    # Monthly indices made under an older template get the fields it lacked (additive mapping changes only).
    mappings = {"mappings": template["template"]["mappings"]}
    for name in sorted(client.indices.get(index=f"{prefix}-stories-*", expand_wildcards="open")):
        state = es_io.ensure_index(client, name, mappings)
        if state != "exists":
            lines.append(f"es index {name}: {state}")
    lines.extend(_events(client, prefix, settings.es_replicas))
    for name in STATE_INDICES:
        body = es_io.load_schema(f"{name}.index.json", prefix)
        body.setdefault("settings", {})["number_of_replicas"] = settings.es_replicas
        lines.append(f"es index {prefix}-{name}: {es_io.ensure_index(client, f'{prefix}-{name}', body)}")
    return lines


def _events(client: Elasticsearch, prefix: str, replicas: int) -> list[str]:
    """The events index template and index (govwatch.adapters.event_index), made up front like the stories'."""
    name = event_index.index_name(prefix)
    lines = [f"es index template {name}: {event_index.ensure_template(client, prefix, replicas)}"]
    template = es_io.load_schema(event_index.TEMPLATE, prefix)["template"]
    lines.append(f"es index {name}: {es_io.ensure_index(client, name, {'mappings': template['mappings']})}")
    return lines


def teardown(
    settings: Settings, es: Elasticsearch | None = None, groups: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Delete everything ``bootstrap`` made under this settings' prefixes (for tests and benchmarks).

    The local stack refuses wildcard deletes (``action.destructive_requires_name``), so indices are
    listed and named one by one. Consumer groups named in ``groups`` (stopped ones) are deleted too;
    others expire with the broker's offsets retention. Returns the deleted index and topic names.
    """
    from govwatch.adapters.kafka_io import admin_client

    client = es or es_io.make_client(settings.es_url)
    prefix = settings.index_prefix
    names = sorted(client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
    if names:
        client.options(ignore_status=404).indices.delete(index=",".join(names))
    for template in (f"{prefix}-stories", event_index.index_name(prefix)):
        client.options(ignore_status=404).indices.delete_index_template(name=template)
    admin = admin_client(settings.kafka_bootstrap)
    try:
        topics = sorted(t for t in admin.list_topics() if t.startswith(f"{settings.topic_prefix}."))
        if topics:
            admin.delete_topics(topics)
        if groups:
            admin.delete_groups(groups)
    finally:
        admin.close()
    return names, topics
