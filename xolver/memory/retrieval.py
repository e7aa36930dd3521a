"""The graph's retrieve step over any `ExperienceStore`: related problems, strategies and code.

`retrieve_experience` embeds the query once (through the store) and asks the store's `search` for
twice the top k of each kind. How a store ranks (hybrid dense + BM25 for Chroma, BM25 for the
in-memory store) is the store's business; the fusion itself lives in `xolver.memory.hybrid`. Then,
here, for every store alike: retired records are dropped, each hit gets its cosine similarity to
the query (embedded when the ranking did not give it), hits below the similarity floor are dropped,
and the rest are re-ranked by relevance x track record (`xolver.memory.curation.rank_by_usefulness`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from xolver.memory.base import ExperienceStore, SearchMode, search_mode
from xolver.memory.curation import rank_by_usefulness
from xolver.memory.records import RecordKind, ScoredRecord

__all__ = ["RetrievedExperience", "method_only", "retrieve_experience"]


@dataclass(frozen=True)
class RetrievedExperience:
    """What the retrieve step hands to the solvers: top hits of each kind, best first."""

    problems: tuple[ScoredRecord, ...] = ()
    strategies: tuple[ScoredRecord, ...] = ()
    code: tuple[ScoredRecord, ...] = ()

    @property
    def ids(self) -> list[str]:
        """Ids of every retrieved record (for `record_use` after the solve)."""
        return [h.record.id for h in (*self.problems, *self.strategies, *self.code)]

    def __bool__(self) -> bool:
        return bool(self.problems or self.strategies or self.code)

    def __len__(self) -> int:
        return len(self.problems) + len(self.strategies) + len(self.code)


def retrieve_experience(
    store: ExperienceStore,
    query: str,
    *,
    namespace: str = "default",
    domain: str | None = None,
    k_problems: int = 5,
    k_strategies: int = 3,
    k_code: int = 3,
    mode: SearchMode = "hybrid",
    min_similarity: float | None = None,
) -> RetrievedExperience:
    """Retrieve the experience relevant to a problem: problems, strategies and code, top k each.

    Synchronous and thread-safe with the shipped stores: the graph calls it from a worker thread.

    Args:
        store: any `ExperienceStore`.
        query: the problem text.
        namespace: the tenant whose memory is searched.
        domain: only records of this domain (e.g. "math", "code"); None for all.
        k_problems: solved problems to return (paper: 5).
        k_strategies: strategies to return.
        k_code: code fragments to return.
        mode: "hybrid", "dense" or "bm25" (the paper's retriever).
        min_similarity: drop hits whose cosine similarity to the query is below this (None: keep
            all). Ignored by a store without vectors (its `embed` gives empty vectors).

    Raises:
        UserError: an unknown mode.
    """
    mode = search_mode(mode)
    wanted = max(k_problems, k_strategies, k_code)
    # One embedding of the query serves all three kinds (and the similarity floor in bm25 mode).
    vector = store.embed([query])[0] if wanted > 0 and (mode != "bm25" or min_similarity is not None) else None
    if vector is not None and not vector:
        vector = None  # a store without vectors

    def one(kind: RecordKind, k: int) -> tuple[ScoredRecord, ...]:
        if k <= 0:
            return ()
        hits = store.search(
            query, k=2 * k, mode=mode, query_vector=vector, kind=kind, domain=domain, namespace=namespace
        )
        hits = [h for h in hits if not h.record.retired]
        if vector is not None:
            hits = _with_similarity(store, vector, hits)
            if min_similarity is not None:
                hits = [h for h in hits if h.similarity is not None and h.similarity >= min_similarity]
        return tuple(rank_by_usefulness(hits)[:k])

    return RetrievedExperience(
        problems=one("problem", k_problems), strategies=one("strategy", k_strategies), code=one("code", k_code)
    )


def _with_similarity(store: ExperienceStore, vector: list[float], hits: list[ScoredRecord]) -> list[ScoredRecord]:
    """Hits with their cosine similarity to the query, embedding the texts of those without one."""
    missing = [h for h in hits if h.similarity is None]
    if missing:
        vectors = store.embed([h.record.search_text() for h in missing])
        for h, v in zip(missing, vectors, strict=True):
            if v:
                h.similarity = math.fsum(a * b for a, b in zip(vector, v, strict=False))
    return hits


_GSM8K_FINAL = re.compile(r"^\s*####.*$", re.MULTILINE)
_BOXED = re.compile(r"\\boxed\{")


def method_only(solution: str) -> str:
    """A solution with its final-answer markers removed, so it reads as a method, not an answer."""
    text = _GSM8K_FINAL.sub("", solution)
    text = _BOXED.sub("{", text)
    return text.strip()
