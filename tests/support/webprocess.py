"""``govwatch web`` as its own process and a login flood: now in ``govwatch_dev.chaos.webprocess`` (shared with the
hostile-input suite); re-exported here for the tests."""

from govwatch_dev.chaos.procfs import cpu_seconds
from govwatch_dev.chaos.webprocess import WebProcess, serve_web_process, web_env, wrong_logins

__all__ = ["WebProcess", "cpu_seconds", "serve_web_process", "web_env", "wrong_logins"]
