"""Hybrid retrieval: dense and BM25 rankings fused by reciprocal rank, with optional MMR diversity.

`retrieve_experience` is what the graph's retrieve step calls: it returns the problems, strategies
and code fragments relevant to a problem, top k of each kind, from any `ExperienceStore`. Stores
that can rank both ways (`HybridSearchable`, e.g. `ChromaExperienceStore`) get hybrid retrieval;
others (e.g. `InMemoryExperienceStore`, BM25 only) are asked through their plain `search`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from xolver.errors import UserError
from xolver.memory.base import ExperienceStore
from xolver.memory.records import RecordKind, ScoredRecord

__all__ = [
    "HybridSearchable",
    "RetrievedExperience",
    "hybrid_search",
    "mmr_select",
    "reciprocal_rank_fusion",
    "retrieve_experience",
]

SearchMode = Literal["hybrid", "dense", "bm25"]
# The constant from Cormack et al. (2009): damps the head of each ranking so that agreement between
# rankings matters more than a single first place.
RRF_K = 60


@runtime_checkable
class HybridSearchable(Protocol):
    """A store that can rank by dense similarity and by BM25 separately."""

    def dense_search(
        self,
        query: str | Sequence[float],
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str | None = None,
        with_vectors: bool = False,
    ) -> list[tuple[ScoredRecord, list[float] | None]]: ...

    def lexical_search(
        self,
        query: str,
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str | None = None,
    ) -> list[ScoredRecord]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], *, k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse rankings of ids: score(id) = sum over rankings of 1 / (k + rank), rank from 1.

    Returns (id, score) pairs, best first; ties keep the order of first appearance.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(dict.fromkeys(x for r in rankings for x in r))}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=False))


def mmr_select(
    query_vector: Sequence[float],
    candidates: Sequence[tuple[str, Sequence[float]]],
    k: int,
    *,
    diversity: float = 0.3,
    relevance: dict[str, float] | None = None,
) -> list[str]:
    """Maximal marginal relevance: pick `k` ids that are relevant and unlike each other.

    Args:
        query_vector: unit vector of the query.
        candidates: (id, unit vector) pairs, in relevance order.
        k: how many to pick.
        diversity: 0 keeps pure relevance order; 1 cares only about being unlike the picks so far.
        relevance: optional relevance per id in [0, 1] (default: cosine similarity to the query).
    """
    if not 0.0 <= diversity <= 1.0:
        raise UserError(f"MMR diversity must be in [0, 1], got {diversity!r}")
    rel = {cid: (relevance[cid] if relevance else _dot(query_vector, vec)) for cid, vec in candidates}
    vectors = dict(candidates)
    picked: list[str] = []
    remaining = [cid for cid, _ in candidates]
    while remaining and len(picked) < k:
        best_id, best_value = remaining[0], -math.inf
        for cid in remaining:
            redundancy = max((_dot(vectors[cid], vectors[p]) for p in picked), default=0.0)
            value = (1.0 - diversity) * rel[cid] - diversity * redundancy
            if value > best_value:
                best_id, best_value = cid, value
        picked.append(best_id)
        remaining.remove(best_id)
    return picked


def hybrid_search(
    store: ExperienceStore | HybridSearchable,
    query: str,
    *,
    k: int = 5,
    kind: RecordKind | None = None,
    domain: str | None = None,
    namespace: str | None = None,
    mode: SearchMode = "hybrid",
    candidates: int | None = None,
    mmr_diversity: float | None = None,
    query_vector: Sequence[float] | None = None,
) -> list[ScoredRecord]:
    """Search a store by dense similarity, BM25, or both fused by reciprocal rank.

    Args:
        store: a `HybridSearchable` store; any other `ExperienceStore` is searched with its own
            `search` (and `mode` is ignored).
        query: free text.
        k: how many hits.
        kind: only this kind.
        domain: only this domain.
        namespace: the namespace to search (a store's default when None).
        mode: "hybrid", "dense" or "bm25".
        candidates: how deep each ranking goes before fusion (default max(4k, 20)).
        mmr_diversity: when set, re-rank the fused candidates with MMR at this diversity.
        query_vector: the query's embedding when the caller already has it.

    Returns:
        Hits, best first. Scores are cosine similarity (dense), BM25 score (bm25) or the fused
        reciprocal-rank score (hybrid).
    """
    if k <= 0:
        return []
    if mode not in ("hybrid", "dense", "bm25"):
        raise UserError(f"unknown search mode {mode!r}; expected hybrid, dense or bm25")
    if not isinstance(store, HybridSearchable):
        plain: ExperienceStore = store
        return plain.search(query, k=k, kind=kind, domain=domain, namespace=namespace or "default")
    depth = candidates if candidates is not None else max(4 * k, 20)
    if mmr_diversity is not None:
        depth = max(depth, 3 * k)
    if mode == "bm25" and mmr_diversity is None:
        return store.lexical_search(query, k=k, kind=kind, domain=domain, namespace=namespace)
    if query_vector is None:
        query_vector = store.embed([query])[0]
    dense = store.dense_search(
        query_vector,
        k=depth if (mode == "hybrid" or mmr_diversity is not None) else k,
        kind=kind,
        domain=domain,
        namespace=namespace,
        with_vectors=mmr_diversity is not None,
    )
    by_id: dict[str, ScoredRecord] = {hit.record.id: hit for hit, _ in dense}
    vectors: dict[str, list[float]] = {hit.record.id: vec for hit, vec in dense if vec is not None}
    if mode == "dense":
        ranked = [(hit.record.id, hit.score) for hit, _ in dense]
    else:
        lexical = store.lexical_search(query, k=depth, kind=kind, domain=domain, namespace=namespace)
        for hit in lexical:
            by_id.setdefault(hit.record.id, hit)
        rankings = (
            [[h.record.id for h in lexical]]
            if mode == "bm25"
            else [[h.record.id for h, _ in dense], [h.record.id for h in lexical]]
        )
        ranked = reciprocal_rank_fusion(rankings)
    if mmr_diversity is not None:
        missing = [rid for rid, _ in ranked if rid not in vectors]
        if missing:
            texts = [by_id[rid].record.search_text() for rid in missing]
            vectors.update(zip(missing, store.embed(texts), strict=False))
        top = ranked[:depth]
        best = top[0][1] if top else 1.0
        relevance = {rid: (score / best if best else 0.0) for rid, score in top}
        picked = mmr_select(
            query_vector, [(rid, vectors[rid]) for rid, _ in top], k, diversity=mmr_diversity, relevance=relevance
        )
        score_of = dict(top)
        return [ScoredRecord(record=by_id[rid].record, score=score_of[rid]) for rid in picked]
    return [ScoredRecord(record=by_id[rid].record, score=score) for rid, score in ranked[:k]]


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
    store: ExperienceStore | HybridSearchable,
    query: str,
    *,
    namespace: str = "default",
    domain: str | None = None,
    k_problems: int = 5,
    k_strategies: int = 3,
    k_code: int = 3,
    mode: SearchMode = "hybrid",
    mmr_diversity: float | None = None,
) -> RetrievedExperience:
    """Retrieve the experience relevant to a problem: problems, strategies and code, top k each.

    Synchronous and thread-safe with the shipped stores: the graph calls it from a worker thread.

    Args:
        store: any `ExperienceStore`; hybrid retrieval when it is `HybridSearchable`.
        query: the problem text.
        namespace: the tenant whose memory is searched.
        domain: only records of this domain (e.g. "math", "code"); None for all.
        k_problems: solved problems to return (paper: 5).
        k_strategies: strategies to return.
        k_code: code fragments to return.
        mode: "hybrid", "dense" or "bm25" (the paper's retriever).
        mmr_diversity: when set, pick diverse hits by MMR at this diversity (0..1).
    """

    # One embedding of the query serves all three kinds.
    vector: list[float] | None = None
    if isinstance(store, HybridSearchable) and (mode != "bm25" or mmr_diversity is not None):
        vector = store.embed([query])[0]

    def one(kind: RecordKind, k: int) -> tuple[ScoredRecord, ...]:
        if k <= 0:
            return ()
        hits = hybrid_search(
            store,
            query,
            k=k,
            kind=kind,
            domain=domain,
            namespace=namespace,
            mode=mode,
            mmr_diversity=mmr_diversity,
            query_vector=vector,
        )
        return tuple(hits)

    return RetrievedExperience(
        problems=one("problem", k_problems), strategies=one("strategy", k_strategies), code=one("code", k_code)
    )


_GSM8K_FINAL = re.compile(r"^\s*####.*$", re.MULTILINE)
_BOXED = re.compile(r"\\boxed\{")


def method_only(solution: str) -> str:
    """A solution with its final-answer markers removed, so it reads as a method, not an answer."""
    text = _GSM8K_FINAL.sub("", solution)
    text = _BOXED.sub("{", text)
    return text.strip()


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 4].rsplit(" ", 1)[0] + " ..."
