"""The in-process side index of a chromadb collection: BM25 plus the metadata needed to filter it.

chromadb has no lexical ranking, so `ChromaExperienceStore` keeps one of these per collection, built
from the collection's documents on first use and updated on every write. It also carries the
content hashes used for de-duplication and per-record namespace, domain and source, so filters and
statistics need no round trip to chromadb.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from xolver.memory.bm25 import BM25Index
from xolver.memory.records import ExperienceRecord

__all__ = ["SideIndex", "record_from", "record_metadata"]


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

    def remove(self, record_id: str) -> None:
        pos = self.position.pop(record_id, None)
        if pos is None:
            return
        self.bm25.remove(pos)
        self.alive[pos] = False
        self._masks.clear()
        self.hashes.discard(self.hash_of.pop(record_id, ""))

    def mask(self, namespace: str, domain: str | None) -> Any:
        """A numpy boolean array: which positions are alive and in `namespace` (and `domain`)."""
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
            self._masks[key] = cached
        return cached

    def live_count(self) -> int:
        return self.bm25.live

    def live_ids_from(self, source: str | None) -> list[str]:
        """Ids of the live records whose source is `source`."""
        return [rid for i, rid in enumerate(self.ids) if self.alive[i] and self.sources[i] == source]


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
        "created_at": record.created_at,
        "record": record.model_dump_json(),
    }


def record_from(meta: Any) -> ExperienceRecord | None:
    """The record inside chromadb metadata; None when it is missing or invalid."""
    try:
        return ExperienceRecord.model_validate_json(str(meta["record"]))
    except (KeyError, TypeError, ValidationError):
        return None
