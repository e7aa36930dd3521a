"""`ChromaExperienceStore`: the persistent experience memory on chromadb's embedded client.

The store is a facade over three parts of this package: `ChromaFolder` (the collections, the
manifest, the inter-process lock and generation counter; see its module for why they exist),
`ChromaIndex` (dense and BM25 rankings, which `HybridRetriever` fuses for `search`) and `keep_new`
(exact and near-duplicate detection on write).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from xolver.errors import UserError
from xolver.memory.base import MemoryStats, SearchFilter, SearchMode
from xolver.memory.chroma._dedup import keep_new
from xolver.memory.chroma._folder import KINDS, PAGE, ChromaFolder, Key, default_memory_path, fetch
from xolver.memory.chroma._query import ChromaIndex
from xolver.memory.chroma._server import server_record_id
from xolver.memory.chroma._side_index import add_op, record_metadata
from xolver.memory.curation import CurationPolicy, credit, merge_into, retire
from xolver.memory.embedders import Embedder, SentenceTransformerEmbedder
from xolver.memory.hybrid import HybridRetriever
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord, content_hash

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["ChromaExperienceStore"]


class ChromaExperienceStore:
    """A persistent `ExperienceStore` on chromadb, searched by dense similarity and BM25.

    Each (kind, namespace) pair is its own chromadb collection: code fragments are searched apart
    from problems, and one tenant's records are not even in the index another tenant's query walks.
    Searches are hybrid by default: dense and BM25 rankings fused by reciprocal rank. Thread-safe,
    and safe for several processes sharing one folder (see `xolver.memory.chroma._folder`).

    With `url` the memory lives on a Chroma server (``chroma run --path DIR``) that every process
    and host shares; see `xolver.memory.chroma._server` for what server mode guarantees (records get
    ids derived from their content there, so concurrent writers never double a record).

    Args:
        path: the folder; default ``xolver_home() / "memory"``. Ignored with `url`.
        url: ``http://HOST:PORT`` of a Chroma server: use it instead of a folder.
        embedder: computes the vectors; default `SentenceTransformerEmbedder` (all-MiniLM-L6-v2).
            The first embedder used with a folder is recorded; another one is refused.
        namespace: when given, the store is bound to this namespace: it reads and writes nothing else.
        near_duplicate_threshold: cosine similarity at or above which a new problem record is a
            near duplicate of a stored one (same namespace) and is merged into it (None: off).
        merge_threshold: the same for strategy and code records, which are paraphrased more.
        curation: when records that keep hurting are retired (`xolver.memory.curation`).
        ef_search: HNSW search breadth; higher is slower and closer to exact search.
        ef_construction: HNSW build breadth.
        max_neighbors: HNSW graph degree (M).
        collection_prefix: collection names start with ``<prefix>-<kind>-``.
        postfilter_min_share: when the records a domain-filtered search may return are at least
            this share of a collection, search it unfiltered and filter afterwards (much faster than
            chromadb's metadata filter); below it, let chromadb filter.

    Raises:
        UserError: the folder was built with another embedder, or cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        embedder: Embedder | None = None,
        namespace: str | None = None,
        near_duplicate_threshold: float | None = 0.98,
        merge_threshold: float | None = 0.85,
        curation: CurationPolicy | None = None,
        ef_search: int = 400,
        ef_construction: int = 200,
        max_neighbors: int = 32,
        collection_prefix: str = "xolver",
        postfilter_min_share: float = 0.2,
    ) -> None:
        self._folder = ChromaFolder(
            Path(path).expanduser() if path is not None else (Path() if url is not None else default_memory_path()),
            url=url,
            embedder=embedder if embedder is not None else SentenceTransformerEmbedder(),
            namespace=namespace,
            hnsw={
                "space": "cosine",
                "ef_search": ef_search,
                "ef_construction": ef_construction,
                "max_neighbors": max_neighbors,
            },
            collection_prefix=collection_prefix,
        )
        self.near_duplicate_threshold = near_duplicate_threshold
        self.merge_threshold = merge_threshold
        self.curation = curation if curation is not None else CurationPolicy()
        self._index = ChromaIndex(self._folder, ef_search=ef_search, postfilter_min_share=postfilter_min_share)
        self._retriever = HybridRetriever(self._index)

    @property
    def path(self) -> Path:
        """The memory folder (meaningless in server mode: see `location`)."""
        return self._folder.path

    @property
    def url(self) -> str | None:
        """The Chroma server's URL in server mode, else None."""
        return self._folder.url

    @property
    def location(self) -> str:
        """Where the memory lives: the server's URL, or the folder."""
        return self._folder.location

    @property
    def embedder(self) -> Embedder:
        """The embedder the folder was built with."""
        return self._folder.embedder

    @property
    def namespace(self) -> str | None:
        """The namespace the store is bound to, if any."""
        return self._folder.namespace

    def close(self) -> None:
        """Release chromadb's resources; the store cannot be used afterwards."""
        self._folder.close()

    def __enter__(self) -> ChromaExperienceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ searching

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
        """The `k` records most relevant to `query`, best first (hybrid by default).

        Args:
            query: free text.
            k: how many in all.
            mode: "hybrid" (dense + BM25, reciprocal rank fusion), "dense" or "bm25".
            query_vector: the query's embedding from `embed`, when the caller already has it.
            candidates: how deep each ranking goes before fusion (default max(4k, 20)).
            mmr_diversity: when set, re-rank the fused candidates by MMR at this diversity (0..1).
            **where: a `SearchFilter`; the namespace defaults to the bound one, else "default".
        """
        return self._retriever.search(
            query,
            k=k,
            mode=mode,
            query_vector=query_vector,
            candidates=candidates,
            mmr_diversity=mmr_diversity,
            **where,
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts with the store's embedder, checking the dimension the store was built with."""
        return self._folder.embed(texts)

    # ------------------------------------------------------------------ writing

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        """Store records, skipping content and near duplicates; return the ids actually written.

        The records of one kind and namespace are written in one chromadb call, so they land
        together or not at all. Embedding happens before the write lock is taken.

        Raises:
            UserError: a record belongs to another namespace than the one the store is bound to.
        """
        if not records:
            return []
        for record in records:
            self._folder.namespace_for(record.namespace)
        vectors = self.embed([r.search_text() for r in records])
        return self.add_embedded(records, vectors)

    def add_embedded(self, records: Sequence[ExperienceRecord], vectors: Sequence[Sequence[float]]) -> list[str]:
        """`add` with precomputed vectors (from this store's embedder); used by bulk imports."""
        import numpy as np

        folder = self._folder
        if len(records) != len(vectors):
            raise UserError(f"{len(records)} records but {len(vectors)} vectors")
        if folder.url is not None:
            # Server mode: the id is the content, so two hosts writing the same record write one
            # (with the near-duplicate rule on, the indexed text: identical text is a duplicate anyway).
            records = [r.model_copy(update={"id": self._server_id(r)}) for r in records]
        if vectors and folder.dimension is not None and len(vectors[0]) != folder.dimension:
            raise UserError(f"{len(vectors[0])}-d vectors given; the memory holds {folder.dimension}-d")
        written: list[str] = []
        groups: dict[Key, list[int]] = {}
        for i, record in enumerate(records):
            if record.kind not in KINDS:
                raise UserError(f"unknown record kind {record.kind!r}")
            groups.setdefault((record.kind, folder.namespace_for(record.namespace)), []).append(i)
        with folder.hold(exclusive=True):
            folder.refresh()
            # Bumped before and after: a reader that loads while we write sees a moved counter later.
            folder.bump_generation()
            for key, positions in sorted(groups.items()):
                got = folder.collection(key, create=True)
                assert got is not None
                collection, side = got
                group = [records[i] for i in positions]
                keep, near = keep_new(
                    collection,
                    side,
                    group,
                    [vectors[i] for i in positions],
                    threshold=self.near_duplicate_threshold if key[0] == "problem" else self.merge_threshold,
                )
                ops: list[dict[str, Any]] = []
                # Near duplicates of stored records are merged into them (or supersede them).
                if near:
                    stored = fetch(collection, sorted({rid for rid, _ in near.values()}))
                    updated: dict[str, ExperienceRecord] = {}
                    for j, (rid, similarity) in sorted(near.items()):
                        target = updated.get(rid) or stored.get(rid)
                        if target is None:
                            continue
                        outcome = merge_into(target, group[j], similarity)
                        updated[rid] = outcome.stored
                        if outcome.write_new:
                            keep.append(j)
                    if updated:
                        ops += self._update_locked(key, list(updated.values()))
                keep.sort()
                chosen = [positions[j] for j in keep]
                if not chosen:
                    folder.journal(key, ops)
                    continue
                batch = [records[i] for i in chosen]
                metas = [record_metadata(r) for r in batch]
                collection.add(
                    ids=[r.id for r in batch],
                    # One float32 matrix: chromadb converts a list of lists row by row.
                    embeddings=cast(Any, np.asarray([vectors[i] for i in chosen], dtype=np.float32)),
                    documents=[r.search_text() for r in batch],
                    metadatas=cast(Any, metas),
                )
                for r, meta in zip(batch, metas, strict=True):
                    side.add(r.id, r.search_text(), meta)
                    ops.append(add_op(r.id, r.search_text(), meta))
                folder.journal(key, ops)
                written.extend(r.id for r in batch)
            folder.bump_generation()
        return written

    def _server_id(self, record: ExperienceRecord) -> str:
        if self.near_duplicate_threshold is None:
            return server_record_id(record.hash)
        return server_record_id(content_hash(record.kind, record.namespace, record.search_text()))

    def record_use(self, ids: Sequence[str], score: float) -> None:
        """Credit (`score` >= 0.5) or blame each record for the grounded outcome of a solve it was
        shown in; a record that keeps hurting is retired (`xolver.memory.curation.credit`)."""
        self._edit(ids, lambda record: credit(record, score, self.curation))

    def retire(self, ids: Sequence[str], *, reason: str) -> int:
        """Retire records: kept (``get``, ``iter_records``, history) but never retrieved. Returns how
        many were newly retired."""
        changed = 0

        def one(record: ExperienceRecord) -> None:
            nonlocal changed
            if not record.retired:
                retire(record, reason)
                changed += 1

        self._edit(ids, one)
        return changed

    def _edit(self, ids: Sequence[str], change: Callable[[ExperienceRecord], None]) -> None:
        """Apply `change` to each stored record of `ids` and write the records back (metadata only)."""
        if not ids:
            return
        folder = self._folder
        with folder.hold(exclusive=True):
            folder.refresh()
            folder.bump_generation()
            for key, mine in folder.locate(ids).items():
                found = fetch(folder.collections[key], mine)
                for record in found.values():
                    change(record)
                folder.journal(key, self._update_locked(key, list(found.values())))
            folder.bump_generation()

    def _update_locked(self, key: Key, records: list[ExperienceRecord]) -> list[dict[str, Any]]:
        """Overwrite the metadata of stored records (same text, same vector); journal lines for the side index."""
        if not records:
            return []
        folder = self._folder
        folder.collections[key].update(
            ids=[r.id for r in records], metadatas=cast(Any, [record_metadata(r) for r in records])
        )
        side = folder.side[key]
        for r in records:
            side.set_retired(r.id, r.retired)
        return [{"op": "retired", "id": r.id, "value": r.retired} for r in records]

    def forget(
        self,
        *,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        source: str | None = None,
    ) -> int:
        """Delete records by id, by namespace, or by source; return how many were deleted.

        A store bound to a namespace deletes only inside it.

        Raises:
            UserError: no criterion, or more than one, was given.
        """
        given = sum(x is not None for x in (ids, namespace, source))
        if given != 1:
            raise UserError("forget needs exactly one of: ids, namespace, source")
        folder = self._folder
        if namespace is not None:
            namespace = folder.namespace_for(namespace)
        deleted = 0
        with folder.hold(exclusive=True):
            folder.refresh()
            folder.bump_generation()
            if namespace is not None:
                # A whole namespace is a set of collections: drop them.
                for key in folder.collection_keys(namespace=namespace):
                    got = folder.collection(key)
                    if got is not None:
                        deleted += got[1].live_count()
                    folder.drop(key)
            else:
                if ids is not None:
                    doomed_by_key = folder.locate(ids)
                else:
                    doomed_by_key = {}
                    for key in folder.collection_keys():
                        got = folder.collection(key)
                        if got is not None:
                            doomed = got[1].live_ids_from(source)
                            if doomed:
                                doomed_by_key[key] = doomed
                for key, doomed in doomed_by_key.items():
                    side = folder.side[key]
                    for start in range(0, len(doomed), PAGE):
                        chunk = doomed[start : start + PAGE]
                        folder.collections[key].delete(ids=chunk)
                        for rid in chunk:
                            side.remove(rid)
                        folder.journal(key, [{"op": "remove", "id": rid} for rid in chunk])
                    deleted += len(doomed)
            folder.bump_generation()
        return deleted

    # ------------------------------------------------------------------ reading

    def namespaces(self) -> list[str]:
        """The namespaces that hold records (only the bound one for a bound store)."""
        with self._folder.hold(exclusive=False):
            self._folder.refresh()
            return sorted({ns for _, ns in self._folder.collection_keys()})

    def count(self, *, namespace: str | None = None, kind: RecordKind | None = None) -> int:
        """Number of records (in one namespace, or in all; of one kind, or of all)."""
        folder = self._folder
        if folder.namespace is not None:
            namespace = folder.namespace_for(namespace)
        with folder.hold(exclusive=False):
            folder.refresh()
            folder.kinds(kind)
            total = 0
            for key in folder.collection_keys(kind=kind, namespace=namespace):
                got = folder.collection(key)
                total += got[1].live_count() if got is not None else 0
            return total

    def stats(self, *, namespace: str | None = None) -> MemoryStats:
        """Counts by kind, namespace, domain and source, plus the embedder and path."""
        folder = self._folder
        if folder.namespace is not None:
            namespace = folder.namespace_for(namespace)
        with folder.hold(exclusive=False):
            folder.refresh()
            by_kind: Counter[str] = Counter()
            by_ns: Counter[str] = Counter()
            by_domain: Counter[str] = Counter()
            by_source: Counter[str] = Counter()
            for key in folder.collection_keys(namespace=namespace):
                got = folder.collection(key)
                if got is None:
                    continue
                side = got[1]
                for i, alive in enumerate(side.alive):
                    if not alive:
                        continue
                    by_kind[key[0]] += 1
                    by_ns[key[1]] += 1
                    by_domain[side.domains[i]] += 1
                    by_source[side.sources[i]] += 1
            return MemoryStats(
                path=folder.location,
                embedder=folder.embedder.id,
                dimension=folder.dimension,
                total=sum(by_kind.values()),
                by_kind={k: by_kind.get(k, 0) for k in KINDS},
                by_namespace=dict(sorted(by_ns.items())),
                by_domain=dict(sorted(by_domain.items())),
                by_source=dict(sorted(by_source.items())),
            )

    def get(self, ids: Sequence[str]) -> list[ExperienceRecord]:
        """The stored records with these ids (unknown ids are skipped), in the order given."""
        folder = self._folder
        with folder.hold(exclusive=False):
            folder.refresh()
            found: dict[str, ExperienceRecord] = {}
            for key, mine in folder.locate(ids).items():
                found.update(fetch(folder.collections[key], mine))
            return [found[i] for i in ids if i in found]

    def iter_records(
        self, *, namespace: str | None = None, kind: RecordKind | None = None
    ) -> Iterator[ExperienceRecord]:
        """Every stored record (of one namespace and kind, or all), page by page."""
        folder = self._folder
        if folder.namespace is not None:
            namespace = folder.namespace_for(namespace)
        with folder.hold(exclusive=False):
            folder.refresh()
            folder.kinds(kind)
            keys = folder.collection_keys(kind=kind, namespace=namespace)
        for key in keys:
            for page in folder.pages(key):
                yield from page
