"""ChromaExperienceStore on a real chromadb, with the hash embedder (logic, not model quality)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xolver.errors import UserError
from xolver.memory.base import ExperienceStore
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import HashEmbedder
from xolver.memory.records import ExperienceRecord
from xolver.memory.retrieval import retrieve_experience


def _problem(text: str, ns: str = "default", **kw: object) -> ExperienceRecord:
    return ExperienceRecord(text=text, solution=f"solution of {text}", answer="1", namespace=ns, **kw)


def test_satisfies_the_store_protocol(hash_store: ChromaExperienceStore) -> None:
    assert isinstance(hash_store, ExperienceStore)


def test_add_search_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    store = ChromaExperienceStore(path, embedder=HashEmbedder())
    written = store.add(
        [
            _problem("A train travels at 60 km per hour for 3 hours. How far does it go?", domain="math"),
            _problem("Find the sum of the first 10 odd numbers.", domain="math"),
            ExperienceRecord(
                kind="strategy", text="For distance problems, multiply speed by time after unit conversion."
            ),
            ExperienceRecord(kind="code", text="gcd of a list of integers", code="def g(xs): ...", signature="g(xs)"),
        ]
    )
    assert len(written) == 4
    hits = store.search("train travels 60 km per hour", k=2, kind="problem")
    assert hits[0].record.text.startswith("A train")
    assert hits[0].record.solution.startswith("solution of")
    store.close()
    again = ChromaExperienceStore(path, embedder=HashEmbedder())
    assert again.count() == 4
    assert again.count(kind="code") == 1
    assert again.search("gcd list integers", k=1, kind="code")[0].record.code == "def g(xs): ..."
    again.close()


def test_content_hash_and_near_duplicate_dedup(hash_store: ChromaExperienceStore) -> None:
    first = _problem("Tom has 3 apples and buys 4 more. How many apples?")
    assert hash_store.add([first]) == [first.id]
    # Same content, other id and spacing: a content duplicate.
    assert hash_store.add([_problem("Tom  has 3 apples and buys 4 more.   How many apples?")]) == []
    # Within one batch too.
    twins = [_problem("Twin problem text here"), _problem("Twin problem text here")]
    assert len(hash_store.add(twins)) == 1
    # Different text, identical embedding under the hash embedder (same words, other order of
    # sentences does change bigrams, so use case only): a near duplicate.
    assert hash_store.add([_problem("TOM HAS 3 APPLES AND BUYS 4 MORE. HOW MANY APPLES?")]) == []
    # The same content in another namespace is not a duplicate.
    assert len(hash_store.add([_problem("Tom has 3 apples and buys 4 more. How many apples?", ns="other")])) == 1
    assert hash_store.count(namespace="default") == 2


def test_near_duplicate_threshold_can_be_disabled(tmp_path: Path) -> None:
    store = ChromaExperienceStore(tmp_path / "m", embedder=HashEmbedder(), near_duplicate_threshold=None)
    store.add([_problem("Tom has 3 apples")])
    assert len(store.add([_problem("TOM HAS 3 APPLES")])) == 1
    store.close()


def test_embedder_mismatch_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    ChromaExperienceStore(path, embedder=HashEmbedder(256)).close()
    with pytest.raises(UserError, match="built with embedder 'hash-ngrams-v1:256'"):
        ChromaExperienceStore(path, embedder=HashEmbedder(128))


def test_namespace_isolation_through_the_public_api(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    store = ChromaExperienceStore(path, embedder=HashEmbedder())
    store.add(
        [_problem("alpha secret problem about trains", ns="A"), _problem("beta secret problem about trains", ns="B")]
    )
    for mode in ("hybrid", "dense", "bm25"):
        hits = store.search("secret problem about trains", k=10, namespace="A", mode=mode)
        assert [h.record.namespace for h in hits] == ["A"]
    assert store.search("secret problem about trains", k=10) == []  # "default" holds nothing
    got = retrieve_experience(store, "secret trains", namespace="B")
    assert [h.record.text for h in got.problems] == ["beta secret problem about trains"]
    store.close()

    bound = ChromaExperienceStore(path, embedder=HashEmbedder(), namespace="A")
    assert [h.record.namespace for h in bound.search("secret problem", k=10)] == ["A"]
    assert bound.count() == 1
    assert {r.namespace for r in bound.iter_records()} == {"A"}
    with pytest.raises(UserError, match="bound to namespace 'A'"):
        bound.search("secret", namespace="B")
    with pytest.raises(UserError, match="bound to namespace 'A'"):
        bound.add([_problem("sneaky", ns="B")])
    b_ids = [r.id for r in ChromaExperienceStore(path, embedder=HashEmbedder(), namespace="B").iter_records()]
    assert bound.get(b_ids) == []
    assert bound.forget(ids=b_ids) == 0
    bound.close()


def test_forget_by_id_namespace_and_source(hash_store: ChromaExperienceStore) -> None:
    a = _problem("one problem about cubes", source="s1")
    b = _problem("two problem about spheres", source="s2")
    c = _problem("three problem about cones", ns="x", source="s1")
    hash_store.add([a, b, c])
    assert hash_store.forget(ids=[a.id]) == 1
    assert a.id not in {h.record.id for h in hash_store.search("cubes", k=5)}
    assert hash_store.get([a.id]) == []
    assert hash_store.forget(source="s1") == 1  # c, in namespace x
    assert hash_store.count(namespace="x") == 0
    assert hash_store.forget(namespace="default") == 1
    assert hash_store.count() == 0
    # A forgotten record can be stored again.
    assert hash_store.add([a]) == [a.id]
    with pytest.raises(UserError):
        hash_store.forget()
    with pytest.raises(UserError):
        hash_store.forget(ids=["x"], source="y")


def test_stats_and_record_use(hash_store: ChromaExperienceStore) -> None:
    r = _problem("count the ways to tile a board", domain="math", source="seed")
    hash_store.add([r, ExperienceRecord(kind="strategy", text="try small cases first, then find the pattern")])
    stats = hash_store.stats()
    assert stats.total == 2
    assert stats.by_kind == {"problem": 1, "strategy": 1, "code": 0}
    assert stats.by_domain == {"general": 1, "math": 1}
    assert stats.embedder == "hash-ngrams-v1:256" and stats.path == str(hash_store.path)
    hash_store.record_use([r.id], 1.0)
    hash_store.record_use([r.id], 0.0)
    (stored,) = hash_store.get([r.id])
    assert stored.times_retrieved == 2
    assert stored.mean_use_score == pytest.approx(0.5)


def test_unknown_kind_is_a_user_error(hash_store: ChromaExperienceStore) -> None:
    with pytest.raises(UserError, match="unknown record kind"):
        hash_store.search("x", kind="theorem")  # type: ignore[arg-type]


def test_two_stores_in_one_process_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    one = ChromaExperienceStore(path, embedder=HashEmbedder())
    two = ChromaExperienceStore(path, embedder=HashEmbedder())
    one.add([_problem("written by one about hexagons")])
    assert [h.record.text for h in two.search("hexagons", k=3)] == ["written by one about hexagons"]
    one.close()
    two.close()


def test_domain_filter_on_both_search_paths(tmp_path: Path) -> None:
    store = ChromaExperienceStore(tmp_path / "m", embedder=HashEmbedder(), near_duplicate_threshold=None)
    records = [_problem(f"geometry circle area radius {i}", domain="geo") for i in range(60)]
    records += [_problem(f"counting ways to choose {i} items", domain="comb") for i in range(6)]
    store.add(records)
    # "geo" is most of the collection (post-filtered search), "comb" a small share (chromadb's filter).
    query = "circle radius: counting ways to choose items"
    for domain in ("geo", "comb"):
        for mode in ("dense", "bm25", "hybrid"):
            hits = store.search(query, k=5, domain=domain, mode=mode)
            assert hits and all(h.record.domain == domain for h in hits), (domain, mode)
        assert len(store.search(query, k=5, domain=domain, mode="dense")) == 5
    assert store.search("anything", k=5, domain="nowhere") == []
    store.close()
