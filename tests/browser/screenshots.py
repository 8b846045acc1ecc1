"""Screenshots of the web app's three main pages for the README, from the real app on the browser tests' data.

    python -m tests.browser.screenshots [--out docs/images]

Needs the local stack (`govwatch stack up`) and Chromium (as the browser tests). Uses indices under a private
prefix, removed again at the end. Writes web-subscriptions-list.png (the list), web-subscriptions.png (the
new-subscription form after Preview over 7 days), web-alerts.png and web-story.png. Look at the images before committing
them.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from govwatch.adapters.bootstrap import bootstrap, teardown
    from govwatch.settings import Settings
    from tests.browser._seed import OWNER, seed
    from tests.browser.webapp_client import start_web_app

    prefix = f"shots{uuid.uuid4().hex[:8]}"
    work = Path(f"/tmp/govwatch-{prefix}")
    settings = Settings(topic_prefix=prefix, index_prefix=prefix, cache_dir=work / "cache")
    args.out.mkdir(parents=True, exist_ok=True)
    bootstrap(settings)
    try:
        data = seed(settings)
        with start_web_app(settings) as app, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
            context.set_default_timeout(DEFAULT_TIMEOUT_MS)
            page = context.new_page()
            page.goto(f"{app.base_url}/login")
            page.get_by_test_id("login-token").fill(app.tokens[OWNER])
            page.get_by_test_id("login-submit").click()
            page.wait_for_url("**/subscriptions")

            page.get_by_test_id("sub-row").first.wait_for()
            page.screenshot(path=args.out / "web-subscriptions-list.png", full_page=True)

            page.goto(f"{app.base_url}/subscriptions/new")
            page.get_by_test_id("sub-name").fill("EU AI Act enforcement")
            page.get_by_test_id("sub-query").fill('"AI Act"')
            page.get_by_test_id("sub-days").fill("7")
            page.get_by_test_id("sub-preview").click()
            page.get_by_test_id("preview-match").first.wait_for()
            page.screenshot(path=args.out / "web-subscriptions.png", full_page=True)

            page.goto(f"{app.base_url}/alerts")
            page.get_by_test_id("alert-row").first.wait_for()
            page.screenshot(path=args.out / "web-alerts.png", full_page=True)

            story_id = next(iter(data.stories))  # story 0: its alert was delivered, and a copy is "also in"
            page.goto(f"{app.base_url}/stories/{story_id}")
            page.get_by_test_id("story-title").wait_for()
            page.screenshot(path=args.out / "web-story.png", full_page=True)
            browser.close()
    finally:
        teardown(settings)
    for name in ("web-subscriptions-list.png", "web-subscriptions.png", "web-alerts.png", "web-story.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
