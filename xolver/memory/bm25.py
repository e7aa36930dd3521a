"""BM25 scoring and `InMemoryExperienceStore`, the paper's retriever over an in-process list.

BM25 is implemented here (Okapi BM25, k1 = 1.5, b = 0.75) rather than taken from rank_bm25 because
the index must grow one record at a time as solves write experience back.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Sequence

from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord

__all__ = ["BM25Index", "InMemoryExperienceStore", "tokenize"]

_TOKEN = re.compile(r"[a-z0-9]+")
# Words that carry no topic; dropping them keeps BM25 from matching on "the" and "is".
_STOP = frozenset(
    "a an and are as at be by for from has have how if in is it its of on or that the their then there these this to was "
    "were what when where which who will with you your".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens without stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


class BM25Index:
    """An incrementally growing Okapi BM25 index over documents identified by position."""

    def __init__(self, *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs: list[Counter[str]] = []
        self._lengths: list[int] = []
        self._df: Counter[str] = Counter()
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, text: str) -> int:
        terms = Counter(tokenize(text))
        self._docs.append(terms)
        length = sum(terms.values())
        self._lengths.append(length)
        self._total_length += length
        self._df.update(terms.keys())
        return len(self._docs) - 1

    def scores(self, query: str, candidates: Sequence[int] | None = None) -> dict[int, float]:
        """BM25 score of each candidate document (all by default) with a positive score."""
        n = len(self._docs)
        if n == 0:
            return {}
        avg = self._total_length / n or 1.0
        q_terms = set(tokenize(query))
        idf = {t: math.log(1 + (n - self._df[t] + 0.5) / (self._df[t] + 0.5)) for t in q_terms if self._df[t]}
        if not idf:
            return {}
        out: dict[int, float] = {}
        for i in candidates if candidates is not None else range(n):
            doc = self._docs[i]
            norm = self.k1 * (1 - self.b + self.b * self._lengths[i] / avg)
            s = 0.0
            for t, w in idf.items():
                f = doc.get(t)
                if f:
                    s += w * f * (self.k1 + 1) / (f + norm)
            if s > 0:
                out[i] = s
        return out


class InMemoryExperienceStore:
    """An `ExperienceStore` held in process memory, searched with BM25 (the paper's retriever).

    Thread-safe. De-duplicates by content hash. Lost when the process ends: use the Chroma store
    for a memory that persists.
    """

    def __init__(self, records: Sequence[ExperienceRecord] = ()) -> None:
        self._records: list[ExperienceRecord] = []
        self._hashes: set[str] = set()
        self._index = BM25Index()
        self._lock = threading.Lock()
        self.add(records)

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        written: list[str] = []
        with self._lock:
            for record in records:
                h = record.hash
                if h in self._hashes:
                    continue
                self._hashes.add(h)
                self._records.append(record)
                self._index.add(record.search_text())
                written.append(record.id)
        return written

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str = "default",
    ) -> list[ScoredRecord]:
        if k <= 0:
            return []
        with self._lock:
            candidates = [
                i
                for i, r in enumerate(self._records)
                if r.namespace == namespace
                and (kind is None or r.kind == kind)
                and (domain is None or r.domain == domain)
            ]
            scores = self._index.scores(query, candidates)
            # Ties broken by insertion order so results are deterministic.
            best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
            hits = []
            for i, s in best:
                record = self._records[i]
                record.times_retrieved += 1
                hits.append(ScoredRecord(record=record.model_copy(), score=s))
            return hits

    def count(self, *, namespace: str | None = None) -> int:
        with self._lock:
            if namespace is None:
                return len(self._records)
            return sum(1 for r in self._records if r.namespace == namespace)

    def all(self, *, namespace: str | None = None) -> list[ExperienceRecord]:
        with self._lock:
            return [r.model_copy() for r in self._records if namespace is None or r.namespace == namespace]
