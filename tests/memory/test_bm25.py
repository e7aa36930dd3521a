from __future__ import annotations

from xolver.memory.bm25 import BM25Index


def _index() -> BM25Index:
    ix = BM25Index()
    for text in [
        "a train travels at 60 km per hour",
        "the sum of a geometric series",
        "a car travels at 50 km per hour for two hours",
        "prime factors of 360",
    ]:
        ix.add(text)
    return ix


def test_top_agrees_with_scores() -> None:
    ix = _index()
    query = "train travels km hour"
    expected = sorted(ix.scores(query).items(), key=lambda kv: (-kv[1], kv[0]))
    got = ix.top(query, 10)
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert all(abs(a - b) < 1e-9 for (_, a), (_, b) in zip(got, expected, strict=True))
    assert got[0][0] == 0


def test_top_respects_mask_k_and_removal() -> None:
    ix = _index()
    assert [i for i, _ in ix.top("travels hour", 1)] in ([0], [2])
    assert [i for i, _ in ix.top("travels hour", 5, accept=[False, True, True, True])] == [2]
    ix.remove(2)
    assert [i for i, _ in ix.top("travels hour", 5)] == [0]
    assert ix.top("nothing matches zzz", 5) == []
    assert ix.top("travels", 0) == []
