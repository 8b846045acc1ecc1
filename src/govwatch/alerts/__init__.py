"""Alert delivery: turning ``Alert`` messages into notifications and getting them to their destination.

``slack_format`` is pure (Alert -> Block Kit payload, every untrusted string escaped exactly once),
``slack_send`` is the thin HTTP adapter (rate limit, Retry-After, backoff, errors mapped onto
``govwatch.errors``) and ``slack_receiver`` is a Slack-compatible server for local runs and tests.
"""

__all__: list[str] = []
