"""The sub-commands of ``govwatch`` beyond ``init``: one module each, with a ``register(subparsers)`` function that
:mod:`govwatch.cli` calls. No module here registers itself on import."""
