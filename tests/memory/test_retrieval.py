from __future__ import annotations

import re
from pathlib import Path

import pytest

from xolver.errors import UserError
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import SentenceTransformerEmbedder
from xolver.memory.hybrid import mmr_select, reciprocal_rank_fusion
from xolver.memory.importer import import_jsonl
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.learning import parse_distillation, problem_record, should_write_back
from xolver.memory.records import ExperienceRecord
from xolver.memory.retrieval import retrieve_experience
from xolver.memory.testing import ScriptedStore

# Motion and rate problems: speeds, travel, driving, running, walking distances.
RATE = re.compile(r"per hour|mph|km/h|miles an hour|speed|travel|train|driv|\bran\b|\bruns?\b|walk|miles|kilomet", re.I)


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert [i for i, _ in fused][:2] in (["a", "b"], ["b", "a"])
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert {i for i, _ in fused} == {"a", "b", "c", "d"}
    # An item both rankers like beats one that only a single ranker puts first.
    fused = reciprocal_rank_fusion([["x", "y"], ["z", "y"]])
    assert fused[0][0] == "y"


def test_mmr_prefers_diverse_picks() -> None:
    q = [1.0, 0.0, 0.0]
    cands = [("a", [0.99, 0.141, 0.0]), ("a2", [0.99, 0.141, 0.0]), ("b", [0.9, 0.0, 0.436])]
    assert mmr_select(q, cands, 2, diversity=0.0) == ["a", "a2"]
    assert mmr_select(q, cands, 2, diversity=0.5) == ["a", "b"]
    with pytest.raises(UserError):
        mmr_select(q, cands, 2, diversity=2.0)


def test_retrieve_experience_on_a_bm25_only_store() -> None:
    store = InMemoryExperienceStore(
        [
            ExperienceRecord(text="A train travels at 60 km per hour", answer="1"),
            ExperienceRecord(
                kind="strategy", text="for a train at a constant km per hour speed, time is distance over speed"
            ),
            ExperienceRecord(
                kind="code", text="convert km per hour to meters per second", code="def f(v): return v/3.6"
            ),
            ExperienceRecord(text="A train travels at 80 km per hour", namespace="other"),
        ]
    )
    got = retrieve_experience(store, "train at 60 km per hour: how long?")
    assert [len(got.problems), len(got.strategies), len(got.code)] == [1, 1, 1]
    assert len(got) == 3 and got and len(got.ids) == 3
    assert not retrieve_experience(store, "train", namespace="nobody")


def test_hybrid_and_mmr_on_chroma(hash_store: ChromaExperienceStore) -> None:
    hash_store.add(
        [
            ExperienceRecord(text=f"train travels {s} km per hour for {t} hours", answer="x")
            for s in (40, 60)
            for t in (2, 3)
        ]
        + [ExperienceRecord(text="boat crosses a river at 5 km per hour", answer="y")]
    )
    plain = hash_store.search("train km per hour", k=3)
    diverse = hash_store.search("train km per hour", k=3, mmr_diversity=0.9)
    assert len(plain) == len(diverse) == 3
    assert any("boat" in h.record.text for h in diverse)
    # A vector the caller already has gives the same ranking as embedding the query again.
    vector = hash_store.embed(["train km per hour"])[0]
    assert hash_store.search("train km per hour", k=3, query_vector=vector) == plain
    with pytest.raises(UserError, match="unknown search mode"):
        hash_store.search("x", mode="magic")  # type: ignore[arg-type]


def test_retrieve_experience_searches_each_kind_with_the_callers_filters() -> None:
    hit = ExperienceRecord(text="A train travels at 60 km per hour", answer="1", namespace="t")
    with ScriptedStore({"problem": [[hit]], "strategy": [[]], "code": [[]]}) as store:
        got = retrieve_experience(store, "train?", namespace="t", domain="math", k_problems=2, mode="dense")
    assert [h.record.text for h in got.problems] == [hit.text] and not got.strategies and not got.code
    # Twice k of each kind: retired and below-floor hits are dropped before the top k are kept.
    assert [(c.kind, c.k, c.mode, c.namespace, c.domain) for c in store.searches] == [
        ("problem", 4, "dense", "t", "math"),
        ("strategy", 6, "dense", "t", "math"),
        ("code", 6, "dense", "t", "math"),
    ]
    with pytest.raises(UserError, match="unknown search mode"):
        retrieve_experience(store, "x", mode="magic")  # type: ignore[arg-type]


def test_learning_loop_writes_back_what_the_next_solve_retrieves(hash_store: ChromaExperienceStore) -> None:
    problem = "A cyclist rides 45 km in 3 hours. What is her average speed in km per hour?"
    assert not retrieve_experience(hash_store, problem, namespace="t")
    # The graph: the answer verified, so write back the problem and the distilled experience.
    assert should_write_back(1.0, True, 0.9)
    reply = (
        "STRATEGY: For average speed problems, divide total distance by total time, in consistent units.\n"
        "CODE: average speed from distance and time\n```python\ndef average_speed(d, t):\n    return d / t\n```"
    )
    records = [problem_record(problem, "45 / 3 = 15", "15", namespace="t", verified=True)]
    records += parse_distillation(reply, namespace="t", problem=problem, verified=True)
    assert len(hash_store.add(records)) == 3
    nxt = retrieve_experience(hash_store, "A runner covers 10 km in 2 hours. What is his average speed?", namespace="t")
    assert nxt.problems[0].record.text == problem
    assert "average speed" in nxt.strategies[0].record.text
    assert nxt.code[0].record.signature == "average_speed(d, t)"
    hash_store.record_use(nxt.ids, 1.0)
    assert hash_store.get([nxt.problems[0].record.id])[0].times_retrieved == 1


@pytest.mark.slow
def test_real_embeddings_find_gsm8k_rate_problems(
    tmp_path: Path, data_dir: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    # Every 25th line: a 299-problem sample spread over the whole file (about 30 are motion problems).
    lines = (data_dir / "gsm8k" / "train.jsonl").read_text(encoding="utf-8").splitlines()[::25]
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = ChromaExperienceStore(tmp_path / "mem", embedder=real_embedder)
    report = import_jsonl(store, sample, fields=["problem=question", "solution=answer"], domain="math")
    assert report.imported >= 295
    query = "a train leaves the station at 60 km/h"
    for mode in ("hybrid", "dense"):
        hits = store.search(query, k=5, mode=mode)
        rate = [h for h in hits if RATE.search(h.record.text)]
        assert len(rate) >= 3, [h.record.text[:80] for h in hits]
    got = retrieve_experience(store, query, domain="math")
    assert len(got.problems) == 5
    assert any(RATE.search(h.record.text) for h in got.problems[:2])
    store.close()
