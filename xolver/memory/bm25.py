"""BM25 scoring (Okapi BM25, k1 = 1.5, b = 0.75), the paper's retriever.

Implemented here rather than taken from rank_bm25 because the index must grow one record at a time
as solves write experience back. `InMemoryExperienceStore` (in `xolver.memory.in_memory`) and the
Chroma store's side index rank with it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["BM25Index", "tokenize"]

_TOKEN = re.compile(r"[a-z0-9]+")
# Words that carry no topic; dropping them keeps BM25 from matching on "the" and "is".
_STOP_WORDS = (
    "a an and are as at be by for from has have how if in is it its of on or that the their then there these "
    "this to was were what when where which who will with you your"
)
_STOP = frozenset(_STOP_WORDS.split())


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens without stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


class BM25Index:
    """An incrementally growing Okapi BM25 index over documents identified by position."""

    def __init__(self, *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs: list[Counter[str] | None] = []
        self._lengths: list[int] = []
        self._df: Counter[str] = Counter()
        self._total_length = 0
        self._live = 0
        # Postings let `top` touch only documents that share a term with the query, which keeps a
        # query over 100k documents in milliseconds. A term's postings are its loaded ones (a slice
        # of `_base_postings`, see `from_arrays`) followed by the ones added since (`_tails`); a
        # removed document stays in them and is masked out (`_removed`), so no write ever copies a
        # posting list. Numpy views per term are built on first use and dropped when a write adds
        # to the term.
        self._tails: dict[str, list[tuple[int, int]]] = {}
        self._removed: set[int] = set()
        self._removed_array: Any = None
        self._arrays: dict[str, tuple[Any, Any]] = {}
        self._length_array: Any = None
        # A loaded index keeps its documents' terms as arrays (`from_arrays`): a document's Counter
        # is materialised only when it is removed (or scored by `scores`).
        self._base: tuple[list[str], Any, Any, Any] | None = None
        self._base_terms: dict[str, int] = {}
        self._base_postings: tuple[Any, Any, Any] | None = None

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def live(self) -> int:
        """Number of documents added and not removed."""
        return self._live

    def add(self, text: str) -> int:
        terms = Counter(tokenize(text))
        self._docs.append(terms)
        length = sum(terms.values())
        self._lengths.append(length)
        self._length_array = None
        self._total_length += length
        self._live += 1
        self._df.update(terms.keys())
        doc = len(self._docs) - 1
        tails, arrays = self._tails, self._arrays
        for term, freq in terms.items():
            tail = tails.get(term)
            if tail is None:
                tails[term] = [(doc, freq)]
            else:
                tail.append((doc, freq))
            arrays.pop(term, None)
        return doc

    def _term_postings(self, term: str) -> tuple[Any, Any]:
        """(documents, frequencies) of `term` as int64 numpy arrays, removed documents included."""
        import numpy as np

        base_docs: Any = None
        base_freqs: Any = None
        i = self._base_terms.get(term)
        if i is not None and self._base_postings is not None:
            offsets, docs, freqs = self._base_postings
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            base_docs, base_freqs = docs[lo:hi], freqs[lo:hi]
        tail = self._tails.get(term)
        if not tail:
            if base_docs is None:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            return base_docs.astype(np.int64), base_freqs.astype(np.int64)
        added = np.asarray(tail, dtype=np.int64).reshape(-1, 2)
        if base_docs is None:
            return added[:, 0], added[:, 1]
        return np.concatenate([base_docs, added[:, 0]]), np.concatenate([base_freqs, added[:, 1]])

    def _term_arrays(self, term: str) -> tuple[Any, Any]:
        """(documents, float frequencies) of `term` for scoring, cached until a write adds to it."""
        import numpy as np

        arrays = self._arrays.get(term)
        if arrays is None:
            docs, freqs = self._term_postings(term)
            arrays = (docs, freqs.astype(np.float64))
            self._arrays[term] = arrays
        return arrays

    def _terms(self, doc: int) -> Counter[str]:
        """The term counts of document `doc` (empty once removed)."""
        terms = self._docs[doc]
        if terms is None:
            assert self._base is not None
            vocab, offsets, term_ids, freqs = self._base
            lo, hi = int(offsets[doc]), int(offsets[doc + 1])
            terms = Counter(dict(zip((vocab[t] for t in term_ids[lo:hi]), freqs[lo:hi].tolist(), strict=True)))
            self._docs[doc] = terms
        return terms

    def remove(self, doc: int) -> None:
        """Drop a document; its position stays taken (positions are identifiers)."""
        if doc in self._removed or not 0 <= doc < len(self._docs):
            return
        terms = self._terms(doc)
        self._total_length -= self._lengths[doc]
        self._live -= 1
        for term in terms:
            self._df[term] -= 1
        self._removed.add(doc)
        self._removed_array = None
        self._docs[doc] = Counter()
        self._lengths[doc] = 0
        self._length_array = None

    def top(self, query: str, k: int, *, accept: Sequence[bool] | None = None) -> list[tuple[int, float]]:
        """The `k` best (document, score) pairs with a positive score, best first.

        Args:
            query: free text.
            k: how many to return.
            accept: optional per-document mask; documents where it is false are left out.

        Ties are broken by position so results are deterministic.
        """
        import numpy as np

        n = len(self._docs)
        if n == 0 or k <= 0 or self._live == 0:
            return []
        avg = self._total_length / self._live or 1.0
        if self._length_array is None:
            self._length_array = np.asarray(self._lengths, dtype=np.float64)
        lengths = self._length_array
        acc = np.zeros(n, dtype=np.float64)
        touched = False
        for term in set(tokenize(query)):
            df = self._df.get(term, 0)
            if df <= 0:
                continue
            idf = math.log(1 + (self._live - df + 0.5) / (df + 0.5))
            ids, freqs = self._term_arrays(term)
            norm = self.k1 * (1 - self.b + self.b * lengths[ids] / avg)
            acc[ids] += idf * freqs * (self.k1 + 1) / (freqs + norm)
            touched = True
        if not touched:
            return []
        if self._removed:
            if self._removed_array is None:
                self._removed_array = np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))
            acc[self._removed_array] = 0.0
        if accept is not None:
            acc[~np.asarray(accept, dtype=bool)] = 0.0
        positive = np.flatnonzero(acc > 0)
        if positive.size == 0:
            return []
        if positive.size > k:
            # argpartition narrows to the k best before the (stable) full sort.
            part = positive[np.argpartition(-acc[positive], k - 1)[:k]]
            kth = acc[part].min()
            positive = positive[acc[positive] >= kth]
        order = sorted(positive.tolist(), key=lambda i: (-acc[i], i))[:k]
        return [(i, float(acc[i])) for i in order]

    def scores(self, query: str, candidates: Sequence[int] | None = None) -> dict[int, float]:
        """BM25 score of each candidate document (all by default) with a positive score."""
        n = self._live
        if n == 0:
            return {}
        avg = self._total_length / n or 1.0
        q_terms = set(tokenize(query))
        idf = {t: math.log(1 + (n - self._df[t] + 0.5) / (self._df[t] + 0.5)) for t in q_terms if self._df[t]}
        if not idf:
            return {}
        out: dict[int, float] = {}
        for i in candidates if candidates is not None else range(len(self._docs)):
            if i in self._removed:
                continue
            doc = self._terms(i)
            norm = self.k1 * (1 - self.b + self.b * self._lengths[i] / avg)
            s = 0.0
            for t, w in idf.items():
                f = doc.get(t)
                if f:
                    s += w * f * (self.k1 + 1) / (f + norm)
            if s > 0:
                out[i] = s
        return out

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The index as numpy arrays and JSON-able scalars, for `from_arrays` (no pickle)."""
        import numpy as np

        vocab = sorted(t for t, df in self._df.items() if df > 0)
        term_docs: list[Any] = []
        term_freqs: list[Any] = []
        offsets = [0]
        removed = np.zeros(len(self._docs), dtype=bool)
        if self._removed:
            removed[np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))] = True
        for term in vocab:
            docs_of, freqs_of = self._term_postings(term)
            if self._removed:
                keep = ~removed[docs_of]
                docs_of, freqs_of = docs_of[keep], freqs_of[keep]
            term_docs.append(np.asarray(docs_of, dtype=np.int32))
            term_freqs.append(np.asarray(freqs_of, dtype=np.int32))
            offsets.append(offsets[-1] + len(docs_of))
        docs = np.concatenate(term_docs) if term_docs else np.zeros(0, dtype=np.int32)
        freqs = np.concatenate(term_freqs) if term_freqs else np.zeros(0, dtype=np.int32)
        term_of = np.repeat(
            np.arange(len(vocab), dtype=np.int32), np.diff(np.asarray(offsets, dtype=np.int64)).astype(np.int64)
        )
        # The same postings ordered by document give each document's terms (for removal).
        order = np.argsort(docs, kind="stable")
        doc_offsets = np.searchsorted(docs[order], np.arange(len(self._docs) + 1))
        arrays_out = {
            "term_offsets": np.asarray(offsets, dtype=np.int64),
            "post_docs": docs,
            "post_freqs": freqs,
            "doc_offsets": doc_offsets.astype(np.int64),
            "doc_terms": term_of[order],
            "doc_freqs": freqs[order],
            "lengths": np.asarray(self._lengths, dtype=np.int32),
            "removed": np.asarray(sorted(self._removed), dtype=np.int32),
        }
        scalars = {"k1": self.k1, "b": self.b, "vocab": vocab, "total_length": self._total_length, "live": self._live}
        return arrays_out, scalars

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], scalars: dict[str, Any]) -> BM25Index:
        """The index `to_arrays` described, without re-tokenising any document.

        The arrays are used as they are (they may be read-only views of a memory-mapped file): no
        per-term or per-document Python object is made until a query or a write needs it, so
        loading costs about the same at 100k documents as at 1k.
        """
        import numpy as np

        index = cls(k1=float(scalars["k1"]), b=float(scalars["b"]))
        vocab: list[str] = list(scalars["vocab"])
        offsets = arrays["term_offsets"]
        index._base_terms = dict(zip(vocab, range(len(vocab)), strict=True))
        index._base_postings = (offsets, arrays["post_docs"], arrays["post_freqs"])
        index._df = Counter(dict(zip(vocab, np.diff(offsets).tolist(), strict=True)))
        lengths = arrays["lengths"]
        index._lengths = lengths.tolist()
        index._length_array = np.asarray(lengths, dtype=np.float64)
        index._docs = [None] * len(index._lengths)
        # Removed documents have no postings left in a snapshot; they are remembered so that a
        # second removal is a no-op (the first format did not list them: their length is 0).
        removed = arrays.get("removed")
        index._removed = set((np.flatnonzero(lengths == 0) if removed is None else removed).tolist())
        index._total_length = int(scalars["total_length"])
        index._live = int(scalars["live"])
        index._base = (vocab, arrays["doc_offsets"], arrays["doc_terms"], arrays["doc_freqs"])
        return index
