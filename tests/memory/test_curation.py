"""A record's life in a real chroma store: credit and blame, retirement, merge with history, and the
persisted lexical index (a reopened store answers a lexical query without a rebuild)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xolver.memory.chroma import ChromaExperienceStore, _folder
from xolver.memory.curation import CurationPolicy, over_budget, rank_by_usefulness, usefulness
from xolver.memory.embedders import HashEmbedder, SentenceTransformerEmbedder
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord, ScoredRecord

GROWTH = "When a quantity grows by a fixed percentage each year, multiply by (1 + rate) once per year."
GROWTH_AGAIN = "If something increases by a constant percent every year, multiply it by 1 plus the rate for each year."
ROWS = "To count items in equal rows, multiply the number of rows by the items per row."


def _strategy(text: str, **extra: object) -> ExperienceRecord:
    return ExperienceRecord(kind="strategy", text=text, domain="math", **extra)


def test_credit_and_blame_move_usefulness_and_a_record_that_keeps_hurting_is_retired(tmp_path: Path) -> None:
    with ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder()) as store:
        good, bad = _strategy(ROWS), _strategy(GROWTH)
        store.add([good, bad])
        for _ in range(4):
            store.record_use([good.id], 1.0)
            store.record_use([bad.id], 0.0)
        g, b = store.get([good.id, bad.id])
        assert (g.helped, g.hurt, g.times_retrieved, g.mean_use_score) == (4, 0, 4, 1.0)
        assert (b.helped, b.hurt, b.mean_use_score) == (0, 4, 0.0)
        assert usefulness(g) == pytest.approx(5 / 6) and usefulness(b) == pytest.approx(1 / 6)
        assert not g.retired and b.retired
        assert b.history[-1].action == "retired" and "hurt 4 of 4" in b.history[-1].detail
        # Retired: kept for audit, never retrieved, by either ranking.
        for mode in ("hybrid", "dense", "bm25"):
            hits = store.search("multiply rate year percentage rows", k=5, mode=mode, kind="strategy")
            assert [h.record.id for h in hits] == [good.id], mode
        assert store.count(kind="strategy") == 2
    with ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder()) as reopened:
        assert [h.record.id for h in reopened.search("percentage year rate", k=5, mode="bm25")] == []


def test_two_uses_are_not_enough_to_retire_and_the_policy_is_configurable() -> None:
    record = _strategy(GROWTH)
    with InMemoryExperienceStore([record], curation=CurationPolicy(retire_min_uses=2, retire_below=0.3)) as store:
        store.record_use([record.id], 0.0)
        assert not store.get([record.id])[0].retired
        store.record_use([record.id], 0.0)
        assert store.get([record.id])[0].retired
        assert store.search("percentage year", k=3) == []


def test_ranking_demotes_a_record_with_a_bad_track_record_below_an_equally_relevant_one() -> None:
    hurt = _strategy(GROWTH, helped=0, hurt=3)
    fresh = _strategy(GROWTH_AGAIN)
    hits = [
        ScoredRecord(record=hurt, score=1.0, similarity=0.8),
        ScoredRecord(record=fresh, score=0.9, similarity=0.75),
    ]
    assert [h.record.id for h in rank_by_usefulness(hits)] == [fresh.id, hurt.id]
    retired = _strategy(ROWS, retired=True)
    assert rank_by_usefulness([ScoredRecord(record=retired, score=1.0)]) == []


def test_a_paraphrased_strategy_is_merged_into_the_stored_one_with_its_history(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    with ChromaExperienceStore(tmp_path / "mem", embedder=real_embedder) as store:
        first = _strategy(GROWTH, source="solve:1")
        assert store.add([first]) == [first.id]
        again = _strategy(GROWTH_AGAIN, source="solve:2", verified=True, when_to_use="compound growth")
        assert store.add([again]) == []  # merged, not written
        assert store.add([_strategy(ROWS)]) != []  # unrelated: written
        (merged,) = store.get([first.id])
        assert merged.text == GROWTH and merged.evidence == 2 and merged.verified
        assert merged.when_to_use == "compound growth"
        (event,) = merged.history
        assert event.action == "merged" and again.id in event.detail and "solve:2" in event.detail
        assert store.count(kind="strategy") == 2


def test_a_verified_problem_supersedes_an_unverified_near_duplicate(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    text = (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?"
    )
    with ChromaExperienceStore(tmp_path / "mem", embedder=real_embedder) as store:
        old = ExperienceRecord(text=text, solution="48 + 48 = 96", answer="96")
        store.add([old])
        new = ExperienceRecord(text=text + " ", solution="48 + 24 = 72", answer="72", verified=True)
        assert store.add([new]) == [new.id]
        gone, kept = store.get([old.id, new.id])
        assert gone.retired and gone.history[-1].action == "superseded" and new.id in gone.history[-1].detail
        assert [h.record.id for h in store.search("Natalia clips April May", k=3, kind="problem")] == [kept.id]


def test_a_reopened_store_answers_a_lexical_query_without_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mem"
    records = [_strategy(f"strategy number {i} about widgets and gadgets {i % 7}") for i in range(50)]
    with ChromaExperienceStore(path, embedder=HashEmbedder(), merge_threshold=None) as store:
        store.add(records)
        store.search("widgets", k=1, mode="bm25")  # builds and persists the side index
        store.add([_strategy("a journaled write about sprockets")])
        store.forget(ids=[records[0].id])
        store.retire([records[1].id], reason="test")
        expected = [h.record.id for h in store.search("widgets gadgets 3", k=5, mode="bm25")]
    assert list((path / "xolver-lexical").glob("*.index"))

    def no_rebuild(collection: object) -> object:
        raise AssertionError("side index rebuilt from chromadb")

    monkeypatch.setattr(_folder, "_build_side", no_rebuild)
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        assert [h.record.id for h in store.search("widgets gadgets 3", k=5, mode="bm25")] == expected
        assert [h.record.text for h in store.search("sprockets", k=1, mode="bm25")] == [
            "a journaled write about sprockets"
        ]
        assert records[0].id not in expected and records[1].id not in expected
        assert store.count(kind="strategy") == 50


def test_a_stale_persisted_index_is_repaired_from_chromadb(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        store.add([_strategy("gizmos are counted in dozens here")])
        store.search("gizmos", k=1, mode="bm25")
    for journal in (path / "xolver-lexical").glob("*.jsonl"):
        journal.unlink()
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        # Written behind the journal's back: delete the journal after a write.
        store.add([_strategy("thingamajigs come in boxes of nine")])
    for journal in (path / "xolver-lexical").glob("*.jsonl"):
        journal.unlink()
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        assert [h.record.text for h in store.search("thingamajigs", k=1, mode="bm25")] == [
            "thingamajigs come in boxes of nine"
        ]


def test_over_budget_retires_the_least_useful_first() -> None:
    a, b, c = _strategy("a" * 20, helped=3), _strategy("b" * 20, hurt=2), _strategy("c" * 20)
    assert [r.id for r in over_budget([a, b, c], 2)] == [b.id]
    assert over_budget([a, b], 2) == []
