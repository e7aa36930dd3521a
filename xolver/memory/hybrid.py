"""Hybrid ranking: an index's dense and BM25 rankings fused by reciprocal rank, optionally diversified by MMR.

`HybridRetriever` composes a `RankedIndex`, the two primitive rankings an index offers (nearest
vectors, best BM25 matches) plus its embedder. A store that has such an index
(`ChromaExperienceStore`) answers `search` through a retriever over it; the retriever never calls
the store back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from xolver.errors import UserError
from xolver.memory.base import SearchFilter, SearchMode, search_mode
from xolver.memory.records import ScoredRecord

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["RRF_K", "HybridRetriever", "RankedIndex", "mmr_select", "reciprocal_rank_fusion"]

# The constant from Cormack et al. (2009): damps the head of each ranking so that agreement between
# rankings matters more than a single first place.
RRF_K = 60


class RankedIndex(Protocol):
    """An index that ranks records by dense similarity and by BM25, separately."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, from the index's embedder."""
        ...

    def dense_search(
        self, vector: Sequence[float], *, k: int, with_vectors: bool = False, **where: Unpack[SearchFilter]
    ) -> list[tuple[ScoredRecord, list[float] | None]]:
        """Nearest records by cosine similarity (the score), best first, each with its vector if asked."""
        ...

    def lexical_search(self, query: str, *, k: int, **where: Unpack[SearchFilter]) -> list[ScoredRecord]:
        """Best BM25 matches (the score is the BM25 score), best first."""
        ...


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


class HybridRetriever:
    """Searches a `RankedIndex` by dense similarity, BM25, or both fused by reciprocal rank.

    Args:
        index: the rankings to compose.
    """

    def __init__(self, index: RankedIndex) -> None:
        self.index = index

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        query_vector: Sequence[float] | None = None,
        candidates: int | None = None,
        mmr_diversity: float | None = None,
        **where: Unpack[SearchFilter],
    ) -> list[ScoredRecord]:
        """The `k` best hits, best first.

        Args:
            query: free text.
            k: how many hits.
            mode: "hybrid", "dense" or "bm25".
            query_vector: the query's embedding when the caller already has it.
            candidates: how deep each ranking goes before fusion (default max(4k, 20)).
            mmr_diversity: when set, re-rank the fused candidates with MMR at this diversity.
            **where: a `SearchFilter` passed to both rankings.

        Returns:
            Scores are cosine similarity (dense), BM25 score (bm25) or the fused reciprocal-rank
            score (hybrid).

        Raises:
            UserError: an unknown mode.
        """
        if k <= 0:
            return []
        mode = search_mode(mode)
        index = self.index
        depth = candidates if candidates is not None else max(4 * k, 20)
        if mmr_diversity is not None:
            depth = max(depth, 3 * k)
        if mode == "bm25" and mmr_diversity is None:
            return index.lexical_search(query, k=k, **where)
        vector = list(query_vector) if query_vector is not None else index.embed([query])[0]
        dense = index.dense_search(
            vector,
            k=depth if (mode == "hybrid" or mmr_diversity is not None) else k,
            with_vectors=mmr_diversity is not None,
            **where,
        )
        by_id: dict[str, ScoredRecord] = {hit.record.id: hit for hit, _ in dense}
        vectors: dict[str, list[float]] = {hit.record.id: vec for hit, vec in dense if vec is not None}
        if mode == "dense":
            ranked = [(hit.record.id, hit.score) for hit, _ in dense]
        else:
            lexical = index.lexical_search(query, k=depth, **where)
            for hit in lexical:
                by_id.setdefault(hit.record.id, hit)
            rankings = (
                [[h.record.id for h in lexical]]
                if mode == "bm25"
                else [[h.record.id for h, _ in dense], [h.record.id for h in lexical]]
            )
            ranked = reciprocal_rank_fusion(rankings)
        similarity = {hit.record.id: hit.score for hit, _ in dense}
        if mmr_diversity is None:
            return [
                ScoredRecord(record=by_id[rid].record, score=score, similarity=similarity.get(rid))
                for rid, score in ranked[:k]
            ]
        missing = [rid for rid, _ in ranked if rid not in vectors]
        if missing:
            texts = [by_id[rid].record.search_text() for rid in missing]
            vectors.update(zip(missing, index.embed(texts), strict=False))
        top = ranked[:depth]
        best = top[0][1] if top else 1.0
        relevance = {rid: (score / best if best else 0.0) for rid, score in top}
        picked = mmr_select(
            vector, [(rid, vectors[rid]) for rid, _ in top], k, diversity=mmr_diversity, relevance=relevance
        )
        score_of = dict(top)
        return [
            ScoredRecord(record=by_id[rid].record, score=score_of[rid], similarity=similarity.get(rid))
            for rid in picked
        ]
