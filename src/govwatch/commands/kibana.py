"""``govwatch kibana import | export``: load the dashboards into a Kibana, or write their NDJSON.

The objects are generated for the configured index prefix (``GOVWATCH_INDEX_PREFIX``). Credentials
are read like the other secrets: from ``GOVWATCH_KIBANA_API_KEY`` / ``GOVWATCH_KIBANA_PASSWORD`` (or
``.env``), or with ``-`` from stdin, never echoed; ``--user`` alone is not a secret.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from govwatch.errors import ConfigError
from govwatch.settings import Settings


class KibanaSettings(BaseSettings):
    """Where Kibana is and how to log in (``GOVWATCH_KIBANA_*``); the flags override these."""

    model_config = SettingsConfigDict(env_prefix="GOVWATCH_KIBANA_", env_file=".env", env_file_encoding="utf-8",
                                      frozen=True, extra="ignore")

    url: str | None = Field(None, description="Kibana base URL, e.g. http://127.0.0.1:5601")
    space: str | None = Field(None, description="Kibana space id (default space when unset)")
    api_key: SecretStr | None = Field(None, description="Kibana API key (the encoded form)")
    username: str | None = Field(None, description="Kibana user for basic auth")
    password: SecretStr | None = Field(None, description="Password of GOVWATCH_KIBANA_USERNAME")


def _secret(value: str | None, env: SecretStr | None) -> str | None:
    if value == "-":
        return sys.stdin.readline().strip() or None
    if value is not None:
        return value
    return env.get_secret_value() if env else None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("kibana", help="Kibana data views and dashboards (import into Kibana, or export NDJSON)")
    p.set_defaults(handler=_run)
    acts = p.add_subparsers(dest="action", required=True)
    imp = acts.add_parser("import", help="import the dashboards into Kibana (overwrite: idempotent)")
    imp.add_argument("--url", help="Kibana base URL (default GOVWATCH_KIBANA_URL)")
    imp.add_argument("--space", help="Kibana space id (default: the default space)")
    imp.add_argument("--api-key", help="Kibana API key ('-' reads it from stdin; default GOVWATCH_KIBANA_API_KEY)")
    imp.add_argument("--user", help="user for basic auth (default GOVWATCH_KIBANA_USERNAME)")
    imp.add_argument("--password", help="password ('-' reads it from stdin; default GOVWATCH_KIBANA_PASSWORD)")
    imp.add_argument("--file", type=Path, help="import this NDJSON instead of the generated objects")
    exp = acts.add_parser("export", help="write the saved objects as NDJSON (for Kibana's import screen)")
    exp.add_argument("--out", default="-", help="output file ('-' = stdout, the default)")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch.kibana import import_ndjson, ndjson

    if args.action == "export":
        text = ndjson(settings.index_prefix)
        if args.out == "-":
            sys.stdout.write(text)
        else:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"wrote {text.count(chr(10))} saved objects to {args.out}", file=sys.stderr)
        return 0
    env = KibanaSettings()
    url = args.url or env.url
    if not url:
        raise ConfigError("no Kibana URL: pass --url http://HOST:5601 or set GOVWATCH_KIBANA_URL")
    if args.file is not None and not args.file.is_file():
        raise ConfigError(f"--file {args.file} does not exist: run `govwatch kibana export --out {args.file}` "
                          "or leave --file out to import the generated objects")
    text = args.file.read_text(encoding="utf-8") if args.file is not None else ndjson(settings.index_prefix)
    report = import_ndjson(text, url, args.space or env.space,
                           api_key=_secret(args.api_key, env.api_key), username=args.user or env.username,
                           password=_secret(args.password, env.password))
    for line in report.lines():
        print(line, file=sys.stdout if not line.startswith("error:") else sys.stderr)
    return 0 if report.ok else 1
