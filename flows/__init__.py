"""Prefect entry points, installed as the package ``govwatch_flows`` (``python -m govwatch_flows.poll_feeds``).

Deployments name their flow by module path (``govwatch_flows.poll_feeds.poll_feeds``), so Prefect's runner
re-imports it from an installed wheel as well as from a checkout. The govwatch package never imports these.
"""
