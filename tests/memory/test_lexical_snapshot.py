"""The persisted lexical (BM25) side index: its snapshot format, what opening a store reads, and
freshness across processes. Real chromadb stores; chromadb's reads are counted, never faked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromadb.api.models.Collection import Collection

from xolver.memory.bm25 import BM25Index
from xolver.memory.chroma import ChromaExperienceStore, _folder
from xolver.memory.chroma._side_index import SideIndex
from xolver.memory.embedders import HashEmbedder
from xolver.memory.records import ExperienceRecord

WORKER = Path(__file__).with_name("store_worker.py")
QUERIES = ["apples oranges", "train hour km", "widgets 3", "sprockets and gadgets", "nothing zzz"]


def _side(n: int = 60) -> SideIndex:
    side = SideIndex()
    for i in range(n):
        words = ["apples", "oranges", "train", "hour", "km", "widgets", "gadgets", "sprockets"]
        text = " ".join(words[j % len(words)] for j in range(i % 5, i % 5 + 3 + i % 4)) + f" {i % 7}"
        meta = {"namespace": "ns", "domain": "geo" if i % 3 else "alg", "source": f"s{i % 2}", "hash": f"h{i}"}
        side.add(f"r{i}", text, meta)
    for i in (3, 10, 11):
        side.remove(f"r{i}")
    for i in (4, 20):
        side.set_retired(f"r{i}", True)
    return side


def _same(a: SideIndex, b: SideIndex) -> None:
    assert a.ids == b.ids and a.alive == b.alive and a.position == b.position
    assert (a.namespaces, a.domains, a.sources) == (b.namespaces, b.domains, b.sources)
    assert a.hashes == b.hashes and a.retired == b.retired and a.live_count() == b.live_count()
    for query in QUERIES:
        assert a.bm25.top(query, 10) == b.bm25.top(query, 10), query
        assert a.bm25.scores(query) == pytest.approx(b.bm25.scores(query)), query
    assert (a.mask("ns", "geo") == b.mask("ns", "geo")).all()


def test_a_snapshot_loads_as_the_index_it_was_saved_from_and_takes_writes(tmp_path: Path) -> None:
    side = _side()
    side.save(tmp_path, "c", collection_id="col-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.index"]
    loaded = SideIndex.load(tmp_path, "c", collection_id="col-1")
    assert loaded is not None and not loaded.legacy
    _same(side, loaded)
    # The arrays are read from a map of the file, not copied.
    assert loaded.bm25._base_postings is not None
    assert not loaded.bm25._base_postings[1].flags.writeable
    # Another collection's snapshot under the same name is not taken.
    assert SideIndex.load(tmp_path, "c", collection_id="col-2") is None
    # Writes on the loaded index (removing a record it loaded, adding one) match the same writes
    # on the original, and survive another save and load.
    for index in (side, loaded):
        index.remove("r5")
        index.add("new", "apples and sprockets 9", {"namespace": "ns", "domain": "geo", "source": "s1", "hash": "hx"})
        index.set_retired("r20", False)
    _same(side, loaded)
    assert "h5" not in loaded.hashes and "hx" in loaded.hashes
    loaded.save(tmp_path, "c", collection_id="col-1")
    again = SideIndex.load(tmp_path, "c", collection_id="col-1")
    assert again is not None
    _same(side, again)


def test_an_empty_index_round_trips(tmp_path: Path) -> None:
    SideIndex().save(tmp_path, "e", collection_id="x")
    loaded = SideIndex.load(tmp_path, "e", collection_id="x")
    assert loaded is not None and loaded.live_count() == 0 and loaded.bm25.top("anything", 3) == []


def test_a_truncated_snapshot_is_refused_not_misread(tmp_path: Path) -> None:
    _side().save(tmp_path, "c", collection_id="col")
    path = tmp_path / "c.index"
    path.write_bytes(path.read_bytes()[:-200])
    assert SideIndex.load(tmp_path, "c", collection_id="col") is None


def _write_first_format(side: SideIndex, folder: Path, name: str, collection_id: str) -> None:
    """The snapshot format before this one (``.npz`` arrays + ``.json``), as it was written."""
    arrays, scalars = side.bm25.to_arrays()
    with open(folder / f"{name}.npz", "wb") as fh:
        np.savez(fh, **arrays)
    hashes = [side._hash_at(i) if a else "" for i, a in enumerate(side.alive)]
    meta = {
        "schema": 1,
        "collection": collection_id,
        "bm25": scalars,
        "ids": side.ids,
        "namespaces": side.namespaces,
        "domains": side.domains,
        "sources": side.sources,
        "alive": side.alive,
        "hashes": hashes,
        "retired": sorted(side.retired),
    }
    (folder / f"{name}.json").write_text(json.dumps(meta), encoding="utf-8")


def test_the_first_snapshot_format_is_read_and_replaced_on_open(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    records = [ExperienceRecord(text=f"gizmo number {i} fits sprocket {i % 4}") for i in range(30)]
    with ChromaExperienceStore(path, embedder=HashEmbedder(), near_duplicate_threshold=None) as store:
        store.add(records)
        expected = [h.record.id for h in store.search("gizmo sprocket 2", k=5, mode="bm25")]
        side = store._folder.side[("problem", "default")]
        name = store._folder.names[("problem", "default")]
        collection_id = str(store._folder.collections[("problem", "default")].id)
    lexical = path / "xolver-lexical"
    for f in lexical.iterdir():
        f.unlink()
    _write_first_format(side, lexical, name, collection_id)
    loaded = SideIndex.load(lexical, name, collection_id=collection_id)
    assert loaded is not None and loaded.legacy
    _same(side, loaded)
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        assert [h.record.id for h in store.search("gizmo sprocket 2", k=5, mode="bm25")] == expected
    assert sorted(f.suffix for f in lexical.iterdir()) == [".index"]


class _Reads:
    """Counts what chromadb returns to `Collection.get` (the real method, wrapped)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        self.records = 0
        real = Collection.get

        def get(collection: Collection, *args: Any, **kwargs: Any) -> Any:
            result = real(collection, *args, **kwargs)
            self.calls.append(kwargs)
            self.records += len(result["ids"])
            return result

        monkeypatch.setattr(Collection, "get", get)


def test_opening_a_store_reads_no_record_and_a_first_query_reads_only_its_hits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mem"
    records = [ExperienceRecord(text=f"record {i} about topic {i % 17} and widgets {i % 5}") for i in range(400)]
    # Closing leaves a snapshot (a bulk writer's close does; here the threshold is lowered).
    monkeypatch.setattr(_folder, "COMPACT_ON_CLOSE", 100)
    with ChromaExperienceStore(path, embedder=HashEmbedder(), near_duplicate_threshold=None) as store:
        for start in range(0, len(records), 100):
            store.add(records[start : start + 100])
    tokenised: list[str] = []
    real_add = BM25Index.add

    def counting_add(index: BM25Index, text: str) -> int:
        tokenised.append(text)
        return real_add(index, text)

    monkeypatch.setattr(BM25Index, "add", counting_add)
    counted = _Reads(monkeypatch)
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        assert counted.records == 0
        hits = store.search("topic 3 widgets 2", k=5, mode="bm25")
        assert len(hits) == 5
        # Only the hits were fetched, by id; nothing was paged through, nothing tokenised again.
        assert counted.records == 5
        assert all(call.get("ids") for call in counted.calls)
        hits = store.search("topic 4 widgets 1", k=5, mode="hybrid")
        # The hybrid query fetches its BM25 candidates (20 for k=5); the dense ones come with the query.
        assert len(hits) == 5 and counted.records <= 5 + 20
        assert store.count() == 400
    assert tokenised == []


def test_a_bulk_writer_leaves_a_snapshot_not_a_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_folder, "COMPACT_ON_CLOSE", 100)
    lexical = tmp_path / "mem" / "xolver-lexical"
    with ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder(), near_duplicate_threshold=None) as store:
        store.add([ExperienceRecord(text=f"bulk line {i}") for i in range(150)])
        assert list(lexical.glob("*.jsonl"))
    assert not list(lexical.glob("*.jsonl"))
    # A small writer leaves its journal (a snapshot costs a pass over every record).
    with ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder(), near_duplicate_threshold=None) as store:
        store.add([ExperienceRecord(text=f"small line {i}") for i in range(10)])
    assert list(lexical.glob("*.jsonl"))
    with ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder()) as store:
        assert store.count() == 160
        assert [h.record.text for h in store.search("bulk line 77", k=1, mode="bm25")] == ["bulk line 77"]
        assert [h.record.text for h in store.search("small line 7", k=1, mode="bm25")] == ["small line 7"]


@pytest.mark.slow
def test_records_another_process_adds_are_seen_by_an_open_store(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    store = ChromaExperienceStore(path, embedder=HashEmbedder(), near_duplicate_threshold=None)
    store.add([ExperienceRecord(text="a local record about hexagons")])
    assert len(store.search("hexagons", k=5, mode="bm25")) == 1  # the side index is loaded
    done = subprocess.run(
        [sys.executable, str(WORKER), "add", str(path), "Z", "30", "10"], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    # The next search (BM25 and dense) sees the other process's records without a reopen.
    texts = [h.record.text for h in store.search("Z record about topic 5", k=40, mode="bm25")]
    assert "Z record 5 about topic 5" in texts and len([t for t in texts if t.startswith("Z record")]) == 30
    assert store.count() == 31
    dense = store.search("Z record 12 about topic 12", k=1, mode="dense")
    assert dense[0].record.text == "Z record 12 about topic 12"
    store.close()
