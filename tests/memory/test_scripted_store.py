"""`ScriptedStore`: searches from a script, strict about unused or missing replies, writes kept."""

from __future__ import annotations

import pytest

from xolver.memory.records import ExperienceRecord, ScoredRecord
from xolver.memory.testing import RecordUse, ScriptedStore, ScriptExhausted, SearchCall, UnusedScript


def test_replies_in_call_order_cut_to_k_and_recorded() -> None:
    a, b = ExperienceRecord(text="a"), ExperienceRecord(text="b")
    store = ScriptedStore([[a, ScoredRecord(record=b, score=0.5)], [], RuntimeError("disk gone")])
    assert [(h.record.text, h.score) for h in store.search("q", k=5)] == [("a", 1.0), ("b", 0.5)]
    assert store.search("q", k=1, kind="code", namespace="t") == []
    with pytest.raises(RuntimeError, match="disk gone"):
        store.search("q")
    with pytest.raises(ScriptExhausted, match="at search 4"):
        store.search("q")
    assert store.searches[1] == SearchCall("q", 1, "hybrid", kind="code", namespace="t")


def test_replies_by_kind_and_strictness() -> None:
    with pytest.raises(UnusedScript, match="strategy"), ScriptedStore({"problem": [[]], "strategy": [[]]}) as store:
        store.search("q", kind="problem")
    with pytest.raises(ScriptExhausted, match="for kind 'code'"):
        store.search("q", kind="code")
    assert store.closed and store.remaining == 1


def test_writes_are_kept_and_recorded() -> None:
    seed = ExperienceRecord(text="seeded", namespace="t")
    store = ScriptedStore(records=[seed])
    new = ExperienceRecord(text="learned", namespace="t")
    assert store.add([new, new]) == [new.id]
    assert store.added == [new, new]
    store.record_use([seed.id], 0.75)
    assert store.uses == [RecordUse((seed.id,), 0.75)]
    assert store.get([seed.id])[0].times_retrieved == 1
    assert store.count(namespace="t") == 2 and store.stats().by_namespace == {"t": 2}
    assert [r.text for r in store.iter_records()] == ["seeded", "learned"]
    assert store.forget(ids=[new.id]) == 1 and store.namespaces() == ["t"]
    store.assert_used_up()  # nothing scripted, nothing left
