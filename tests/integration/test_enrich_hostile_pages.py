"""The enrich stage on the real broker and ES, with hostile article pages served on 127.0.0.1.

Three hostile pages and two ordinary ones in one batch: the ordinary stories are enriched from their pages,
the hostile ones fall back to the feed's text with the budget they broke in ``fetch_error``, and the batch ends
within its budgets instead of waiting for the hostile servers to give up (two minutes).
"""

from __future__ import annotations

from govwatch.adapters.kafka_topics import ENRICHED, RAW
from govwatch.identity import story_id
from govwatch.models import EnrichedStory
from tests.factories import raw_story
from tests.support.hostile_http import HostileServer
from tests.support.kafka_util import produce, read_all
from tests.support.stages import run_stage_until

NOT_STUCK_S = 60.0  # far above the budgets below, far below the hostile servers' two minutes
HOSTILE_GIVE_UP_S = 120.0


def test_hostile_pages_fall_back_and_ordinary_stories_are_enriched(initialized) -> None:  # noqa: ANN001
    """gzip with an endless trailer, a trickle and an endless body next to two ordinary pages in one batch."""
    settings = initialized.model_copy(update={"http_fetch_deadline_s": 3.0, "http_max_raw_bytes": 1_000_000,
                                              "enrich_fetch_budget_s": 10.0})
    with HostileServer(give_up_s=HOSTILE_GIVE_UP_S) as hostile, HostileServer() as ordinary:
        urls = {"gzip_trailer": hostile.url("gzip_endless_trailer", "a"),
                "trickle": hostile.url("trickle", "b", interval=0.5),
                "endless": hostile.url("endless_plain", "c"),
                "ordinary_1": ordinary.url("ordinary", "d"),
                "ordinary_2": ordinary.url("ordinary", "e")}
        raws = {name: raw_story(name, story_id=story_id(url), url=url, title=f"Feed title {name}",
                                summary=f"Feed summary of {name} about the AI Act.")
                for name, url in urls.items()}
        produce(settings.kafka_bootstrap, settings.topic(RAW),
                [(raw.story_id.encode(), raw.to_bytes()) for raw in raws.values()])
        run_stage_until(settings, "enrich", timeout_s=NOT_STUCK_S, done=lambda: len(
            read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), 5, 2, 0)) >= 5)
    out = {EnrichedStory.from_bytes(r.value).story_id: EnrichedStory.from_bytes(r.value)
           for r in read_all(settings.kafka_bootstrap, settings.topic(ENRICHED), 5)}
    story = {name: out[raw.story_id] for name, raw in raws.items()}
    for name in ("ordinary_1", "ordinary_2", "gzip_trailer"):
        assert story[name].extraction_status == "extracted" and story[name].fetch_error is None, name
        assert "first penalty imposed" in story[name].text
    for name, setting in (("trickle", "GOVWATCH_HTTP_FETCH_DEADLINE_S"), ("endless", "GOVWATCH_HTTP_MAX_RAW_BYTES")):
        assert story[name].extraction_status == "feed_summary", name
        assert story[name].text == f"Feed summary of {name} about the AI Act."
        assert "FetchBudgetExceeded" in (story[name].fetch_error or "") and setting in (story[name].fetch_error or "")
