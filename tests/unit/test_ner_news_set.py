"""The ner-news gold set keeps its invariants: offsets, order, roles, split by outlet, audit articles in the gold."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SET = Path(__file__).resolve().parents[1] / "fixtures" / "ner-news"


def _check_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ner_news_check", SET / "tools" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (SET / name).open(encoding="utf-8")]


@pytest.mark.parametrize("name", ["articles.jsonl", "audit.jsonl", "audit-independent.jsonl"])
def test_offsets_order_roles_and_splits_hold(name: str) -> None:
    assert _check_module().problems(_read(name), by_outlet=name == "articles.jsonl") == []


def test_audited_articles_are_gold_articles_with_the_same_text() -> None:
    gold = {a["id"]: a for a in _read("articles.jsonl")}
    for name in ("audit.jsonl", "audit-independent.jsonl"):
        for art in _read(name):
            assert gold[art["id"]]["text"] == art["text"], (name, art["id"])


def test_the_checker_reports_a_shifted_offset_and_an_outlet_on_both_sides() -> None:
    broken = [
        {"id": "a", "outlet": "x.com", "split": "dev", "text": "Reuters said",
         "mentions": [{"start": 1, "end": 8, "text": "Reuters", "type": "ORG", "role": "source"}]},
        {"id": "b", "outlet": "x.com", "split": "test", "text": "", "mentions": []},
    ]
    found = _check_module().problems(broken, by_outlet=True)
    assert any("offsets 1-8" in e for e in found) and "outlet x.com in both splits" in found
