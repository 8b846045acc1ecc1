"""The hostile-input suite: the real pipeline against a hostile outside world, one table of cases.

    hostile site (pages, feeds) -> poll flow -> enrich -> index -> alert -> notify -> Slack receiver (one bad hook)
    hostile subscriptions (saved through validation, and written straight into the index)
    hostile web requests (brute-force logins, oversized and malformed bodies) against a real ``govwatch web``

Everything runs on the stack it is given (the shared local stack, with a topic and index prefix of its own),
with the real consumer processes and the real poll flow. For each case the suite records what happened to
the hostile item (a clear error, a fallback, a flag) and to the ordinary work beside it (indexed, alerted
once, how late), and the budgets the issue sets: see :data:`govwatch_dev.chaos.hostile_report.GOALS`. The table
is govwatch_dev.chaos.hostile_report, the save-time queries govwatch_dev.chaos.hostile_queries, the web cases
govwatch_dev.chaos.hostile_web.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from govwatch.adapters import es_io, kafka_io
from govwatch.adapters.bootstrap import bootstrap, teardown
from govwatch.adapters.kafka_partition import murmur2
from govwatch.alerts.store import SubscriptionStore
from govwatch.alerts.subscriptions import Destination, Filters, Subscription
from govwatch.identity import story_id
from govwatch.settings import Settings
from govwatch_dev.chaos.hostile_queries import DEEP_QUERY, HUGE_OR_QUERY, save_time_rows
from govwatch_dev.chaos.hostile_report import GOALS, Report, Row, Say
from govwatch_dev.chaos.hostile_site import HOSTILE_FEEDS, HOSTILE_PAGES, MORE_HOSTILE_PAGES, ORDINARY_TEXT, HostileSite
from govwatch_dev.chaos.procfs import vm_hwm_mb
from govwatch_dev.demo import CONSUMERS, INPUT_TOPIC, REPO, Pipeline, child_env
from govwatch_dev.slack_receiver import Fault, ScriptedResponse, SlackReceiver

# govwatch.alerts' partition count (govwatch.adapters.kafka_topics): the ids below share one partition
ALERT_PARTITIONS = 3
BOT_TOKEN = "xoxb-hostile-local"
READY_TIMEOUT_S = 180.0  # consumers joining their groups on a busy 2-core machine
DRAIN_TIMEOUT_S = 300.0
SETTLE_S = 5.0
RECOVERY_TIMEOUT_S = 180.0  # the rate-limited destination's alerts, once it answers again
RETRY_AFTER_S = 60  # what the rate-limited destination answers with, forever
SEND_TIMEOUT_S = 3.0  # the notifier's send timeout in this run; the slow destination answers 2 s after it

HOSTILE_DESTINATIONS = {"rate-limited": "429 forever", "slow": "answers after the send timeout",
                        "drops": "drops the connection"}


def same_partition_ids(prefix: str, count: int, partitions: int = ALERT_PARTITIONS) -> list[str]:
    """``count`` subscription ids whose alerts land on one partition of the alerts topic (key = subscription id)."""
    out: list[str] = []
    n = 0
    while len(out) < count:
        candidate = f"{prefix}-{n}"
        if (murmur2(candidate.encode()) & 0x7FFFFFFF) % partitions == 0:
            out.append(candidate)
        n += 1
    return out


def _seconds(start: str, end: str) -> float:
    """Seconds between two ISO-8601 timestamps as stored in Elasticsearch."""
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


class HostileRun:
    """The whole suite on one stack: :meth:`pipeline_cases`, :meth:`save_time_cases`, :meth:`web_cases`."""

    def __init__(self, base: Settings, work_dir: Path, say: Say = print, now: datetime | None = None,
                 logins: int = 1000, login_window_s: float = 60.0) -> None:
        prefix = f"hostile{uuid.uuid4().hex[:8]}"
        self.settings = base.model_copy(update={"topic_prefix": prefix, "index_prefix": prefix,
                                                "ssrf_allowlist": ["127.0.0.1/32"]})
        self.work_dir = work_dir
        self.say = say
        self.now = now or datetime.now(UTC)
        self.logins = logins
        self.login_window_s = login_window_s
        self.site = HostileSite(self.now)
        self.slack = SlackReceiver()
        self.es = es_io.make_client(self.settings.es_url)
        self.report = Report()
        self.pipeline: Pipeline | None = None
        self.subs: dict[str, Subscription] = {}
        self.paths: dict[str, str] = {}  # subscription key -> webhook path or bot channel

    # --- set-up ------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return child_env(self.settings, {
            "GOVWATCH_FEEDS_FILE": str(self.site.registry(self.work_dir)),
            "GOVWATCH_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap, "GOVWATCH_ES_URL": self.settings.es_url,
            "GOVWATCH_SLACK_API_BASE": self.slack.api_base, "GOVWATCH_SLACK_MIN_INTERVAL_S": "0.1",
            "GOVWATCH_SLACK_WEBHOOK_HOSTS": "127.0.0.1",
            "GOVWATCH_SLACK_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
            "PREFECT_API_URL": self.settings.prefect_api_url, "GOVWATCH_PREFECT_API_URL": self.settings.prefect_api_url,
        })

    def setup(self) -> None:
        bootstrap(self.settings)
        self.site.start()
        self.slack.start()
        store = SubscriptionStore(self.es, self.settings.index("subscriptions"))
        ids = iter(same_partition_ids(f"sub-{self.settings.topic_prefix}", 9))
        either = '"AI Act" OR "facial recognition"'
        specs = [  # key, query, destination kind, how it is written
            ("fines", '"AI Act" AND fines', "webhook", "validated"),
            ("face", '"facial recognition"', "bot", "validated"),
            ("rate-limited", either, "webhook", "validated"),
            ("slow", either, "webhook", "validated"),
            ("drops", either, "webhook", "validated"),
            ("deep", DEEP_QUERY, "webhook", "direct"),
            ("clauses", HUGE_OR_QUERY, "webhook", "direct"),
            ("regex", '"AI Act" OR a/.*/', "webhook", "direct"),
        ]
        for key, query, kind, how in specs:
            if kind == "webhook":
                path = self.paths[key] = f"/services/THOSTILE/B{key}/x"
                dest = Destination(kind="webhook", webhook_url=SecretStr(f"{self.slack.base_url}{path}"))
            else:
                path = self.paths[key] = f"C-hostile-{key}"
                dest = Destination(kind="bot", bot_token=SecretStr(BOT_TOKEN), channel=path)
            sub = Subscription.model_construct(
                id=next(ids), name=f"hostile suite: {key}", query=query, filters=Filters(), destination=dest,
                mode="immediate", paused=False, owner="hostile-suite", allow_expensive=False,
                created_at=self.now, updated_at=self.now)
            if how == "validated":
                self.subs[key] = store.add(Subscription.model_validate(sub.model_dump()))
            else:  # bypasses every check of ours, as a restored snapshot or an older version's data would
                self.es.index(index=self.settings.index("subscriptions"), id=sub.id,
                              document=sub.storage_document(), refresh=True)
                self.subs[key] = sub
        self.slack.script(self.paths["rate-limited"],
                          ScriptedResponse(429, "rate_limited", {"Retry-After": str(RETRY_AFTER_S)}), forever=True)
        # Answers only after the sender gave up (the message *was* posted), and drops the connection unanswered.
        self.slack.fault(self.paths["slow"], Fault(delay_s=SEND_TIMEOUT_S + 2), forever=True)
        self.slack.fault(self.paths["drops"], Fault(drop=True), forever=True)

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
        self.site.stop()
        self.slack.stop()
        try:
            teardown(self.settings, self.es, groups=[f"{self.settings.topic_prefix}.{n}" for n in CONSUMERS])
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the result
            self.say(f"teardown: {type(exc).__name__}: {exc}")

    # --- the pipeline cases ------------------------------------------------------------------------

    def _wait_ready(self, pipeline: Pipeline) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = set(CONSUMERS)
        while waiting:
            pipeline.check()
            for name in list(waiting):
                if '"partitions_assigned"' in (pipeline.log_dir / f"{name}.log").read_text(errors="replace"):
                    waiting.discard(name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumers {sorted(waiting)} never joined their groups; logs in {pipeline.log_dir}")
            time.sleep(0.5)  # readiness poll interval

    def _stories(self) -> dict[str, dict[str, Any]]:
        index = self.settings.index("stories")
        self.es.options(ignore_status=404).indices.refresh(index=index)
        resp = self.es.options(ignore_status=404).search(index=index, size=100, query={"match_all": {}})
        return {h["_id"]: h["_source"] for h in resp.get("hits", {}).get("hits", [])}

    def _deliveries(self) -> Counter:
        found: Counter = Counter()
        for req in self.slack.deliveries:
            key = req.path if req.path.startswith("/services/") else (req.payload or {}).get("channel", "")
            found[key] += 1
        return found

    def _lag(self) -> int:
        return sum(kafka_io.group_lag(self.settings.kafka_bootstrap, f"{self.settings.topic_prefix}.{name}",
                                      self.settings.topic(topic)) for name, topic in INPUT_TOPIC.items())

    def pipeline_cases(self) -> None:
        """Hostile pages, feeds, stored subscriptions and a rate-limited destination, in one real run."""
        env = self.env()
        self.pipeline = Pipeline(self.settings, env, self.work_dir / "logs")
        self.pipeline.start()
        self._wait_ready(self.pipeline)
        self.say("consumers ready; polling the hostile site")
        poll_started = time.time()
        poll = subprocess.run([sys.executable, "-c", "import sys; from govwatch.cli import main; sys.exit(main())",
                               "poll", "--once", "--all"], env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=600)
        poll_s = time.time() - poll_started
        (self.work_dir / "poll.log").write_text(poll.stdout + poll.stderr)
        self.say(f"poll finished in {poll_s:.1f}s (exit {poll.returncode})")
        ordinary_ids = {story_id(self.site.page_url(slug)): slug for slug in ORDINARY_TEXT}
        hostile_ids = {story_id(self.site.page_url(slug)): slug for slug in [*HOSTILE_PAGES, *MORE_HOSTILE_PAGES]}
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            self.pipeline.check()
            docs = self._stories()
            now = (len(docs), sum(self._deliveries().values()), self._lag())
            if now != last:
                self.say(f"  stories indexed {now[0]} | Slack posts {now[1]} | lag {now[2]}")
                last, since = now, time.monotonic()
            if (set(ordinary_ids) | set(hostile_ids)) <= set(docs) and now[2] == 0 \
                    and time.monotonic() - since >= SETTLE_S:
                break
            time.sleep(1.0)
        docs = self._stories()
        enrich_pid = self.pipeline.procs["enrich"].pid
        rss = vm_hwm_mb(enrich_pid) or float("nan")
        self._page_rows(docs, ordinary_ids, hostile_ids, poll_started, rss)
        self._feed_rows(poll, poll_s)
        self._subscription_rows()
        self._destination_rows()
        crashed = [name for name, proc in self.pipeline.procs.items() if proc.poll() is not None]
        peaks = {name: vm_hwm_mb(proc.pid) or float("nan") for name, proc in self.pipeline.procs.items()
                 if name not in crashed}
        self.report.figures["peak_rss_mb"] = {name: round(mb, 1) for name, mb in peaks.items()}
        self.report.rows.append(Row("processes", "all of the above", "-", "consumers alive at the end, peak RSS",
                                    ", ".join(crashed) or "all 4 alive: " + ", ".join(
                                        f"{name} {mb:.0f} MB" for name, mb in peaks.items()),
                                    "no consumer dies", not crashed))

    def _page_rows(self, docs: dict[str, dict[str, Any]], ordinary: dict[str, str], hostile: dict[str, str],
                   poll_started: float, rss_mb: float) -> None:
        del poll_started  # the poll process also starts Prefect and polls the hostile feeds: timed per story instead
        lateness = []
        for sid in ordinary:
            trace = (docs.get(sid) or {}).get("trace", {})
            published, indexed = trace.get("published_to_kafka_at"), trace.get("indexed_at")
            if published and indexed:
                lateness.append(_seconds(published, indexed))
        worst = max(lateness) if len(lateness) == len(ordinary) else None
        self.report.figures.update(indexed_s=worst, enrich_rss_mb=round(rss_mb, 1))
        for sid, slug in hostile.items():
            doc = docs.get(sid) or {}
            status, error = doc.get("extraction_status", "not indexed"), str(doc.get("fetch_error") or "")
            # Read within budget (a gzip stream read to its end and no further) or the feed's text with the reason.
            self.report.rows.append(Row(
                "page", slug, f"{status}: {error[:90]}" if error else status,
                f"ordinary stories indexed {len(lateness)}/{len(ordinary)}",
                ok=bool(doc) and (status == "extracted" or (status.startswith("feed_") and bool(error)))))
        self.report.rows.append(Row(
            "page", "3 hostile of 5 items", "-", "both ordinary stories indexed, from their pages",
            "never" if worst is None else f"{worst:.1f} s from the poll's publish to indexed (worst)",
            f"<= {GOALS['indexed_s']:.0f} s",
            worst is not None and worst <= GOALS["indexed_s"]
            and all(docs[s].get("extraction_status") == "extracted" for s in ordinary), timed=True))
        self.report.rows.append(Row("page", "3 hostile of 5 items", "-", "enrich process peak RSS",
                                    f"{rss_mb:.0f} MB", f"<= {GOALS['enrich_rss_mb']:.0f} MB",
                                    rss_mb <= GOALS["enrich_rss_mb"]))

    def _feed_rows(self, poll: subprocess.CompletedProcess[str], poll_s: float) -> None:
        text = poll.stdout + poll.stderr
        for name in HOSTILE_FEEDS:
            feed_id = f"hostile-feed-{name}"
            said = [line.strip() for line in text.splitlines() if feed_id in line]
            self.report.rows.append(Row("feed", name, (said[0][:110] if said else "not reported"),
                                        "ordinary feed polled in the same run", ok=bool(said)))
        self.report.rows.append(Row("feed", f"{len(HOSTILE_FEEDS)} hostile feeds", "-",
                                    "poll run with every feed, the ordinary one included", f"{poll_s:.1f} s",
                                    "bounded (no hang)", poll.returncode in (0, 1)))

    def _ledger(self, sub_id: str) -> list[dict[str, Any]]:
        index = self.settings.index("alert-ledger")
        self.es.options(ignore_status=404).indices.refresh(index=index)
        resp = self.es.options(ignore_status=404).search(index=index, size=100,
                                                         query={"term": {"subscription_id": sub_id}})
        return [h["_source"] for h in resp.get("hits", {}).get("hits", [])]

    def _subscription_rows(self) -> None:
        posts = self._deliveries()
        for key in ("fines", "face"):
            entries = self._ledger(self.subs[key].id)
            self.report.rows.append(Row(
                "subscription", "1,000-deep, 20,001-clause and regex queries stored beside it", "-",
                f"'{self.subs[key].query}': {len(entries)} alerts, {posts[self.paths[key]]} posts",
                ok=len(entries) > 0 and posts[self.paths[key]] == len(entries)))
        for key, label in (("deep", "1,000-deep query (written to the index directly)"),
                           ("clauses", "20,001-clause query (written to the index directly)"),
                           ("regex", "regular expression, not allowed (written to the index directly)")):
            doc = self.es.get(index=self.settings.index("subscriptions"), id=self.subs[key].id)["_source"]
            flag = doc.get("problem") or doc.get("last_error") or doc.get("error")
            text = json.dumps(flag)[:110] if flag else "not flagged"
            self.report.rows.append(Row("subscription", label, text, "-", ok=bool(flag)))

    def _destination_rows(self) -> None:
        delays = []
        for key in ("fines", "face"):
            for entry in self._ledger(self.subs[key].id):
                produced, delivered = entry.get("produced_at"), entry.get("delivered_at")
                if produced and delivered:
                    delays.append(_seconds(produced, delivered))
        worst = max(delays) if delays else None
        self.report.figures["other_alert_delay_s"] = worst
        self.report.rows.append(Row(
            "destination", f"three bad webhooks: 429 + Retry-After {RETRY_AFTER_S} forever; answers after the "
            f"{SEND_TIMEOUT_S:.0f} s send timeout; drops the connection",
            f"alerts held: {', '.join(f'{k} {len(self._ledger(self.subs[k].id))}' for k in HOSTILE_DESTINATIONS)}",
            "other subscriptions' alerts on the same alerts partition",
            "no alerts" if worst is None else f"{worst:.1f} s produced -> delivered (worst)",
            f"<= {GOALS['other_alert_delay_s']:.0f} s", worst is not None and worst <= GOALS["other_alert_delay_s"],
            timed=True))
        # Nothing lost: the held alerts go out once the destinations answer again (or, past the retry window, are
        # dead-lettered with their reason, never dropped).
        self.slack.unscript(self.paths["rate-limited"])
        for key in ("slow", "drops"):
            self.slack.fault(self.paths[key], Fault(), forever=True)
        started = time.monotonic()
        deadline = started + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            entries = [e for key in HOSTILE_DESTINATIONS for e in self._ledger(self.subs[key].id)]
            if all(e.get("status") in ("delivered", "dead_lettered") for e in entries):
                break
            time.sleep(1.0)
        recovered_s = time.monotonic() - started
        for key, label in HOSTILE_DESTINATIONS.items():
            entries = self._ledger(self.subs[key].id)
            states = Counter(e.get("status") for e in entries)
            per_story = self._posts_per_story(self.paths[key])
            flagged = sum(1 for e in entries if e.get("possible_duplicate"))
            # At least once for webhooks: a story posted more than once must be marked possible_duplicate.
            unmarked = sum(1 for e in entries if per_story[e.get("story_id")] > 1 and not e.get("possible_duplicate"))
            self.report.rows.append(Row(
                "destination", f"{label}, answering again",
                f"{states['delivered']} of {len(entries)} held alerts delivered ({sum(per_story.values())} posts, "
                f"{flagged} marked possible_duplicate, {unmarked} repeated unmarked), "
                f"{states['dead_lettered']} dead-lettered", "-",
                f"{recovered_s:.0f} s after recovery", "each delivered or dead-lettered; a repeat only when marked",
                bool(entries) and states["delivered"] + states["dead_lettered"] == len(entries) and unmarked == 0))

    def _posts_per_story(self, path: str) -> Counter:
        """Posts a webhook path received, per story id (from the story link in each message)."""
        found: Counter = Counter()
        for req in self.slack.deliveries:
            if req.path != path:
                continue
            text = json.dumps(req.payload)
            start = text.find("<http") + 1
            if start:
                found[story_id(text[start:text.find("|", start)])] += 1
        return found

    # --- save-time and web cases -------------------------------------------------------------------

    def save_time_cases(self) -> None:
        """Hostile queries offered through the same validation the CLI and the web app use."""
        self.report.rows.extend(save_time_rows(self.es, self.settings.index("stories")))

    def web_cases(self) -> None:
        from govwatch_dev.chaos.hostile_web import web_cases

        self.report.rows.extend(web_cases(self.settings, self.work_dir / "web", self.say, self.logins,
                                          self.login_window_s, self.report.figures))


def run_all(base: Settings, work_dir: Path, say: Say = print, *, logins: int = 1000, window_s: float = 60.0,
            now: datetime | None = None) -> Report:
    """Every case on one stack; a case group that raises is a failed row with the error, and the rest still run."""
    run = HostileRun(base, work_dir, say, now=now, logins=logins, login_window_s=window_s)
    try:
        run.setup()
        for name, group in (("query at save", run.save_time_cases), ("pipeline", run.pipeline_cases),
                            ("web", run.web_cases)):
            try:
                group()
            except Exception as exc:  # noqa: BLE001 - the table must say which group broke, and how
                say(f"{name}: {type(exc).__name__}: {exc}")
                run.report.rows.append(Row(name, "(the whole group)", f"raised {type(exc).__name__}: {exc}"[:200],
                                           "-", ok=False))
    finally:
        run.close()
    return run.report


__all__ = ["HostileRun", "run_all"]
