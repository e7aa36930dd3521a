"""The `ExperienceStore` contract, held by both shipped stores, and the seams around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from xolver.config import XolverConfig
from xolver.errors import UserError
from xolver.memory.base import SEARCH_MODES, ExperienceStore, MemoryStats
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import HashEmbedder
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord
from xolver.memory.testing import ScriptedStore


@pytest.fixture(params=["chroma", "in_memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExperienceStore]:
    made: ExperienceStore
    if request.param == "chroma":
        made = ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder(), near_duplicate_threshold=None)
    else:
        made = InMemoryExperienceStore()
    yield made
    made.close()


def _records() -> list[ExperienceRecord]:
    return [
        ExperienceRecord(text="A train travels 60 km per hour for 3 hours", answer="180", domain="math", source="s1"),
        ExperienceRecord(kind="strategy", text="multiply speed by time for a distance", source="s1"),
        ExperienceRecord(kind="code", text="distance from speed and time", code="def d(v, t): return v * t"),
        ExperienceRecord(text="A boat crosses a lake of 5 km", answer="5", namespace="other", source="s2"),
    ]


def test_both_stores_and_the_scripted_one_satisfy_the_protocol(store: ExperienceStore) -> None:
    assert isinstance(store, ExperienceStore)
    assert isinstance(ScriptedStore(), ExperienceStore)


def test_write_read_and_forget(store: ExperienceStore) -> None:
    records = _records()
    train, _strategy, code, boat = records
    assert sorted(store.add(records)) == sorted(r.id for r in records)
    assert store.add([train.model_copy(update={"id": "another"})]) == []  # same content
    vectors = store.embed(["one more", "and another"])
    extra = [ExperienceRecord(text="one more"), ExperienceRecord(text="and another")]
    assert sorted(store.add_embedded(extra, vectors)) == sorted(r.id for r in extra)
    with pytest.raises(UserError, match="records but"):
        store.add_embedded(extra, vectors[:1])

    assert store.count() == 6 and store.count(namespace="other") == 1 and store.count(kind="code") == 1
    assert [r.id for r in store.get([boat.id, "nope", train.id])] == [boat.id, train.id]
    assert {r.id for r in store.iter_records(namespace="default", kind="problem")} == {train.id, *(r.id for r in extra)}
    assert store.namespaces() == ["default", "other"]
    stats = store.stats()
    assert isinstance(stats, MemoryStats) and stats.total == 6
    assert stats.by_kind == {"problem": 4, "strategy": 1, "code": 1}
    assert stats.by_namespace == {"default": 5, "other": 1}
    assert stats.by_domain == {"general": 5, "math": 1}
    assert store.stats(namespace="other").total == 1

    hits = store.search("train km per hour", k=2, kind="problem")
    assert hits[0].record.id == train.id
    assert boat.id not in {h.record.id for h in store.search("boat lake", k=5)}  # "other" is another namespace
    assert [h.record.id for h in store.search("boat lake", k=5, namespace="other")] == [boat.id]

    assert store.forget(ids=[code.id]) == 1
    assert store.forget(source="s1") == 2  # the train and the strategy
    assert store.forget(namespace="other") == 1
    assert store.count() == 2 and store.get([train.id]) == []
    assert store.add([train]) == [train.id]  # a forgotten record can be stored again
    with pytest.raises(UserError, match="exactly one"):
        store.forget()


def test_uses_are_counted_by_record_use_and_not_by_reading(store: ExperienceStore) -> None:
    (train, *_) = records = _records()
    store.add(records)
    for _ in range(3):
        store.search("train km per hour", k=1)
    assert store.get([train.id])[0].times_retrieved == 0
    store.record_use([train.id, "unknown"], 1.0)
    store.record_use([train.id], 0.0)
    (used,) = store.get([train.id])
    assert used.times_retrieved == 2 and used.mean_use_score == pytest.approx(0.5)


def test_every_mode_is_accepted_and_no_other(store: ExperienceStore) -> None:
    store.add(_records())
    for mode in SEARCH_MODES:
        assert store.search("train", k=1, mode=mode)[0].record.text.startswith("A train")
    with pytest.raises(UserError, match="unknown search mode"):
        store.search("train", mode="magic")  # type: ignore[arg-type]


def test_search_mode_is_the_configs_retrieval_mode() -> None:
    assert get_args(XolverConfig.model_fields["retrieval_mode"].annotation) == SEARCH_MODES


def test_old_import_paths_still_work() -> None:
    from xolver.memory import chroma

    assert chroma.ChromaExperienceStore is ChromaExperienceStore
    assert callable(chroma.default_memory_path) and chroma.KINDS == ("problem", "strategy", "code")
