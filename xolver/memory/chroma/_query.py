"""`ChromaIndex`: the two rankings of a memory folder, dense (chromadb's HNSW) and BM25 (the side index).

It is the `RankedIndex` that `HybridRetriever` composes for `ChromaExperienceStore.search`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from xolver.memory.chroma._folder import ChromaFolder, fetch
from xolver.memory.chroma._side_index import SideIndex, record_from
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api.models.Collection import Collection
    from typing_extensions import Unpack

    from xolver.memory.base import SearchFilter

__all__ = ["ChromaIndex"]

_Row = tuple[str, Any, float, list[float] | None]
"""(id, metadata, distance, vector or None) of one chromadb hit."""


class ChromaIndex:
    """Dense and BM25 rankings over the collections of a `ChromaFolder`.

    Args:
        folder: the collections, lock and embedder.
        ef_search: HNSW search breadth (bounds the wide round of a post-filtered search).
        postfilter_min_share: when the records a domain-filtered search may return are at least
            this share of a collection, search it unfiltered and filter afterwards (much faster than
            chromadb's metadata filter); below it, let chromadb filter.
    """

    def __init__(self, folder: ChromaFolder, *, ef_search: int, postfilter_min_share: float) -> None:
        self.folder = folder
        self.ef_search = ef_search
        self.postfilter_min_share = postfilter_min_share

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts with the folder's embedder (dimension checked)."""
        return self.folder.embed(texts)

    def dense_search(
        self, vector: Sequence[float], *, k: int, with_vectors: bool = False, **where: Unpack[SearchFilter]
    ) -> list[tuple[ScoredRecord, list[float] | None]]:
        """Nearest records by cosine similarity (the score), best first.

        Args:
            vector: the query's embedding, from this folder's embedder.
            k: hits per kind searched (all three kinds when none is given, merged by score).
            with_vectors: also return each hit's stored vector (for MMR).
            **where: a `SearchFilter`.
        """
        folder = self.folder
        ns = folder.namespace_for(where.get("namespace"))
        kinds = folder.kinds(where.get("kind"))
        domain = where.get("domain")
        if k <= 0:
            return []
        vector = list(vector)
        include = ["metadatas", "distances"] + (["embeddings"] if with_vectors else [])
        hits: list[tuple[ScoredRecord, list[float] | None]] = []
        with folder.hold(exclusive=False):
            folder.refresh()
            for kk in kinds:
                got = folder.collection((kk, ns))
                if got is None:
                    continue
                collection, side = got
                live = side.live_count()
                if live == 0:
                    continue
                rows: list[_Row] = []
                if domain is None:
                    # Retired records stay in HNSW: over-fetch by their number, and skip them below.
                    result = collection.query(
                        query_embeddings=cast(Any, [vector]),
                        n_results=min(k + len(side.retired), live),
                        include=cast(Any, include),
                    )
                    rows = _rows(result, with_vectors)
                else:
                    mask = side.mask(ns, domain)
                    available = int(mask.sum())
                    if available == 0:
                        continue
                    want = min(k, available)
                    if available / live >= self.postfilter_min_share:
                        rows = self._postfiltered(collection, side, mask, vector, want, available / live, with_vectors)
                    if not rows:
                        result = collection.query(
                            query_embeddings=cast(Any, [vector]),
                            n_results=min(want + len(side.retired), live),
                            where=cast(Any, {"domain": domain}),
                            include=cast(Any, include),
                        )
                        rows = _rows(result, with_vectors)
                kept = 0
                for _rid, meta, dist, vec in rows:
                    record = record_from(meta)
                    if record is None or record.namespace != ns or record.retired or kept >= k:
                        continue
                    kept += 1
                    hits.append((ScoredRecord(record=record, score=1.0 - dist, similarity=1.0 - dist), vec))
        hits.sort(key=lambda h: -h[0].score)
        return hits

    def _postfiltered(
        self,
        collection: Collection,
        side: SideIndex,
        mask: Any,
        vector: list[float],
        want: int,
        share: float,
        with_vectors: bool,
    ) -> list[_Row]:
        """Nearest `want` accepted records by an unfiltered query filtered here; [] if too few.

        chromadb evaluates a `where` filter against the metadata of the records in SQLite
        (measured: 30-60 ms at 12k records, against 1-2 ms unfiltered), so when the wanted records
        are a fair share of the collection it is far cheaper to over-fetch ids without a filter
        and keep the accepted ones. Two rounds: a modest over-fetch, then a wide one (HNSW explores
        ef_search candidates anyway, so a few hundred ids cost little).
        """
        live = side.live_count()
        first = min(live, math.ceil(want / share * 2) + 10)
        for n in (first, min(live, max(4 * first, self.ef_search))):
            result = collection.query(
                query_embeddings=cast(Any, [vector]), n_results=n, include=cast(Any, ["distances"])
            )
            ids = result["ids"][0] if result["ids"] else []
            dists = (result["distances"] or [[]])[0]
            accepted = [
                (rid, float(d))
                for rid, d in zip(ids, dists, strict=False)
                if (pos := side.position.get(rid)) is not None and bool(mask[pos])
            ]
            if len(accepted) >= want or n >= live:
                accepted = accepted[:want]
                if not accepted:
                    return []
                include = ["metadatas"] + (["embeddings"] if with_vectors else [])
                got = collection.get(ids=[rid for rid, _ in accepted], include=cast(Any, include))
                metas = dict(zip(got["ids"], got["metadatas"] or [], strict=False))
                embs: dict[str, Any] = {}
                if with_vectors and got["embeddings"] is not None:
                    embs = dict(zip(got["ids"], got["embeddings"], strict=False))
                return [
                    (rid, metas[rid], d, [float(x) for x in embs[rid]] if rid in embs else None)
                    for rid, d in accepted
                    if rid in metas
                ]
        return []

    def lexical_search(self, query: str, *, k: int, **where: Unpack[SearchFilter]) -> list[ScoredRecord]:
        """Best BM25 matches (the paper's retriever), best first; scores are BM25 scores.

        Args:
            query: free text.
            k: hits per kind searched (all three kinds when none is given, merged by score).
            **where: a `SearchFilter`.
        """
        folder = self.folder
        ns = folder.namespace_for(where.get("namespace"))
        kinds = folder.kinds(where.get("kind"))
        domain = where.get("domain")
        if k <= 0:
            return []
        with folder.hold(exclusive=False):
            folder.refresh()
            found: list[tuple[float, RecordKind, str]] = []
            for kk in kinds:
                got = folder.collection((kk, ns))
                if got is None:
                    continue
                side = got[1]
                # Removed documents have no postings left, so only a domain or retired records need a mask.
                accept = side.mask(ns, domain) if domain is not None or side.retired else None
                for pos, score in side.bm25.top(query, k, accept=accept):
                    found.append((score, kk, side.ids[pos]))
            found.sort(key=lambda f: -f[0])
            found = found[: k * len(kinds)]
            fetched: dict[str, ExperienceRecord] = {}
            for kk in kinds:
                mine = [rid for _, kind_, rid in found if kind_ == kk]
                if mine:
                    fetched.update(fetch(folder.collections[(kk, ns)], mine))
            hits: list[ScoredRecord] = []
            for score, _, rid in found:
                record = fetched.get(rid)
                if record is not None and record.namespace == ns and not record.retired:
                    hits.append(ScoredRecord(record=record, score=score))
            return hits


def _rows(result: Any, with_vectors: bool) -> list[_Row]:
    """(id, metadata, distance, vector or None) of a one-query chromadb result."""
    ids = result["ids"][0] if result["ids"] else []
    metas = (result["metadatas"] or [[]])[0]
    dists = (result["distances"] or [[]])[0]
    embs = result["embeddings"][0] if with_vectors and result["embeddings"] is not None else None
    return [
        (rid, meta, float(dist), [float(x) for x in embs[i]] if embs is not None else None)
        for i, (rid, meta, dist) in enumerate(zip(ids, metas, dists, strict=False))
    ]
