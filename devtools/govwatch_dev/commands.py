"""``govwatch stack`` (the local Kafka, Elasticsearch and Prefect) and ``govwatch demo``: the whole pipeline end to end
on the bundled offline news sample (README command 1), then the web app on the result (its URL and a demo admin
token printed) until Ctrl-C. The demo's last lines say where to look: the events pages, the Kibana events dashboard
and the event threads the local Slack-compatible receiver holds. The sample site rebases the sample's dates (its newest
day becomes yesterday) so the recent-only views show it; ``--original-dates`` keeps the real 2023-2025 dates."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from govwatch.settings import Settings
from govwatch_dev import demo
from govwatch_dev.demo_web import DEMO_WEB_PORT

SAMPLE = demo.REPO / "deploy" / "demo"


def _run(args: argparse.Namespace, base: Settings) -> int:
    from govwatch.adapters.bootstrap import bootstrap
    from govwatch_dev.demo_site import DemoSite
    from govwatch_dev.slack_receiver import SlackReceiver
    from govwatch_dev.stack import stack_up

    say = print
    say("==> 1/6 local stack (Kafka, Elasticsearch, Prefect)")
    stack_up(base)
    allow = sorted({*base.ssrf_allowlist, "127.0.0.1/32"})
    hooks = sorted({*base.slack_webhook_hosts, "127.0.0.1"})  # the local Slack receiver
    settings = base.model_copy(update={"ssrf_allowlist": allow, "slack_webhook_hosts": hooks})
    say("==> 2/6 topics and indices")
    bootstrap(settings)
    es = demo.es_client(settings)
    site = DemoSite(SAMPLE, port=args.site_port, rebase=not args.original_dates)
    # Always started: the bot-token subscriptions thread their event alerts on it, whatever the webhook is.
    receiver = SlackReceiver(port=args.slack_port, echo=True).start()
    settings = settings.model_copy(update={"slack_api_base": receiver.api_base})
    work = Path(tempfile.mkdtemp(prefix="govwatch-demo-"))
    log_dir = settings.cache_dir / "logs" / "demo"
    try:
        site_url = site.start()
        registry = site.registry_path(work)
        say(f"==> 3/6 offline news sample served at {site_url} (feeds: {registry})")
        if site.rebase:
            say(f"     dates rebased by {site.offset.days} days: the newest sample story is dated yesterday, so "
                "recent views show the sample (--original-dates keeps the real dates)")
        say(f"     alerts go to the local Slack-compatible receiver at {receiver.base_url} (printed below); "
            "bot-token subscriptions thread each event there")
        if settings.slack_webhook_url is not None:
            webhook = settings.slack_webhook_url.get_secret_value()
            say("     webhook subscriptions post to the Slack webhook in GOVWATCH_SLACK_WEBHOOK_URL")
        else:
            webhook = receiver.webhook_url("T000/B000/govwatch-demo")
        names = demo.ensure_subscriptions(settings, es, SAMPLE / "subscriptions.yaml", webhook)
        say(f"==> 4/6 subscriptions: {', '.join(names)}")
        env = demo.child_env(settings, {"GOVWATCH_FEEDS_FILE": str(registry),
                                        "GOVWATCH_SLACK_API_BASE": receiver.api_base,
                                        "PREFECT_API_URL": settings.prefect_api_url})
        pipeline = demo.Pipeline(settings, env, log_dir)
        pipeline.start()
        say(f"==> 5/6 consumers running: {', '.join(demo.CONSUMERS)} (logs in {log_dir})")
        before = demo.counts(settings, es)
        say("==> 6/6 polling the sample feeds (Prefect flow poll-feeds); alerts print as they arrive")
        summary = demo.poll_once(env, log_dir / "poll.log")
        say("     poll summary:\n" + "\n".join(f"     {line}" for line in summary.splitlines()))
        try:
            final = demo.wait_until_drained(settings, es, pipeline, say, want=demo.all_sent)
        finally:
            pipeline.stop()
        health = demo.source_health_once(env, log_dir / "source-health.log")
        threads = demo.thread_lines(receiver, demo.bot_channels(SAMPLE / "subscriptions.yaml"))
    finally:
        site.stop()
        receiver.stop()
    new = final.delivered - before.delivered
    say("\nSummary")
    say(f"  {final.line()}")
    say(f"  this run: {final.seen - before.seen} new stories, {new} new Slack notifications "
        f"(a second run finds nothing new: ids and the alert ledger are durable)")
    say(f"  Slack threads: {threads[0] if threads else 'no bot-token subscription in the sample'}")
    for line in threads[1:]:
        say(f"                 {line}")
    web_url = f"http://127.0.0.1:{args.web_port}"
    say(f"  Events:        {web_url}/events?days=365   (API {web_url}/api/v1/events; govwatch events list)")
    if site.rebase:
        say("                 the sample spans about two years (rebased to end yesterday): the list shows the last "
            "365 days of it;")
    else:
        say("                 the list shows the last 365 days; the sample keeps its real 2023-2025 dates here;")
    say("                 the widest events, directly:")
    for event in demo.widest_events(settings, es):
        say(f"                 {web_url}/events/{event['event_id']}   {event['outlet_count']} outlets, "
            f"{event['story_count']} stories, {event['first_seen'][:10]}: {event['title'][:70]}")
    say(f"  Sources:       {web_url}/sources   (govwatch sources list; health: {health.splitlines()[-1][:100]})")
    say(f"  Elasticsearch: {settings.es_url}/{settings.index('stories')}/_search, "
        f"{settings.es_url}/{settings.index('events')}/_search")
    say("  Kibana:        govwatch kibana import --url http://127.0.0.1:5601   (a Kibana 8.8+ pointed at this cluster)")
    say('                 dashboards "govwatch: Events" (top events by outlets, events over time),')
    say('                 "govwatch: Coverage", "govwatch: Alerts", "govwatch: Entity drill-down"')
    say(f"  Prefect UI:    {settings.prefect_api_url.removesuffix('/api')}   logs: {log_dir}")
    say("  stop the stack: govwatch stack down   (or ./deploy/demo.sh --down)")
    if args.no_web:
        return 0
    from govwatch_dev.demo_web import DemoWeb

    # /sources lists the sample's feeds
    web = DemoWeb(settings.model_copy(update={"feeds_file": registry}), port=args.web_port)
    say("")
    web.announce(say)
    web.run()  # until Ctrl-C: uvicorn stops serving and returns
    say("web app stopped")
    return 0


def register_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the pipeline end to end on the bundled offline news sample")
    parser.add_argument("--site-port", type=int, default=demo.DEMO_SITE_PORT, help="port of the sample news site")
    parser.add_argument("--slack-port", type=int, default=demo.DEMO_SLACK_PORT, help="port of the Slack receiver")
    parser.add_argument("--web-port", type=int, default=DEMO_WEB_PORT, help="port of the web app served at the end")
    parser.add_argument("--no-web", action="store_true", help="exit after the summary instead of serving the web app")
    parser.add_argument("--original-dates", action="store_true",
                        help="serve the sample's real 2023-2025 dates (default: rebased, newest day = yesterday)")
    parser.set_defaults(handler=_run)


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from govwatch_dev.stack import stack_down, stack_status, stack_up

    if args.action == "up":
        stack_up(settings, only=args.only)
        return 0
    if args.action == "down":
        stack_down(settings)
        return 0
    return 0 if stack_status(settings) else 1


def register_stack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stack = sub.add_parser("stack", help="local Kafka + Elasticsearch + Prefect, no Docker")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.add_argument("--only", action="append", choices=["kafka", "elasticsearch", "prefect"],
                       help="start only this service (repeatable)")
    stack.set_defaults(handler=_stack)
