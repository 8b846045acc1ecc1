"""The faults, one scenario each, and the table that reports them.

A scenario is a function of a running :class:`~govwatch_dev.chaos.harness.ChaosRun`: it injects its faults
while stories are being released and returns once the last fault is over (setting ``run.fault_end``).
Recovery times are read from the consumers' logs: seconds from a restart (of a consumer after kill -9,
or of the broker once healthy) to that stage's first finished batch, counted only where work was waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from govwatch.adapters import kafka_io
from govwatch_dev.chaos.harness import ChaosRun, Result
from govwatch_dev.demo import CONSUMERS, INPUT_TOPIC

BROKER_DOWN_S = 20.0
ES_DOWN_S = 60.0
SLACK_FAULT_S = 30.0
RECOVERY_GOAL_S = 15.0
RESTART_WAIT_S = 120.0  # a restarted consumer still alive without partitions / a batch after this: a miss


@dataclass(frozen=True)
class Params:
    kills: int = 20  # SIGKILLs in the consumer-kill scenario
    broker_down_s: float = BROKER_DOWN_S
    es_down_s: float = ES_DOWN_S
    slack_fault_s: float = SLACK_FAULT_S
    event_kills: int = 4  # SIGKILLs of the alerter and the notifier (alternately) in the event scenario


def _stage_lag(run: ChaosRun, name: str) -> int:
    try:
        return kafka_io.group_lag(run.settings.kafka_bootstrap, f"{run.settings.topic_prefix}.{name}",
                                  run.settings.topic(INPUT_TOPIC[name]))
    except Exception:  # noqa: BLE001 - a failed probe counts as "unknown", never as "no work"
        return -1


def _record(run: ChaosRun, key: str, seconds: float | None) -> None:
    run.result.recovery.setdefault(key, []).append(round(seconds, 1) if seconds is not None else float("nan"))


def consumer_kill(run: ChaosRun, p: Params) -> None:
    """SIGKILL a random consumer or the running poll flow ``p.kills`` times at random moments; restart each."""
    assert run.workers is not None
    targets = [*CONSUMERS, "poll"]
    gap = run.release_s / (p.kills + 1)
    restarts = []
    for _ in range(p.kills):
        run.watch(run.rng.uniform(0.5, 1.5) * gap)
        name = run.rng.choice(targets)
        run.workers.kill(name)
        if name != "poll":
            inc = run.workers.alive[name]
            restarts.append((name, inc, _stage_lag(run, name)))
    run.fault_end = time.monotonic()
    run.watch(5.0)
    _recovery_after_restarts(run, restarts)


def _recovery_after_restarts(run: ChaosRun, restarts: list) -> None:
    """Seconds from each restarted consumer's start to its partitions (every restart) and to its first batch (where
    lag was waiting), read from that incarnation's own log. An incarnation killed again before it got there gives
    no figure and is no miss (``superseded``); one still alive without it after RESTART_WAIT_S is a miss."""
    run.result.notes.append("first batch: restarts that found work waiting; partitions: every restart")
    assert run.workers is not None
    pending = [("consumer restart -> partitions assigned", inc, "partitions_assigned") for _, inc, _ in restarts]
    pending += [("consumer restart -> first batch", inc, "batch_done") for _, inc, lag in restarts if lag != 0]
    deadline = time.monotonic() + RESTART_WAIT_S
    while True:
        still = []
        for key, inc, event in pending:
            dead = inc.proc.poll() is not None  # read before the log: a line logged before death still counts
            at = run.workers.first_in_log(inc, event)
            if at is not None:
                _record(run, key, at - inc.started_wall)
            elif dead:
                run.result.superseded[key] = run.result.superseded.get(key, 0) + 1
            else:
                still.append((key, inc, event))
        pending = still
        if not pending or time.monotonic() >= deadline:
            break
        run.watch(1.0)
    for key, _, _ in pending:
        _record(run, key, None)


def broker_bounce(run: ChaosRun, p: Params) -> None:
    """kill -9 the broker while stories flow, restart it after ``p.broker_down_s``."""
    run.watch(run.release_s * 0.35)
    run.stack.kill(run.stack.kafka)
    run.say(f"[{run.scenario}] broker killed; down for {p.broker_down_s:.0f}s")
    run.watch(p.broker_down_s)
    took = run.stack.restart(run.stack.kafka)
    healthy = time.time()
    run.fault_end = time.monotonic()
    run.say(f"[{run.scenario}] broker back (healthy after {took:.1f}s)")
    run.watch(5.0)
    _recovery_after_broker(run, healthy)


def _recovery_after_broker(run: ChaosRun, healthy_wall: float) -> None:
    """Seconds from the restarted broker being healthy to each stage's first finished batch."""
    assert run.workers is not None
    deadline = time.monotonic() + 120
    waiting = {name for name in CONSUMERS if name != "notify"}  # notify only has work when alerts are due
    if _stage_lag(run, "notify") != 0:
        waiting.add("notify")
    got: dict[str, float] = {}
    while waiting - set(got) and time.monotonic() < deadline:
        for name in waiting - set(got):
            first = run.workers.first_batch_after(name, healthy_wall)
            if first is not None:
                got[name] = first - healthy_wall
        run.watch(1.0)
    for name in sorted(waiting):
        _record(run, f"broker healthy -> {name} batch", got.get(name))
    if got:
        _record(run, "broker healthy -> full flow", max(got.values()) if len(got) == len(waiting) else None)


def _es_fault(run: ChaosRun, p: Params, kill: bool) -> None:
    run.watch(run.release_s * 0.35)
    svc = run.stack.es
    if kill:
        run.stack.kill(svc)
    else:
        run.stack.pause(svc)
    run.say(f"[{run.scenario}] Elasticsearch {'killed' if kill else 'stopped (SIGSTOP)'} for {p.es_down_s:.0f}s")
    run.watch(p.es_down_s)
    if kill:
        took = run.stack.restart(svc)
        run.say(f"[{run.scenario}] Elasticsearch restarted (healthy after {took:.1f}s)")
    else:
        run.stack.resume(svc)
        run.say(f"[{run.scenario}] Elasticsearch resumed (SIGCONT)")
    run.fault_end = time.monotonic()


def _slack_fault(run: ChaosRun, p: Params, mode: str) -> None:
    _wait_for_alerts(run)
    run.slack.set_mode(mode)
    run.say(f"[{run.scenario}] Slack fault {mode!r} for {p.slack_fault_s:.0f}s")
    run.watch(p.slack_fault_s)
    run.slack.set_mode(None)
    run.fault_end = time.monotonic()


def _wait_for_alerts(run: ChaosRun, limit_s: float = 240.0) -> None:
    """Until Slack saw its first request (so the fault hits alerts in flight)."""
    deadline = time.monotonic() + limit_s
    while run.slack.arrivals == 0 and time.monotonic() < deadline:
        run.watch(0.5)


def notify_kill_slow(run: ChaosRun, p: Params) -> None:
    """Slack answers only after the sender's timeout; the notifier is killed while it waits, three times."""
    assert run.workers is not None
    _wait_for_alerts(run)
    run.slack.set_mode("slow")
    run.say(f"[{run.scenario}] Slack slow; killing the notifier mid-request")
    for _ in range(3):
        seen = run.slack.arrivals
        deadline = time.monotonic() + 60
        while run.slack.arrivals == seen and time.monotonic() < deadline:
            run.watch(0.2)
        run.watch(2.0)  # the request is in flight: the receiver answers only after the timeout
        run.workers.kill("notify")
    run.watch(5.0)
    run.slack.set_mode(None)
    run.fault_end = time.monotonic()


def event_kill(run: ChaosRun, p: Params) -> None:
    """Alerts per event: once the first alerts reach Slack, the notifier and the alerter are SIGKILLed alternately
    ``p.event_kills`` times while the event's coverage is still arriving (each restarted at once). The figures then
    count per (subscription, event, story), and each (subscription, event) must have exactly one top-level post."""
    assert run.workers is not None
    _wait_for_alerts(run)
    restarts = []
    for n in range(p.event_kills):
        run.watch(run.rng.uniform(0.5, 1.5) * run.release_s * 0.5 / p.event_kills)
        name = ("notify", "alert")[n % 2]
        run.workers.kill(name)
        restarts.append((name, run.workers.alive[name], _stage_lag(run, name)))
    run.fault_end = time.monotonic()
    run.watch(3.0)
    _recovery_after_restarts(run, restarts)


def short(run: ChaosRun, p: Params) -> None:
    """The test suite's variant: ``p.kills`` SIGKILLs in the first part of the release, then one broker bounce."""
    assert run.workers is not None
    targets = [*CONSUMERS, "poll"]
    restarts = []
    # distinct targets while they last, so a few kills still reach different processes
    order = run.rng.sample(targets, len(targets)) * (p.kills // len(targets) + 1)
    for name in order[: p.kills]:
        run.watch(run.rng.uniform(0.5, 1.5) * run.release_s * 0.4 / p.kills)
        run.workers.kill(name)
        if name != "poll":
            restarts.append((name, run.workers.alive[name], _stage_lag(run, name)))
    run.stack.kill(run.stack.kafka)
    run.say(f"[{run.scenario}] broker killed; down for {p.broker_down_s:.0f}s")
    run.watch(p.broker_down_s)
    run.stack.restart(run.stack.kafka)
    healthy = time.time()
    run.fault_end = time.monotonic()
    run.watch(3.0)
    _recovery_after_restarts(run, restarts)
    _recovery_after_broker(run, healthy)


def _none(run: ChaosRun, p: Params) -> None:
    run.watch(run.release_s)


SCENARIOS: dict[str, Callable[[ChaosRun, Params], None]] = {
    "baseline": _none,
    "short": short,
    "consumer-kill": consumer_kill,
    "broker-bounce": broker_bounce,
    "es-pause": lambda run, p: _es_fault(run, p, kill=False),
    "es-kill": lambda run, p: _es_fault(run, p, kill=True),
    "slack-500": lambda run, p: _slack_fault(run, p, "500"),
    "slack-drop": lambda run, p: _slack_fault(run, p, "drop"),
    "slack-429": lambda run, p: _slack_fault(run, p, "429"),
    "slack-slow": lambda run, p: _slack_fault(run, p, "slow"),
    "notify-kill-slow": notify_kill_slow,
    "event-kill": event_kill,
}


def table(results: list[Result]) -> str:
    """The per-scenario figures as a fixed-width table, then details (dead letters, recovery, crashes)."""
    head = (f"{'scenario':<17}{'released':>9}{'publ':>6}{'indexed':>8}{'lost':>5}{'docs':>6}{'dupdoc':>7}"
            f"{'pairs':>6}{'posted':>7}{'dupbot':>7}{'dupwh':>6}{'miss':>5}{'extra':>6}{'drain s':>8}  ok")
    lines = [head, "-" * len(head)]
    for r in results:
        drain = f"{r.drain_s:.1f}" if r.drain_s is not None else "HUNG"
        lines.append(f"{r.scenario:<17}{r.released:>9}{r.published:>6}{r.indexed:>8}{r.lost:>5}{r.docs:>6}"
                     f"{r.dup_docs:>7}{r.expected_pairs:>6}{r.posted:>7}{r.dup_posts_bot:>7}{r.dup_posts_webhook:>6}"
                     f"{r.missing:>5}{r.extra:>6}{drain:>8}  {'yes' if r.ok() else 'NO'}"
                     + (f"  bad threads {r.bad_threads}" if r.bad_threads else ""))
    for r in results:
        lines.append(f"\n{r.scenario}: indices {', '.join(r.indices) or '-'}; kills {r.kills or '-'}")
        for reason, n in sorted(r.dead_letters.items()):
            lines.append(f"  dead letters {n:>4}  {reason}")
        if r.event_pairs:
            lines.append(f"  events: news events released {r.news_events}, distinct event ids among matching stories "
                         f"{r.distinct_events} ({'equal' if r.distinct_events == r.news_events else 'NOT equal'}); "
                         f"(subscription, event) pairs {r.event_pairs}, top-level posts {r.top_level_posts}, pairs "
                         f"without exactly one {r.pairs_not_one}, misthreaded replies {r.misthreaded}")
        for key in [*r.recovery, *(k for k in r.superseded if k not in r.recovery)]:
            lines.append(f"  recovery {key}: {_recovery_line(r.recovery.get(key, []), r.superseded.get(key, 0))}")
        for c in r.crashed:
            lines.append(f"  crashed: {c}")
        for h in r.hung:
            lines.append(f"  HUNG: {h}")
        if r.lost_examples:
            lines.append(f"  lost e.g.: {', '.join(r.lost_examples)}")
        if r.missing_examples:
            lines.append(f"  missing alerts e.g.: {', '.join(r.missing_examples)}")
        for note in r.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines)


def _recovery_line(values: list[float], superseded: int) -> str:
    """One recovery figure: the measured seconds ("never": not within the 120 s wait), the verdict
    against the goal, and how many incarnations were killed again before they got there (not counted)."""
    shown = f"{', '.join('never' if v != v else f'{v:.1f}' for v in values)} s" if values else "no figure"
    measured = [v for v in values if v == v]
    if len(measured) < len(values):
        verdict = f" (goal <= {RECOVERY_GOAL_S:.0f} s NOT met: {len(values) - len(measured)} never)"
    elif measured:
        verdict = f" (goal <= {RECOVERY_GOAL_S:.0f} s {'met' if max(measured) <= RECOVERY_GOAL_S else 'NOT met'})"
    else:
        verdict = ""
    killed = f"; {superseded} killed again before it, not counted" if superseded else ""
    return f"{shown}{verdict}{killed}"
