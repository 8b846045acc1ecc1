"""The Elasticsearch role of each govwatch role (deploy/helm/govwatch/files/elasticsearch-roles/): valid bodies for
the security API, exactly the privileges each role needs, and covering every index the role's code touches.

Not run against Elasticsearch: the local stack is the core-only integ zip (no security plugin), so no role is
created here. The shape is checked against the `PUT _security/role` body (Elasticsearch 8.19) and the privilege
names against IndexPrivilege / ClusterPrivilegeResolver of that version.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ROLE_FILES = REPO / "deploy" / "helm" / "govwatch" / "files" / "elasticsearch-roles"
ROLES = ("init", "poll", "digests", "spikes", "sources", "enrich", "index", "alert", "notify", "web")

# Fields of a role body (PUT _security/role/<name>) and of one of its `indices` entries.
ROLE_FIELDS = {"applications", "cluster", "description", "global", "indices", "metadata", "remote_indices",
               "remote_cluster", "run_as", "transient_metadata"}
INDICES_FIELDS = {"names", "privileges", "field_security", "query", "allow_restricted_indices"}
# The named index privileges of Elasticsearch 8.19.
INDEX_PRIVILEGES = {"none", "all", "manage", "create_index", "monitor", "read", "index", "delete", "write", "create",
                    "create_doc", "delete_index", "view_index_metadata", "read_cross_cluster",
                    "manage_follow_index", "manage_leader_index", "manage_ilm", "maintenance", "auto_configure",
                    "manage_data_stream_lifecycle"}

# What each role may do, and why (the code each line comes from). Widening a role means changing this table.
S = "{prefix}-stories"
EXPECTED: dict[str, dict[str, Any]] = {
    # bootstrap.py: put/get index template, create indices, get/put mappings (additive upgrades).
    "init": {"cluster": {"manage_index_templates"}, "indices": {("{prefix}-*",): {"manage"}}},
    # adapters/feed_stores.py EsPublishedIds: realtime mget, bulk `create` (create-only ids).
    "poll": {"cluster": set(), "indices": {("{prefix}-published",): {"read", "create_doc"}}},
    # clusters.py: msearch on the stories alias.
    "enrich": {"cluster": set(), "indices": {(S, f"{S}-*"): {"read"}}},
    # indexing.py: search ids over stories-*, bulk `index` (a replay overwrites), the next month's index auto-created;
    # event_assign.py: msearch, one refresh per process, bulk create/index with if_seq_no on the events index.
    "index": {"cluster": set(), "indices": {(S, f"{S}-*"): {"read", "index", "auto_configure"},
                                            ("{prefix}-events",): {"read", "index", "maintenance"}}},
    # match_search.py msearch; store.py list + flag (partial update); ledger.py bulk create, mget, update.
    "alert": {"cluster": set(), "indices": {(S, f"{S}-*"): {"read"},
                                            ("{prefix}-subscriptions",): {"read", "index"},
                                            ("{prefix}-alert-ledger",): {"read", "index"}}},
    # store.py get; ledger.py get, update, search for deferred entries; threads.py create, get, update (event threads).
    "notify": {"cluster": set(), "indices": {("{prefix}-subscriptions",): {"read"},
                                             ("{prefix}-alert-ledger",): {"read", "index"},
                                             ("{prefix}-alert-threads",): {"read", "index"}}},
    # digest.py: active subscriptions; ledger.pending_digest refreshes then searches; marks entries;
    # rollup.py: the event thread's parent title (get).
    "digests": {"cluster": set(), "indices": {("{prefix}-subscriptions",): {"read"},
                                              ("{prefix}-alert-ledger",): {"read", "index", "maintenance"},
                                              ("{prefix}-alert-threads",): {"read"}}},
    # spike_run.py via wiring/spikes.py: store.with_spike (search); spike_search.py aggregations on stories and the
    # top events' titles (mget); spike_state.py get/search, create or index with if_seq_no; ledger.py record (bulk
    # create, get + versioned index on a 409) and mark_produced (bulk update). No refresh anywhere.
    "spikes": {"cluster": set(), "indices": {(S, f"{S}-*"): {"read"},
                                             ("{prefix}-events",): {"read"},
                                             ("{prefix}-subscriptions",): {"read"},
                                             ("{prefix}-spike-state",): {"read", "index"},
                                             ("{prefix}-alert-ledger",): {"read", "index"}}},
    # source_health_run.py via wiring/source_health.py: the operations subscription (get); measure() and
    # recent_stories() search stories; source_health_state.py get/mget, create or index with if_seq_no; ledger.py
    # record and mark_produced as for spikes. The poll states come from Kafka (feeds.state), not Elasticsearch.
    "sources": {"cluster": set(), "indices": {(S, f"{S}-*"): {"read"},
                                              ("{prefix}-subscriptions",): {"read"},
                                              ("{prefix}-source-health",): {"read", "index"},
                                              ("{prefix}-alert-ledger",): {"read", "index"}}},
    # service.py add/save/delete subscriptions, validate_query + previews on stories, ledger history, retry and
    # resume (refresh + search + update); auth.py tokens create/get/update; event_index.py list/read events (the
    # events pages, API and `govwatch events`); source_pages.py -> wiring/source_health.overviews: each feed's
    # incident state (mget) and stories (search), the /sources pages and `govwatch sources list|show`;
    # subscription_pages.py: a subscription's spike rule state (get).
    "web": {"cluster": set(), "indices": {(S, f"{S}-*"): {"read", "view_index_metadata"},
                                          ("{prefix}-events",): {"read"},
                                          ("{prefix}-subscriptions",): {"read", "write"},
                                          ("{prefix}-alert-ledger",): {"read", "index", "maintenance"},
                                          ("{prefix}-web-tokens",): {"read", "index"},
                                          ("{prefix}-source-health",): {"read"},
                                          ("{prefix}-spike-state",): {"read"}}},
}
# Where each role's Elasticsearch work starts: the index names these files pass to the client.
ROLE_CODE = {
    "poll": ["src/govwatch/wiring/poll.py"],
    "digests": ["src/govwatch/wiring/digests.py"],
    "spikes": ["src/govwatch/wiring/spikes.py"],
    "sources": ["src/govwatch/wiring/source_health.py"],
    "enrich": ["src/govwatch/wiring/enrich.py"],
    "index": ["src/govwatch/wiring/index.py"],
    "alert": ["src/govwatch/wiring/alert.py"],
    "notify": ["src/govwatch/wiring/notify.py"],
    # Every module of the web app: a new page reading a new index cannot be missed.
    "web": [*sorted(str(p.relative_to(REPO)) for p in (REPO / "src" / "govwatch" / "web").glob("*.py")),
            "src/govwatch/alerts/subscription_service.py", "src/govwatch/commands/web.py", "src/govwatch/wiring/web.py",
            "src/govwatch/wiring/source_health.py"],
}


def _body(role: str) -> dict[str, Any]:
    return json.loads((ROLE_FILES / f"{role}.json").read_text())


def test_one_body_per_role() -> None:
    assert sorted(p.stem for p in ROLE_FILES.glob("*.json")) == sorted(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_body_is_a_valid_role_descriptor(role: str) -> None:
    """Only fields the security API knows, named privileges that exist, index names under the release's prefix,
    no run_as, no restricted (system) indices, and a description in metadata."""
    body = _body(role)
    assert set(body) <= ROLE_FIELDS, set(body) - ROLE_FIELDS
    assert "run_as" not in body and "applications" not in body
    assert isinstance(body["metadata"]["govwatch"], str) and body["metadata"]["govwatch"]
    for entry in body["indices"]:
        assert set(entry) <= INDICES_FIELDS, entry
        assert set(entry["privileges"]) <= INDEX_PRIVILEGES, entry
        assert not entry.get("allow_restricted_indices", False)
        assert all(name.startswith("{prefix}-") for name in entry["names"]), entry


@pytest.mark.parametrize("role", ROLES)
def test_body_grants_exactly_what_the_role_needs(role: str) -> None:
    """The privileges equal the reviewed table above: nothing wider (no `all`, no superuser, no other indices)."""
    body = _body(role)
    got = {tuple(entry["names"]): set(entry["privileges"]) for entry in body["indices"]}
    assert set(body["cluster"]) == EXPECTED[role]["cluster"]
    assert got == EXPECTED[role]["indices"]
    assert "all" not in {p for privileges in got.values() for p in privileges}
    if role != "init":
        assert "manage" not in {p for privileges in got.values() for p in privileges}


@pytest.mark.parametrize("role", sorted(ROLE_CODE))
def test_body_covers_every_index_the_role_code_names(role: str) -> None:
    """Each index a role's entry code passes to Elasticsearch (settings.index("..."), the events index by
    event_index.index_name, or the index prefix for the stories indices) matches a name its role grants: a new index
    used by the code cannot be forgotten here."""
    used: set[str] = set()
    for path in ROLE_CODE[role]:
        text = (REPO / path).read_text(encoding="utf-8")
        used |= {f"{{prefix}}-{name}" for name in re.findall(r"settings\.index\(\s*[\"']([\w-]+)[\"']\s*\)", text)}
        if re.search(r"settings\.index_prefix\b", text):
            used.add(S)  # ClusterIndex, IndexStage: the stories alias and its monthly indices
        if re.search(r"event_index\.index_name\(", text):
            used.add("{prefix}-events")
    assert used, f"no index found in {ROLE_CODE[role]}: update ROLE_CODE"
    granted = [name for entry in _body(role)["indices"] for name in entry["names"]]
    missing = {name for name in used if not any(fnmatch.fnmatchcase(name, pattern) for pattern in granted)}
    assert missing == set(), f"{role} code uses {missing}, which its role does not grant"
