"""`InMemoryExperienceStore`: the paper's retriever (BM25) over records held in process memory."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, get_args

from xolver.errors import UserError
from xolver.memory.base import MemoryStats, SearchFilter, SearchMode, search_mode
from xolver.memory.bm25 import BM25Index
from xolver.memory.curation import CurationPolicy, credit, retire
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["InMemoryExperienceStore"]

_KINDS: tuple[RecordKind, ...] = get_args(RecordKind)


class InMemoryExperienceStore:
    """An `ExperienceStore` held in process memory, searched with BM25 (the paper's retriever).

    Thread-safe. De-duplicates by content hash. It keeps no vectors: every search mode ranks by
    BM25, `embed` gives one empty vector per text and `add_embedded` ignores the vectors. Lost when
    the process ends: use the Chroma store for a memory that persists.

    Args:
        records: records to start with.
        curation: when records that keep hurting are retired (`xolver.memory.curation`).
    """

    def __init__(self, records: Sequence[ExperienceRecord] = (), *, curation: CurationPolicy | None = None) -> None:
        self.curation = curation if curation is not None else CurationPolicy()
        self._records: list[ExperienceRecord | None] = []  # None where a record was forgotten
        self._position: dict[str, int] = {}
        self._hashes: set[str] = set()
        self._index = BM25Index()
        self._lock = threading.Lock()
        self.add(records)

    def __enter__(self) -> InMemoryExperienceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; the records stay readable."""

    # ------------------------------------------------------------------ searching

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        query_vector: Sequence[float] | None = None,
        **where: Unpack[SearchFilter],
    ) -> list[ScoredRecord]:
        """The `k` best BM25 matches, best first (whatever the mode: this store has no vectors)."""
        if k <= 0:
            return []
        search_mode(mode)
        kind, domain, namespace = where.get("kind"), where.get("domain"), where.get("namespace")
        if namespace is None:
            namespace = "default"
        with self._lock:
            candidates = [
                i
                for i, r in enumerate(self._records)
                if r is not None
                and not r.retired
                and r.namespace == namespace
                and (kind is None or r.kind == kind)
                and (domain is None or r.domain == domain)
            ]
            scores = self._index.scores(query, candidates)
            # Ties broken by insertion order so results are deterministic.
            best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
            return [ScoredRecord(record=self._live(i).model_copy(), score=s) for i, s in best]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One empty vector per text: this store ranks without vectors."""
        return [[] for _ in texts]

    # ------------------------------------------------------------------ writing

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        """Store records, skipping content duplicates and known ids; return the ids written."""
        written: list[str] = []
        with self._lock:
            for record in records:
                h = record.hash
                if h in self._hashes or record.id in self._position:
                    continue
                self._hashes.add(h)
                self._position[record.id] = len(self._records)
                self._records.append(record)
                self._index.add(record.search_text())
                written.append(record.id)
        return written

    def add_embedded(self, records: Sequence[ExperienceRecord], vectors: Sequence[Sequence[float]]) -> list[str]:
        """`add`; the vectors are checked for number and otherwise ignored."""
        if len(records) != len(vectors):
            raise UserError(f"{len(records)} records but {len(vectors)} vectors")
        return self.add(records)

    def record_use(self, ids: Sequence[str], score: float) -> None:
        """Credit (`score` >= 0.5) or blame each record for the grounded outcome of a solve it was
        shown in; a record that keeps hurting is retired (`xolver.memory.curation.credit`)."""
        with self._lock:
            for rid in ids:
                pos = self._position.get(rid)
                if pos is not None:
                    credit(self._live(pos), score, self.curation)

    def retire(self, ids: Sequence[str], *, reason: str) -> int:
        """Retire records: kept for audit, never retrieved; returns how many were newly retired."""
        changed = 0
        with self._lock:
            for rid in ids:
                pos = self._position.get(rid)
                if pos is not None and not self._live(pos).retired:
                    retire(self._live(pos), reason)
                    changed += 1
        return changed

    def forget(
        self,
        *,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        source: str | None = None,
    ) -> int:
        """Delete records by id, by namespace, or by source; return how many were deleted.

        Raises:
            UserError: no criterion, or more than one, was given.
        """
        if sum(x is not None for x in (ids, namespace, source)) != 1:
            raise UserError("forget needs exactly one of: ids, namespace, source")
        wanted = set(ids or ())
        with self._lock:
            doomed = [
                pos
                for pos in self._position.values()
                if (r := self._live(pos)).id in wanted or r.namespace == namespace or r.source == source
            ]
            for pos in doomed:
                record = self._live(pos)
                self._records[pos] = None
                del self._position[record.id]
                self._hashes.discard(record.hash)
                self._index.remove(pos)
            return len(doomed)

    # ------------------------------------------------------------------ reading

    def count(self, *, namespace: str | None = None, kind: RecordKind | None = None) -> int:
        """Number of records (in one namespace, or in all; of one kind, or of all)."""
        return sum(1 for _ in self._select(namespace, kind))

    def get(self, ids: Sequence[str]) -> list[ExperienceRecord]:
        """Copies of the stored records with these ids (unknown ids are skipped), in the order given."""
        with self._lock:
            return [self._live(self._position[i]).model_copy() for i in ids if i in self._position]

    def iter_records(
        self, *, namespace: str | None = None, kind: RecordKind | None = None
    ) -> Iterator[ExperienceRecord]:
        """Copies of every stored record (of one namespace and kind, or all), in insertion order."""
        return iter([r.model_copy() for r in self._select(namespace, kind)])

    def namespaces(self) -> list[str]:
        """The namespaces that hold records, sorted."""
        return sorted({r.namespace for r in self._select(None, None)})

    def stats(self, *, namespace: str | None = None) -> MemoryStats:
        """Counts by kind, namespace, domain and source (no path, embedder or dimension)."""
        records = self._select(namespace, None)
        by_kind = Counter(r.kind for r in records)
        return MemoryStats(
            total=len(records),
            by_kind={k: by_kind.get(k, 0) for k in _KINDS},
            by_namespace=dict(sorted(Counter(r.namespace for r in records).items())),
            by_domain=dict(sorted(Counter(r.domain for r in records).items())),
            by_source=dict(sorted(Counter(r.source for r in records).items())),
        )

    def _select(self, namespace: str | None, kind: RecordKind | None) -> list[ExperienceRecord]:
        with self._lock:
            return [
                r
                for r in self._records
                if r is not None
                and (namespace is None or r.namespace == namespace)
                and (kind is None or r.kind == kind)
            ]

    def _live(self, pos: int) -> ExperienceRecord:
        record = self._records[pos]
        assert record is not None, f"record position {pos} was forgotten"
        return record
