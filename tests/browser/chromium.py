"""Where the system Chromium is and how it is launched (shared by the test fixtures and the screenshot script)."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("GOVWATCH_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed network refuses
# (and at each start fails to resolve); Playwright gives each launch a new empty --user-data-dir itself.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 20_000  # a readiness wait on a busy 2-core machine, not a speed claim
INSTALL_FIX = ("install the Debian packages chromium and chromium-driver (apt-get install chromium chromium-driver; "
               "./deploy/test.sh does it)")
PIP_FIX = "pip install -c constraints.txt -e '.[test,deploy-test,browser-test]' (./deploy/bootstrap-env.sh does it)"
