from __future__ import annotations

import pytest

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


def test_a_loaded_index_takes_adds_and_removals_like_the_one_it_was_saved_from() -> None:
    built = _index()
    built.remove(3)
    loaded = BM25Index.from_arrays(*built.to_arrays())
    for ix in (built, loaded):
        ix.remove(0)
        ix.remove(0)  # a second removal changes nothing
        ix.remove(3)  # nor does removing one removed before the save
        ix.add("a train and a car travel for two hours")
    assert built.live == loaded.live == 3
    for query in ("train travels km hour", "car hours", "geometric series", "prime factors"):
        assert built.top(query, 10) == loaded.top(query, 10)
        assert built.scores(query) == pytest.approx(loaded.scores(query))
    assert [i for i, _ in loaded.top("train", 5)] == [4]


def test_removing_an_empty_document_counts_once() -> None:
    ix = BM25Index()
    empty = ix.add("the of and")  # stop words only: no terms
    ix.add("sprockets")
    ix.remove(empty)
    ix.remove(empty)
    assert ix.live == 1
    assert [i for i, _ in ix.top("sprockets", 3)] == [1]
