"""Which records of a batch to write: new content, new id, and not a near duplicate of a stored one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from xolver.memory.chroma._side_index import SideIndex
from xolver.memory.records import ExperienceRecord

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api.models.Collection import Collection

__all__ = ["keep_new"]


def keep_new(
    collection: Collection,
    side: SideIndex,
    records: Sequence[ExperienceRecord],
    vectors: Sequence[Sequence[float]],
    *,
    threshold: float | None,
) -> tuple[list[int], dict[int, tuple[str, float]]]:
    """Positions of the records to write, in order, and the near duplicates of stored records.

    A record is dropped when its content hash or id is already stored or earlier in the batch, or
    when `threshold` is set and its cosine similarity to a kept record of the batch is at least
    `threshold`. One that close to a stored record (one batched query) is not kept either: it is
    returned in the second value, position -> (stored id, similarity), for the caller to merge
    (`xolver.memory.curation.merge_into`). Call with the write lock held.
    """
    import numpy as np

    seen_hashes: set[str] = set()
    seen_ids: set[str] = set()
    keep: list[int] = []
    for j, r in enumerate(records):
        h = r.hash
        if h in side.hashes or h in seen_hashes or r.id in side.position or r.id in seen_ids:
            continue
        seen_hashes.add(h)
        seen_ids.add(r.id)
        keep.append(j)
    if threshold is None or not keep:
        return keep, {}
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(records), -1)
    near: dict[int, tuple[str, float]] = {}
    if side.live_count() > 0:
        result = collection.query(
            query_embeddings=cast(Any, matrix[keep]),
            n_results=1,
            include=cast(Any, ["distances"]),
        )
        for j, ids, distances in zip(keep, result["ids"] or [], result["distances"] or [], strict=False):
            if distances and ids and 1.0 - float(distances[0]) >= threshold:
                near[j] = (str(ids[0]), 1.0 - float(distances[0]))
    # Within the batch: a record is dropped when it is that close to an earlier kept one. One matrix
    # product gives every pair's similarity (a Python dot product per pair cost about 0.35 s of CPU
    # per 1000 imported records, a fifth of the import's cost outside the embedder).
    candidates = [j for j in keep if j not in near]
    if not candidates:
        return [], near
    sims = matrix[candidates] @ matrix[candidates].T
    taken = np.zeros(len(candidates), dtype=bool)
    kept: list[int] = []
    for a, j in enumerate(candidates):
        if kept and bool((sims[a, taken] >= threshold).any()):
            continue
        taken[a] = True
        kept.append(j)
    return kept, near
