"""``govwatch web [--host H] [--port P] | hash-token | token create --owner NAME [--admin] | token revoke ID``.

``hash-token`` reads a token on stdin (so it stays out of shell history and ``ps``) and prints the hash for
GOVWATCH_WEB_ADMIN_TOKEN_HASH; it refuses a placeholder or guessable token (the hash is fast: only a random token
makes it safe). ``token create`` prints a new per-user API token once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import sys

from govwatch.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("web", help="the web app for analysts (subscriptions, previews, alerts, stories, /api/v1)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=None, help="port (default: GOVWATCH_WEB_PORT, 8088)")
    p.set_defaults(handler=_run, web_action="serve")
    acts = p.add_subparsers(dest="web_action")
    acts.add_parser("hash-token", help="read a token on stdin, print its salted hash")
    token = acts.add_parser("token", help="per-user API tokens").add_subparsers(dest="token_action", required=True)
    create = token.add_parser("create", help="make a token for an owner; printed once, stored hashed")
    create.add_argument("--owner", required=True)
    create.add_argument("--admin", action="store_true", help="may see and change every owner's subscriptions")
    revoke = token.add_parser("revoke", help="revoke a token by its id (the part after gwt_)")
    revoke.add_argument("token_id")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.web_action == "hash-token":
        from govwatch.web.auth import hash_token
        from govwatch.web.secret_strength import KEY, MAKE_ONE, weakness

        token = sys.stdin.readline().strip()
        if not token:
            print("govwatch: error: no token on stdin (e.g. `echo -n \"$TOKEN\" | govwatch web hash-token`)",
                  file=sys.stderr)
            return 2
        reason = weakness(token, KEY)
        if reason is not None:
            print(f"govwatch: error: that token is guessable ({reason}); make a random one: `{MAKE_ONE}`",
                  file=sys.stderr)
            return 2
        print(hash_token(token))
        return 0
    if args.web_action == "token":
        from govwatch.web.auth import TokenStore
        from govwatch.wiring.clients import elasticsearch

        store = TokenStore(elasticsearch(settings), settings.index("web-tokens"))
        if args.token_action == "create":  # noqa: S105 - a sub-command's name, not a secret
            print(store.create(args.owner, args.admin))
            print(f"(token for {args.owner}{' (admin)' if args.admin else ''}: shown once, stored only as a hash)",
                  file=sys.stderr)
            return 0
        if not store.revoke(args.token_id):
            print(f"govwatch: error: no token with id {args.token_id}", file=sys.stderr)
            return 2
        print(f"revoked {args.token_id} (sessions made with it end within a minute)")
        return 0
    import uvicorn

    from govwatch.web.app import UVICORN_OPTIONS, create_app

    port = args.port or settings.web_port
    uvicorn.run(create_app(settings), host=args.host, port=port, log_level=settings.log_level.lower(),
                access_log=False, **UVICORN_OPTIONS)
    return 0
