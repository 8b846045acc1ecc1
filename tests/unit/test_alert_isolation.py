"""One subscription's query can fail only itself: pre-filter, candidate index, cache, matcher and save-time checks.

Pure logic with fakes in place of Elasticsearch (the real-stack versions are in tests/integration/test_alert_stage.py
and test_subscriptions.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from govwatch.alerts import match_plan, match_search, matcher
from govwatch.alerts.candidates import CandidateIndex
from govwatch.alerts.match_result import MatchStats
from govwatch.alerts.match_search import which_match
from govwatch.alerts.matcher import local_snippets
from govwatch.alerts.prefilter import requirement
from govwatch.alerts.query import QueryLimits, cost_problems, limit_problems, policy_problems
from govwatch.alerts.subscription_service import CLI, Actor, SubscriptionService
from govwatch.alerts.subscriptions import Destination, Filters, MatchingView, Subscription
from govwatch.errors import InvalidQuery, TransientError
from govwatch.settings import Settings
from govwatch.stages.alerter import SubscriptionCache

DEEP = "(" * 1000 + "ai" + ")" * 1000  # the hostile query: 2,002 characters


def view(sid: str, query: str, allow_expensive: bool = False) -> MatchingView:
    return MatchingView(sid, sid, query, Filters(), "immediate", False, allow_expensive)


# --- pre-filter and candidate index: never raise, never recurse without bound ---------------------------------------

def test_deep_query_gives_may_match_instead_of_recursion_error() -> None:
    """A 1,000-deep query is "may match" (None), not a RecursionError that stops every subscription's matching."""
    assert requirement(DEEP) is None
    assert requirement("((ai))") == "ai"  # shallow nesting is still reasoned about


def test_candidate_index_puts_an_unwalkable_requirement_in_always() -> None:
    """A requirement too deep to walk (built by hand: the parser never makes one) is checked on every batch."""
    deep: Any = "ai"
    for _ in range(5000):
        deep = ("all", (deep, "act"))
    index = CandidateIndex.of([deep, "ofcom"])
    assert index.always == (0,) and index.woken({"ofcom"}) == [0, 1]


# --- the expensive-query guard ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["a/.*/", "NOT/.*/", "title:a/.*/", "(/x/)", "ai AND /re.x/", "-/x/"])
def test_every_regex_form_is_expensive(query: str) -> None:
    """Any unescaped '/' outside a phrase or range starts a regex in Lucene's classic parser, wherever it stands."""
    problems = cost_problems(query)
    assert len(problems) == 1 and problems[0].startswith("regular expression"), problems


@pytest.mark.parametrize("query", ["*act", "title:*act", "-?ct", "(*act)", "ai OR +*act", "ai AND NOT *act"])
def test_leading_wildcards_after_any_operator_field_or_paren(query: str) -> None:
    """A term starting with * or ? is a leading wildcard whatever ends the token before it."""
    assert [p.split(" ")[0:2] for p in cost_problems(query)] == [["leading", "wildcard"]]


@pytest.mark.parametrize("query", ['"a/b" AND c', "date:[* TO 2020]", r"a\/b", "regulat*", "*", "*:*", "fine~2",
                                   '"ai act"~3 AND ofcom^2', "ai-*act", "ai-act"])
def test_cheap_forms_are_not_refused(query: str) -> None:
    """Slashes in phrases or escaped, range bounds, trailing wildcards, match-all, fuzzy terms and boosts are cheap."""
    assert cost_problems(query) == []


def test_limits_name_the_limit_and_the_fix() -> None:
    """Length, nesting and term count over the limits are refused in plain words that say what to change."""
    limits = QueryLimits(max_chars=2000, max_depth=20, max_clauses=150)
    problems = limit_problems(DEEP, limits)
    assert any("2002 characters long, over the limit of 2000" in p for p in problems)
    assert any("nested 1000 deep, over the limit of 20" in p and "remove the redundant" in p for p in problems)
    many = " OR ".join(f"w{i}" for i in range(151))
    assert limit_problems(many, limits) == [
        "query has 151 terms, over the limit of 150 (each is searched in every default field): split it into "
        "several subscriptions or use filters"]
    assert limit_problems("(" * 20 + "ai" + ")" * 20, limits) == []
    assert policy_problems("a/.*/", True, limits) == [] and policy_problems("a/.*/", False, limits)


def test_non_admin_cannot_allow_an_expensive_query() -> None:
    """A web/API user's allow_expensive is ignored: the regex is refused with a message saying only an admin may."""
    service = SubscriptionService(es=None, settings=Settings(), store=None, ledger=None, slack=None)  # type: ignore[arg-type] - refused before any search
    sub = Subscription(name="x", query="a/.*/", allow_expensive=True,
                       destination=Destination(kind="webhook", webhook_url="https://hooks.slack.com/services/T/B/X"))
    with pytest.raises(InvalidQuery, match="only an administrator can allow an expensive query"):
        service.create(Actor(owner="mallory"), sub)
    with pytest.raises(InvalidQuery, match="only an administrator"):
        service.check("title:a/.*/", Filters(), allow_expensive=True, actor=Actor(owner="mallory"))
    with pytest.raises(InvalidQuery, match="only an administrator"):
        service.preview("NOT/.*/", Filters(), allow_expensive=True, actor=None)
    with pytest.raises(InvalidQuery, match="nested 1000 deep"):
        service.check(DEEP, Filters(), actor=CLI)  # the CLI may allow expensive forms, never exceed the limits


# --- the subscription cache -----------------------------------------------------------------------------------------

class FlakyStore:
    """A subscriptions store whose first ``fail`` reads raise (Elasticsearch away), then answer ``docs``."""

    def __init__(self, docs: list[dict[str, Any]], fail: int = 1) -> None:
        self.docs = docs
        self.fail = fail

    def fingerprint(self) -> tuple[Any, ...]:
        return (len(self.docs),)

    def active_for_matching(self, broken: dict[str, str] | None = None) -> list[MatchingView]:
        if self.fail:
            self.fail -= 1
            raise TransientError("Elasticsearch unreachable")
        out = []
        for doc in self.docs:
            try:
                out.append(MatchingView.from_document(doc))
            except Exception as exc:  # noqa: BLE001 - as the real store does with ``broken``
                assert broken is not None
                broken[str(doc.get("id"))] = str(exc)
        return out


def doc(sid: str, query: str) -> dict[str, Any]:
    return {"id": sid, "name": sid, "query": query, "filters": {}, "mode": "immediate", "paused": False}


def test_failed_read_is_retried_not_served_as_a_fresh_empty_list() -> None:
    """A re-read that raises leaves nothing marked fresh: the next call reads again (it used to serve [] for ttl_s)."""
    now = [0.0]
    cache = SubscriptionCache(FlakyStore([doc("s1", '"AI Act" AND fine')]), ttl_s=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    with pytest.raises(TransientError):
        cache.current()
    now[0] = 1.0  # well within ttl_s of the failed attempt
    subs, index = cache.current()
    assert [s.id for s in subs] == ["s1"] and index.size == 1


def test_cache_leaves_out_and_reports_hostile_and_broken_subscriptions() -> None:
    """Over-limit, unpermitted-expensive and unreadable stored subscriptions are left out and reported, the rest run."""
    store = FlakyStore([doc("ok", "ofcom"), doc("deep", DEEP), doc("regex", "a/.*/"), {"id": "broken", "query": "x"}],
                       fail=0)
    cache = SubscriptionCache(store, ttl_s=0.0)  # type: ignore[arg-type]
    subs, _ = cache.current()
    assert [s.id for s in subs] == ["ok"]
    assert set(cache.refused) == {"deep", "regex", "broken"}
    assert cache.refused["deep"][0] == "limits" and "nested 1000 deep" in cache.refused["deep"][1]
    assert "regular expression" in cache.refused["regex"][1] and cache.refused["broken"][0] == "document"


# --- the matcher ----------------------------------------------------------------------------------------------------

class TimingOutES:
    """An Elasticsearch stand-in for _msearch: a bucket search holding a ``slow`` subscription times out."""

    def __init__(self, slow: set[str], error_status: int | None = None) -> None:
        self.slow = slow
        self.error_status = error_status  # answer with this error instead of timed_out
        self.bodies: list[dict[str, Any]] = []

    def options(self, **_: object) -> TimingOutES:
        return self

    def msearch(self, searches: list[dict[str, Any]]) -> dict[str, Any]:
        responses = []
        for body in searches[1::2]:
            self.bodies.append(body)
            names = set(body["aggs"]["m"]["filters"]["filters"])
            partial = bool(names & self.slow)
            buckets = {n: {"doc_count": 1, "s": {"buckets": [{"key": "story-1", "doc_count": 1}]}}
                       for n in names if not partial}
            if partial and self.error_status is not None:
                responses.append({"status": self.error_status, "error": {"type": "stack_overflow", "reason": "boom"}})
                continue
            responses.append({"timed_out": partial, "_shards": {"failed": 0},
                              "aggregations": {"m": {"buckets": buckets}}})
        return {"responses": responses}


def test_timed_out_search_is_split_retried_then_a_fault_never_a_no_match() -> None:
    """A timed-out combined search is split; the slow subscription gets one more try alone, then is a fault; the
    others' matches are all found, and every body carries the Elasticsearch timeout."""
    subs = [view(f"s{i}", f"w{i}") for i in range(8)]
    es = TimingOutES({"s5"})
    match_search._SOLO.clear()
    stats = MatchStats()
    found = which_match(es, "alias", [(s, ["story-1"]) for s in subs], ["story-1"], stats, timeout_s=2.0)  # type: ignore[arg-type]
    assert sorted(found) == [f"s{i}" for i in range(8) if i != 5]
    assert [(f.subscription_id, f.stage) for f in stats.faults] == [("s5", "timeout")]
    assert all(b["timeout"] == "2000ms" for b in es.bodies)
    alone = [b for b in es.bodies if list(b["aggs"]["m"]["filters"]["filters"]) == ["s5"]]
    assert len(alone) == 2  # one more try alone before the fault
    match_search._SOLO.clear()


@pytest.mark.parametrize(("status", "raises"), [(500, False), (503, True), (429, True)])
def test_a_5xx_for_one_subscription_is_its_fault_but_busy_or_unavailable_retries(status: int, raises: bool) -> None:
    """A 500 on the search holding one query (others answered) is split down to it, retried once alone, then its
    fault; a 429 (busy) or 503 (shards unavailable) is nobody's query: the batch is retried."""
    subs = [view(f"s{i}", f"w{i}") for i in range(6)]
    match_search._SOLO.clear()
    stats = MatchStats()
    planned = [(s, ["story-1"]) for s in subs]
    if raises:
        with pytest.raises(TransientError):
            which_match(TimingOutES({"s2"}, status), "alias", planned, ["story-1"], stats)  # type: ignore[arg-type]
    else:
        found = which_match(TimingOutES({"s2"}, status), "alias", planned, ["story-1"], stats)  # type: ignore[arg-type]
        assert sorted(found) == ["s0", "s1", "s3", "s4", "s5"]
        assert [(f.subscription_id, f.stage) for f in stats.faults] == [("s2", "search")]
        assert "failed twice with 500" in stats.faults[0].reason
    match_search._SOLO.clear()


def test_when_most_searches_time_out_the_batch_is_retried() -> None:
    """Many subscriptions timing out means a slow node, not slow queries: TransientError, nobody is skipped."""
    subs = [view(f"s{i}", f"w{i}") for i in range(4)]
    match_search._SOLO.clear()
    with pytest.raises(TransientError, match="overloaded"):
        which_match(TimingOutES({"s0", "s1", "s2"}), "alias", [(s, ["story-1"]) for s in subs], ["story-1"],  # type: ignore[arg-type]
                    MatchStats(), timeout_s=1.0)
    match_search._SOLO.clear()


def test_snippet_failure_keeps_the_match_and_faults_only_that_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    """A snippet that raises for one subscription leaves its match (empty snippet) and a fault; others are untouched."""
    real = matcher.local_snippet

    def exploding(text: Any, query: str) -> str:  # noqa: ANN401
        if query == "boom":
            raise RecursionError("maximum recursion depth exceeded")
        return real(text, query)

    monkeypatch.setattr(matcher, "local_snippet", exploding)
    subs = {"a": view("a", "boom"), "b": view("b", "ofcom")}
    docs = {"story-1": {"title": "Ofcom fines", "text": "Ofcom fined a platform."}}
    stats = MatchStats()
    got = local_snippets({"a": ["story-1"], "b": ["story-1"]}, subs, docs, ["story-1"], stats)
    assert [(m.subscription_id, bool(m.snippet)) for m in got] == [("a", False), ("b", True)]
    assert [(f.subscription_id, f.stage) for f in stats.faults] == [("a", "snippet")]


class PartialES:
    """An Elasticsearch stand-in for a preview search that answers ``timed_out`` (a partial count)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def options(self, **kwargs: object) -> PartialES:
        self.calls.append({"options": kwargs})
        return self

    def search(self, **kwargs: object) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"timed_out": True, "_shards": {"failed": 0}, "hits": {"total": {"value": 3}, "hits": []},
                "aggregations": {"per_day": {"buckets": []}}}


def test_timed_out_preview_is_an_error_not_a_low_count() -> None:
    """A 365-day preview carries the ES timeout and a client deadline; a timed-out answer is refused, not shown."""
    from govwatch.alerts.backtest import backtest

    es = PartialES()
    with pytest.raises(InvalidQuery, match=r"did not finish within 20.0 s"):
        backtest(es, "alias", "ai", Filters(), days=365, timeout_s=20.0)  # type: ignore[arg-type]
    assert es.calls[0] == {"options": {"request_timeout": 30.0}} and es.calls[1]["timeout"] == "20000ms"


class FlaggingStore(FlakyStore):
    """A store that keeps flags on its documents, as ``SubscriptionStore.flag`` does (a write changes the
    fingerprint)."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        super().__init__(docs, fail=0)
        self.writes: list[str] = []
        self.edits = 0

    def fingerprint(self) -> tuple[Any, ...]:
        return (len(self.docs), len(self.writes), self.edits)

    def flag(self, sub_id: str, problem: Any) -> bool:  # noqa: ANN401
        self.writes.append(sub_id)
        for d in self.docs:
            if d.get("id") == sub_id:
                d["problem"] = problem.model_dump(mode="json")
        return True


def test_flags_are_written_once_per_reason_and_again_after_an_edit_cleared_them() -> None:
    """The stage flags a refused subscription once (not every batch, not after re-reads that show the flag), flags
    an unreadable document once, and flags again when an edit cleared the flag but the query still fails."""
    from govwatch.stages.alerter import AlertStage

    store = FlaggingStore([doc("ok", "ofcom"), doc("deep", DEEP), {"id": "broken", "query": "x"}])
    cache = SubscriptionCache(store, ttl_s=0.0)  # type: ignore[arg-type]
    stage = AlertStage(None, None, cache, None, "alias", "topic")  # type: ignore[arg-type] - no stories: no search
    for _ in range(4):
        assert stage([]) == {}
    assert sorted(store.writes) == ["broken", "deep"]
    store.docs[1].pop("problem")  # an edit saved the subscription again (same failing query): the flag is gone
    store.edits += 1
    for _ in range(3):
        stage([])
    assert sorted(store.writes) == ["broken", "deep", "deep"]


def test_a_users_list_reads_only_their_own_subscriptions() -> None:
    """A user's subscription list asks the store for their owner only (not every owner's, filtered afterwards)."""
    asked: list[str | None] = []

    class Store:
        def list(self, include_paused: bool = True, owner: str | None = None) -> list[Subscription]:
            asked.append(owner)
            return []

    service = SubscriptionService(es=None, settings=Settings(), store=None, ledger=None, slack=None)  # type: ignore[arg-type]
    service.store = Store()  # type: ignore[assignment]
    service.list(Actor(owner="ann"))
    service.list(Actor(owner="root", admin=True))
    assert asked == ["ann", None]


def test_prefilter_failure_sends_the_subscription_to_elasticsearch_for_every_story(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Any exception in one subscription's pre-filter check is "may match": it is searched for every story of the
    batch (Elasticsearch judges), counted; the others are pre-filtered as usual."""
    from govwatch.alerts import prefilter

    real = prefilter.candidates_indexed

    def exploding(req: Any, filters: Filters, index: Any) -> list[str]:  # noqa: ANN401
        if req == "boom":
            raise MemoryError("hostile")
        return real(req, filters, index)

    monkeypatch.setattr(prefilter, "candidates_indexed", exploding)
    docs = {"s1": {"title": "Ofcom fines"}, "s2": {"title": "NIST profile"}}
    stats = MatchStats()
    planned = match_plan.plan([view("a", "boom"), view("b", "ofcom"), view("c", "seoul")], docs, stats=stats)
    assert [(s.id, ids) for s, ids in planned] == [("a", ["s1", "s2"]), ("b", ["s1"])]
    assert stats.prefilter_fallbacks == 1
