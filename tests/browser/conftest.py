"""Real headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright for Python.

Playwright's own browser download cannot work here (no route to its host), so it drives the system browser
(`executable_path`); deploy/bootstrap-env.sh installs it for the test command. A missing browser or Playwright fails
the test with the fix (never a skip: a skip would turn a broken CI into a green one).

Every test gets a new browser context (its own cookies and storage) whose console messages, page errors and
dialogs are recorded in ``page.events`` so a test can assert that no injected script ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS, INSTALL_FIX, PIP_FIX


@dataclass
class PageEvents:
    """What the page said on its own: console lines, uncaught errors, dialogs (alert/confirm/prompt) it opened."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test session (the system browser; a missing one is a failure, in CI or not)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: {INSTALL_FIX}", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"Playwright for Python is not installed: {PIP_FIX}", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh context; ``page.events`` records console output, page errors and dismissed dialogs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    tab = context.new_page()
    events = PageEvents()
    tab.on("console", lambda message: events.console.append(message.text))
    tab.on("pageerror", lambda error: events.errors.append(str(error)))

    def _dialog(dialog: Any) -> None:
        events.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", _dialog)
    tab.events = events
    try:
        yield tab
    finally:
        context.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests need the local stack (the app reads the real Elasticsearch): marked like integration tests."""
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
