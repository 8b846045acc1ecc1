"""The people-facing side of events without engines: id checks, the CLI's arguments, and hostile feed text on the
events pages (rendered by the app's own Jinja environment)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

import pytest

from govwatch.adapters.event_index import is_event_id
from govwatch.cli import build_parser
from govwatch.commands.events import _limit, _since
from govwatch.web.events import Coverage, EventView
from govwatch.web.render import make_environment, render

EVENT = "ab" * 32
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'


def test_event_ids_are_64_lowercase_hex_characters() -> None:
    """Only the shape of a story id passes: no upper case, other lengths, paths, or a trailing newline."""
    assert is_event_id(EVENT)
    for bad in ("", "AB" * 32, EVENT + "a", EVENT[:-1], "../" + EVENT[3:], EVENT + "\n", EVENT[:-1] + "g"):
        assert not is_event_id(bad), bad


def test_cli_since_takes_relative_or_zoned_times_and_limit_is_bounded() -> None:
    """--since 7d/12h or an ISO time with a zone; a naive time or words are refused; --limit is 1-200."""
    assert _since("2026-11-01T00:00Z") == datetime(2026, 11, 1, tzinfo=UTC)
    assert (datetime.now(UTC) - _since("7d")).days in (6, 7)
    for bad in ("2026-11-01T00:00", "yesterday", "7w"):
        with pytest.raises(argparse.ArgumentTypeError):
            _since(bad)
    assert _limit("200") == 200
    for bad in ("0", "201", "-1", "ten"):
        with pytest.raises(argparse.ArgumentTypeError):
            _limit(bad)
    args = build_parser().parse_args(["events", "show", EVENT])
    assert args.event_id == EVENT


def test_hostile_titles_outlets_and_links_render_as_text_on_the_events_pages() -> None:
    """Markup in a title, an outlet or an entity name is escaped, and a javascript: story link is not a link."""
    story = Coverage(story_id=EVENT, title=HOSTILE, outlet=HOSTILE, language="en", published="2026-11-02T08:00:00Z",
                     url="javascript:alert(1)", first_report=True, indexed=True)
    view = EventView(event_id=EVENT, title=HOSTILE, first_seen="2026-11-02T08:00:00Z",
                     last_seen="2026-11-02T08:00:00Z", story_count=1, outlet_count=1, outlets=[HOSTILE],
                     languages=["en"], entities=[{"id": "x", "name": HOSTILE, "type": "org"}],
                     topics=[{"id": "t", "label": HOSTILE}], coverage=[story])
    env = make_environment()
    pages = [render(env, "event.html", event=view, principal=None, csrf="", done=None),
             render(env, "events.html", rows=[view], days=30, day_choices=(30,), order="outlets",
                    orders=["outlets"], principal=None, csrf="", done=None)]
    for html in pages:
        assert "<script>window" not in html and "<img src=x" not in html
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
        assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", html, re.I)
