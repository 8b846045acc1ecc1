"""Long-running Kafka consumer processes, installed as the package ``govwatch_consumers``.

Start one with ``python -m govwatch_consumers.<name>`` (enrich, index, alert, notify), or from a checkout with
``python consumers/<name>.py``; both run the same ``main()``.
"""
