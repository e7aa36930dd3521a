"""The side index of a chromadb collection: BM25 plus the metadata needed to filter it.

chromadb has no lexical ranking, so `ChromaExperienceStore` keeps one of these per collection. It
also carries the content hashes used for de-duplication, per-record namespace, domain and source,
and which records are retired, so filters and statistics need no round trip to chromadb.

It persists with the folder (``xolver-lexical/<collection>.npz`` + ``.json``: a snapshot, and
``.jsonl``: a journal of the writes since). Opening a collection loads the snapshot and replays the
journal instead of re-tokenising every document; the snapshot names the chromadb collection id, and
a loaded index whose live count differs from the collection's is brought up to date from chromadb
(so a crash between a chromadb write and its journal line costs a sync, not a wrong index). No
pickle: arrays and JSON only.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xolver.memory.bm25 import BM25Index
from xolver.memory.records import ExperienceRecord

__all__ = ["SideIndex", "add_op", "record_from", "record_metadata"]


@dataclass
class SideIndex:
    """Per-collection BM25 index and the metadata needed to filter it without asking chromadb.

    Positions (BM25 document numbers) are stable; removed records leave a dead position behind.
    """

    bm25: BM25Index = field(default_factory=BM25Index)
    ids: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)
    hashes: set[str] = field(default_factory=set)
    hash_of: dict[str, str] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)
    # Lines in this index's journal file since its last snapshot (decides when to compact).
    journal_lines: int = 0
    # Filter masks are rebuilt only after a change: building one is a pass over every record.
    _masks: dict[tuple[str, str | None], Any] = field(default_factory=dict)

    def add(self, record_id: str, document: str, meta: dict[str, Any]) -> None:
        if record_id in self.position:
            return
        self.position[record_id] = self.bm25.add(document)
        self.ids.append(record_id)
        self.namespaces.append(str(meta.get("namespace", "default")))
        self.domains.append(str(meta.get("domain", "general")))
        self.sources.append(str(meta.get("source", "")))
        self.alive.append(True)
        self._masks.clear()
        h = str(meta.get("hash", ""))
        self.hashes.add(h)
        self.hash_of[record_id] = h
        if meta.get("retired"):
            self.retired.add(record_id)

    def set_retired(self, record_id: str, retired: bool) -> None:
        if record_id not in self.position or (record_id in self.retired) == retired:
            return
        (self.retired.add if retired else self.retired.discard)(record_id)
        self._masks.clear()

    def remove(self, record_id: str) -> None:
        pos = self.position.pop(record_id, None)
        if pos is None:
            return
        self.bm25.remove(pos)
        self.alive[pos] = False
        self._masks.clear()
        self.hashes.discard(self.hash_of.pop(record_id, ""))
        self.retired.discard(record_id)

    def mask(self, namespace: str, domain: str | None) -> Any:
        """A numpy boolean array: which positions are alive, not retired, and in `namespace` (and `domain`)."""
        import numpy as np

        key = (namespace, domain)
        cached = self._masks.get(key)
        if cached is None:
            cached = np.fromiter(
                (
                    a and ns == namespace and (domain is None or d == domain)
                    for a, ns, d in zip(self.alive, self.namespaces, self.domains, strict=False)
                ),
                dtype=bool,
                count=len(self.alive),
            )
            for rid in self.retired:
                cached[self.position[rid]] = False
            self._masks[key] = cached
        return cached

    def live_count(self) -> int:
        return self.bm25.live

    def live_ids_from(self, source: str | None) -> list[str]:
        """Ids of the live records whose source is `source`."""
        return [rid for i, rid in enumerate(self.ids) if self.alive[i] and self.sources[i] == source]

    # ------------------------------------------------------------------ persistence

    def save(self, folder: Path, name: str, *, collection_id: str) -> None:
        """Write a snapshot of this index and empty its journal (atomically: tmp files, then rename)."""
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        arrays, scalars = self.bm25.to_arrays()
        meta = {
            "schema": 1,
            "collection": collection_id,
            "bm25": scalars,
            "ids": self.ids,
            "namespaces": self.namespaces,
            "domains": self.domains,
            "sources": self.sources,
            "alive": self.alive,
            "hashes": [
                self.hash_of.get(rid, "") if alive else "" for rid, alive in zip(self.ids, self.alive, strict=True)
            ],
            "retired": sorted(self.retired),
        }
        tag = f"{os.getpid()}.tmp"
        npz, js, journal = _paths(folder, name)
        with open(npz.with_name(f"{npz.name}.{tag}"), "wb") as fh:
            np.savez(fh, **arrays)
        js.with_name(f"{js.name}.{tag}").write_text(json.dumps(meta), encoding="utf-8")
        # Order matters: the arrays first, then the JSON that names the collection, then the journal.
        os.replace(npz.with_name(f"{npz.name}.{tag}"), npz)
        os.replace(js.with_name(f"{js.name}.{tag}"), js)
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
        self.journal_lines = 0

    @classmethod
    def load(cls, folder: Path, name: str, *, collection_id: str) -> SideIndex | None:
        """The persisted index of collection `collection_id` with its journal replayed; None when
        there is none, it belongs to another collection, or it is unreadable."""
        import numpy as np

        npz, js, journal = _paths(folder, name)
        try:
            meta = json.loads(js.read_text(encoding="utf-8"))
            if meta.get("schema") != 1 or meta.get("collection") != collection_id:
                return None
            with np.load(npz) as data:
                arrays = {k: data[k] for k in data.files}
            side = cls(bm25=BM25Index.from_arrays(arrays, meta["bm25"]))
            side.ids = list(meta["ids"])
            side.namespaces = list(meta["namespaces"])
            side.domains = list(meta["domains"])
            side.sources = list(meta["sources"])
            side.alive = [bool(a) for a in meta["alive"]]
            for pos, (rid, alive, h) in enumerate(zip(side.ids, side.alive, meta["hashes"], strict=True)):
                if alive:
                    side.position[rid] = pos
                    side.hash_of[rid] = h
                    side.hashes.add(h)
            side.retired = set(meta["retired"]) & side.position.keys()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        side._replay(journal)
        return side

    def journal(self, folder: Path, name: str, ops: list[dict[str, Any]]) -> None:
        """Append write operations (``add``, ``remove``, ``retired``) to this index's journal."""
        if not ops:
            return
        folder.mkdir(parents=True, exist_ok=True)
        with open(_paths(folder, name)[2], "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(op) + "\n" for op in ops))
        self.journal_lines += len(ops)

    def _replay(self, journal: Path) -> None:
        try:
            lines = journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                op = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash; the count check against chromadb repairs the rest
            match op.get("op"):
                case "add":
                    self.add(str(op["id"]), str(op["doc"]), dict(op["meta"]))
                case "remove":
                    self.remove(str(op["id"]))
                case "retired":
                    self.set_retired(str(op["id"]), bool(op["value"]))
                case _:
                    pass
        self.journal_lines = len(lines)


def _paths(folder: Path, name: str) -> tuple[Path, Path, Path]:
    return folder / f"{name}.npz", folder / f"{name}.json", folder / f"{name}.jsonl"


def add_op(record_id: str, document: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The journal line of an added record (only the metadata the side index keeps)."""
    keep = {k: meta[k] for k in ("namespace", "domain", "source", "hash", "retired") if k in meta}
    return {"op": "add", "id": record_id, "doc": document, "meta": keep}


def record_metadata(record: ExperienceRecord) -> dict[str, str | int | float | bool]:
    """The chromadb metadata of a record."""
    # Filterable fields are top-level; the whole record rides along as JSON so it round-trips
    # exactly (chromadb metadata cannot hold None).
    return {
        "namespace": record.namespace,
        "kind": record.kind,
        "domain": record.domain,
        "source": record.source,
        "hash": record.hash,
        "verified": record.verified,
        "retired": record.retired,
        "created_at": record.created_at,
        "record": record.model_dump_json(),
    }


def record_from(meta: Any) -> ExperienceRecord | None:
    """The record inside chromadb metadata; None when it is missing or invalid."""
    try:
        return ExperienceRecord.model_validate_json(str(meta["record"]))
    except (KeyError, TypeError, ValidationError):
        return None
