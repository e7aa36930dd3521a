"""`ChromaExperienceStore`: the persistent experience memory on chromadb's embedded client.

Layout on disk (one folder, ``xolver_home() / "memory"`` by default)::

    chroma.sqlite3, <uuid>/...   chromadb's own files; one collection per (record kind, namespace)
    xolver-memory.json           the embedder id and dimension the folder was built with
    xolver.lock                  inter-process lock (fcntl), taken around every read and write
    xolver.generation            a counter bumped by every write, so other processes know to reload

Why the lock and the counter: chromadb's embedded client keeps each HNSW index in process memory and
flushes it to disk on its own schedule. Two processes adding to one folder at the same time corrupt
the index (measured here: lost ids and "Error finding id" on query), and a long-lived process never
sees another's writes. So writes are serialised with an exclusive file lock, and a process that finds
the generation counter moved since it loaded reopens the client (and rebuilds its BM25 side index)
before it reads or writes. Each batch is a single chromadb ``add`` (one SQLite transaction holding
every record's document, metadata and embedding), so a process killed mid-import leaves whole
records or none.

What it does not do: lock on platforms without ``fcntl`` (Windows), where one writer at a time is
the caller's responsibility.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from xolver.config import xolver_home
from xolver.errors import UserError
from xolver.memory.embedders import Embedder, SentenceTransformerEmbedder
from xolver.memory.locking import FolderLock
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord
from xolver.memory.side_index import SideIndex, equals_at, record_from, record_metadata

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["KINDS", "ChromaExperienceStore", "SearchMode", "default_memory_path"]

KINDS: tuple[RecordKind, ...] = get_args(RecordKind)
SearchMode = Literal["hybrid", "dense", "bm25"]
_SCHEMA = 1
_PAGE = 5000


def default_memory_path() -> Path:
    """Where the memory lives unless told otherwise: ``xolver_home() / "memory"``."""
    return xolver_home() / "memory"


def _collection_name(prefix: str, kind: RecordKind, namespace: str) -> str:
    """A valid chromadb collection name for (kind, namespace): readable slug plus a hash of the name."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", namespace).strip("-_")[:40] or "ns"
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:10]
    return f"{prefix}-{kind}-{slug}-{digest}"


_Key = tuple[RecordKind, str]


class ChromaExperienceStore:
    """A persistent `ExperienceStore` on chromadb, searched by dense similarity and BM25.

    Each (kind, namespace) pair is its own chromadb collection: code fragments are searched apart
    from problems, and one tenant's records are not even in the index another tenant's query walks.
    Searches are hybrid by default: dense and BM25 rankings fused by reciprocal rank. Thread-safe,
    and safe for several processes sharing one folder (see the module docstring).

    Args:
        path: the folder; default ``xolver_home() / "memory"``.
        embedder: computes the vectors; default `SentenceTransformerEmbedder` (all-MiniLM-L6-v2).
            The first embedder used with a folder is recorded; another one is refused.
        namespace: when given, the store is bound to this namespace: it reads and writes nothing else.
        near_duplicate_threshold: cosine similarity at or above which a new record counts as a
            duplicate of a stored one of the same kind and namespace and is skipped (None: off).
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
        embedder: Embedder | None = None,
        namespace: str | None = None,
        near_duplicate_threshold: float | None = 0.98,
        ef_search: int = 400,
        ef_construction: int = 200,
        max_neighbors: int = 32,
        collection_prefix: str = "xolver",
        postfilter_min_share: float = 0.2,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_memory_path()
        self.embedder: Embedder = embedder if embedder is not None else SentenceTransformerEmbedder()
        if namespace is not None and not namespace:
            raise UserError("namespace must not be empty")
        self.namespace = namespace
        self.near_duplicate_threshold = near_duplicate_threshold
        self.ef_search = ef_search
        self.hnsw = {
            "space": "cosine",
            "ef_search": ef_search,
            "ef_construction": ef_construction,
            "max_neighbors": max_neighbors,
        }
        self.collection_prefix = collection_prefix
        self.postfilter_min_share = postfilter_min_share
        self._lock = threading.RLock()
        self._client: ClientAPI | None = None
        self._names: dict[_Key, str] = {}
        self._collections: dict[_Key, Collection] = {}
        self._side: dict[_Key, SideIndex] = {}
        self._generation = -1
        self._dimension: int | None = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create memory folder {str(self.path)!r}: {e}") from e
        self._ipc = FolderLock(self.path, self._lock)
        with self._file_lock(exclusive=True):
            self._check_manifest()
            self._open()

    # ------------------------------------------------------------------ opening and locking

    def _file_lock(self, *, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        return self._ipc.hold(exclusive=exclusive)

    def _check_manifest(self) -> None:
        """Record the embedder in ``xolver-memory.json`` on first use; refuse another one later."""
        manifest = self.path / "xolver-memory.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                stored, dim = str(data["embedder"]), data.get("dimension")
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise UserError(f"memory manifest {str(manifest)!r} is unreadable: {e}") from e
            if stored != self.embedder.id:
                raise UserError(
                    f"memory at {str(self.path)!r} was built with embedder {stored!r}, not {self.embedder.id!r}: "
                    "open it with the same embedder or use another path"
                )
            self._dimension = int(dim) if isinstance(dim, int) else None
            return
        data = {"embedder": self.embedder.id, "dimension": self.embedder.dimension, "schema": _SCHEMA}
        tmp = manifest.with_name(f"{manifest.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, manifest)
        self._dimension = self.embedder.dimension

    def _read_generation(self) -> int:
        return self._ipc.generation()

    def _bump_generation(self) -> None:
        self._generation = self._ipc.bump(self._generation)

    def _open(self) -> None:
        """(Re)open the chromadb client and list the collections. Call with the file lock held.

        Side indexes are built lazily, per (kind, namespace), on first use.
        """
        import chromadb
        from chromadb.config import Settings

        self._close_client()
        generation = self._read_generation()
        try:
            client = chromadb.PersistentClient(
                path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
            )
            collections = client.list_collections()
        except Exception as e:  # chromadb raises many types; all mean "cannot open this folder"
            raise UserError(f"cannot open memory at {str(self.path)!r}: {e}") from e
        self._client = client
        for collection in collections:
            meta = collection.metadata or {}
            kind, ns = meta.get("xolver:kind"), meta.get("xolver:namespace")
            if kind not in KINDS or not isinstance(ns, str) or not collection.name.startswith(self.collection_prefix):
                continue
            stored = meta.get("xolver:embedder")
            if stored != self.embedder.id:
                raise UserError(
                    f"memory at {str(self.path)!r} was built with embedder {stored!r}, not {self.embedder.id!r}: "
                    "open it with the same embedder or use another path"
                )
            self._names[(cast(RecordKind, kind), ns)] = collection.name
            self._collections[(cast(RecordKind, kind), ns)] = collection
        self._generation = generation

    def _collection(self, key: _Key, *, create: bool = False) -> tuple[Collection, SideIndex] | None:
        """The collection and side index of (kind, namespace); created (write lock held) if asked."""
        collection = self._collections.get(key)
        if collection is None:
            if not create:
                return None
            assert self._client is not None, "store is closed"
            kind, ns = key
            metadata: dict[str, str | int | float | bool] = {
                "xolver:embedder": self.embedder.id,
                "xolver:dimension": self._dimension or self.embedder.dimension,
                "xolver:schema": _SCHEMA,
                "xolver:kind": kind,
                "xolver:namespace": ns,
            }
            collection = self._client.get_or_create_collection(
                _collection_name(self.collection_prefix, kind, ns),
                embedding_function=None,
                metadata=metadata,
                configuration=cast(Any, {"hnsw": self.hnsw}),
            )
            self._collections[key] = collection
            self._names[key] = collection.name
        side = self._side.get(key)
        if side is None:
            side = self._side[key] = self._build_side(collection)
        return collection, side

    def _keys(self, kind: RecordKind | None = None, namespace: str | None = None) -> list[_Key]:
        """Existing (kind, namespace) pairs, restricted to the bound namespace when there is one."""
        bound = self.namespace
        return sorted(
            key
            for key in self._collections
            if (kind is None or key[0] == kind)
            and (namespace is None or key[1] == namespace)
            and (bound is None or key[1] == bound)
        )

    def _build_side(self, collection: Collection) -> SideIndex:
        side = SideIndex()
        offset = 0
        while True:
            page = collection.get(include=cast(Any, ["documents", "metadatas"]), limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                break
            docs = page["documents"] or [""] * len(ids)
            metas = page["metadatas"] or [{}] * len(ids)
            for rid, doc, meta in zip(ids, docs, metas, strict=False):
                side.add(rid, doc or "", dict(meta or {}))
            offset += len(ids)
            if len(ids) < _PAGE:
                break
        return side

    def _close_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                close = getattr(self._client, "close", None)
                if close is not None:
                    close()
        self._client = None
        self._names = {}
        self._collections = {}
        self._side = {}

    def _refresh(self) -> None:
        """Reopen when another process wrote since we loaded. Call with the file lock held."""
        if self._client is None:
            raise UserError(f"memory at {str(self.path)!r} is closed")
        if self._read_generation() != self._generation:
            self._open()

    def close(self) -> None:
        """Release chromadb's resources; the store cannot be used afterwards."""
        with self._lock:
            self._close_client()

    def __enter__(self) -> ChromaExperienceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _ns(self, namespace: str | None) -> str:
        if self.namespace is not None:
            if namespace is not None and namespace != self.namespace:
                raise UserError(f"this store is bound to namespace {self.namespace!r}, not {namespace!r}")
            return self.namespace
        return namespace if namespace is not None else "default"

    def _kinds(self, kind: RecordKind | None) -> tuple[RecordKind, ...]:
        if kind is None:
            return KINDS
        if kind not in KINDS:
            raise UserError(f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}")
        return (kind,)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts with the store's embedder, checking the dimension the store was built with."""
        vectors = self.embedder.embed(texts)
        if vectors and self._dimension is not None and len(vectors[0]) != self._dimension:
            raise UserError(
                f"embedder {self.embedder.id!r} gives {len(vectors[0])}-d vectors; the memory holds {self._dimension}-d"
            )
        return vectors

    # ------------------------------------------------------------------ writing

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        """Store records, skipping content and near duplicates; return the ids actually written.

        The records of one kind and namespace are written in one chromadb call, so they land
        together or not at all.

        Raises:
            UserError: a record belongs to another namespace than the one the store is bound to.
        """
        if not records:
            return []
        for record in records:
            self._ns(record.namespace)
        vectors = self.embed([r.search_text() for r in records])
        return self.add_embedded(records, vectors)

    def add_embedded(self, records: Sequence[ExperienceRecord], vectors: Sequence[Sequence[float]]) -> list[str]:
        """`add` with precomputed vectors (from this store's embedder); used by bulk imports."""
        if len(records) != len(vectors):
            raise UserError(f"{len(records)} records but {len(vectors)} vectors")
        if vectors and self._dimension is not None and len(vectors[0]) != self._dimension:
            raise UserError(f"{len(vectors[0])}-d vectors given; the memory holds {self._dimension}-d")
        written: list[str] = []
        groups: dict[_Key, list[int]] = {}
        for i, record in enumerate(records):
            if record.kind not in KINDS:
                raise UserError(f"unknown record kind {record.kind!r}")
            groups.setdefault((record.kind, self._ns(record.namespace)), []).append(i)
        with self._file_lock(exclusive=True):
            self._refresh()
            # Bumped before and after: a reader that loads while we write sees a moved counter later.
            self._bump_generation()
            for key, positions in sorted(groups.items()):
                got = self._collection(key, create=True)
                assert got is not None
                collection, side = got
                keep = self._dedup(collection, side, [records[i] for i in positions], [vectors[i] for i in positions])
                chosen = [positions[j] for j in keep]
                if not chosen:
                    continue
                batch = [records[i] for i in chosen]
                metas = [record_metadata(r) for r in batch]
                collection.add(
                    ids=[r.id for r in batch],
                    embeddings=cast(Any, [list(vectors[i]) for i in chosen]),
                    documents=[r.search_text() for r in batch],
                    metadatas=cast(Any, metas),
                )
                for r, meta in zip(batch, metas, strict=True):
                    side.add(r.id, r.search_text(), meta)
                written.extend(r.id for r in batch)
            self._bump_generation()
        return written

    def _dedup(
        self,
        collection: Collection,
        side: SideIndex,
        records: list[ExperienceRecord],
        vectors: list[Sequence[float]],
    ) -> list[int]:
        """Positions of the records to keep: new content hash, new id, and not a near duplicate."""
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
        threshold = self.near_duplicate_threshold
        if threshold is None or not keep:
            return keep
        # Near duplicates: against stored records (one batched query) and within the batch.
        near: set[int] = set()
        if side.live_count() > 0:
            result = collection.query(
                query_embeddings=cast(Any, [list(vectors[j]) for j in keep]),
                n_results=1,
                include=cast(Any, ["distances"]),
            )
            for j, distances in zip(keep, result["distances"] or [], strict=False):
                if distances and 1.0 - float(distances[0]) >= threshold:
                    near.add(j)
        kept: list[int] = []
        kept_vectors: list[Any] = []
        for j in keep:
            if j in near:
                continue
            v = np.asarray(vectors[j], dtype=np.float32)
            if any(float(v @ kv) >= threshold for kv in kept_vectors):
                continue
            kept.append(j)
            kept_vectors.append(v)
        return kept

    def _locate(self, ids: Sequence[str]) -> dict[_Key, list[str]]:
        """Which (kind, namespace) holds each of `ids` (unknown ids are left out)."""
        wanted = set(ids)
        found: dict[_Key, list[str]] = {}
        for key in self._keys():
            got = self._collection(key)
            if got is None:
                continue
            mine = [rid for rid in got[1].position if rid in wanted]
            if mine:
                found[key] = mine
        return found

    def record_use(self, ids: Sequence[str], score: float) -> None:
        """Count one more use of each record by a solve whose best judge score was `score`."""
        if not ids:
            return
        with self._file_lock(exclusive=True):
            self._refresh()
            self._bump_generation()
            for key, mine in self._locate(ids).items():
                collection = self._collections[key]
                got = collection.get(ids=mine, include=cast(Any, ["metadatas"]))
                new_ids: list[str] = []
                metas: list[dict[str, Any]] = []
                for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                    record = record_from(meta)
                    if record is None:
                        continue
                    n = record.times_retrieved
                    mean = record.mean_use_score
                    record.mean_use_score = score if mean is None else (mean * n + score) / (n + 1)
                    record.times_retrieved = n + 1
                    new_ids.append(rid)
                    metas.append({**dict(meta or {}), "record": record.model_dump_json()})
                if new_ids:
                    collection.update(ids=new_ids, metadatas=cast(Any, metas))
            self._bump_generation()

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
        if namespace is not None:
            namespace = self._ns(namespace)
        deleted = 0
        with self._file_lock(exclusive=True):
            self._refresh()
            self._bump_generation()
            if namespace is not None:
                # A whole namespace is a set of collections: drop them.
                assert self._client is not None
                for key in self._keys(namespace=namespace):
                    got = self._collection(key)
                    if got is not None:
                        deleted += got[1].live_count()
                    self._client.delete_collection(self._names[key])
                    for table in (self._names, self._collections, self._side):
                        table.pop(key, None)
            else:
                if ids is not None:
                    doomed_by_key = self._locate(ids)
                else:
                    doomed_by_key = {}
                    for key in self._keys():
                        got = self._collection(key)
                        if got is not None:
                            sources = got[1].sources
                            doomed = got[1].live_ids(partial(equals_at, sources, source))
                            if doomed:
                                doomed_by_key[key] = doomed
                for key, doomed in doomed_by_key.items():
                    side = self._side[key]
                    for start in range(0, len(doomed), _PAGE):
                        chunk = doomed[start : start + _PAGE]
                        self._collections[key].delete(ids=chunk)
                        for rid in chunk:
                            side.remove(rid)
                    deleted += len(doomed)
            self._bump_generation()
        return deleted

    # ------------------------------------------------------------------ reading

    def namespaces(self) -> list[str]:
        """The namespaces that hold records (only the bound one for a bound store)."""
        with self._file_lock(exclusive=False):
            self._refresh()
            return sorted({ns for _, ns in self._keys()})

    def count(self, *, namespace: str | None = None, kind: RecordKind | None = None) -> int:
        """Number of records (in one namespace, or in all; of one kind, or of all)."""
        if self.namespace is not None:
            namespace = self._ns(namespace)
        with self._file_lock(exclusive=False):
            self._refresh()
            self._kinds(kind)
            total = 0
            for key in self._keys(kind=kind, namespace=namespace):
                got = self._collection(key)
                total += got[1].live_count() if got is not None else 0
            return total

    def stats(self, *, namespace: str | None = None) -> dict[str, Any]:
        """Counts by kind, namespace, domain and source, plus the embedder and path."""
        if self.namespace is not None:
            namespace = self._ns(namespace)
        with self._file_lock(exclusive=False):
            self._refresh()
            by_kind: Counter[str] = Counter()
            by_ns: Counter[str] = Counter()
            by_domain: Counter[str] = Counter()
            by_source: Counter[str] = Counter()
            for key in self._keys(namespace=namespace):
                got = self._collection(key)
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
            return {
                "path": str(self.path),
                "embedder": self.embedder.id,
                "dimension": self._dimension,
                "total": sum(by_kind.values()),
                "by_kind": {k: by_kind.get(k, 0) for k in KINDS},
                "by_namespace": dict(sorted(by_ns.items())),
                "by_domain": dict(sorted(by_domain.items())),
                "by_source": dict(sorted(by_source.items())),
            }

    def get(self, ids: Sequence[str]) -> list[ExperienceRecord]:
        """The stored records with these ids (unknown ids are skipped), in the order given."""
        with self._file_lock(exclusive=False):
            self._refresh()
            found: dict[str, ExperienceRecord] = {}
            for key, mine in self._locate(ids).items():
                found.update(self._fetch(self._collections[key], mine))
            return [found[i] for i in ids if i in found]

    @staticmethod
    def _fetch(collection: Collection, ids: Sequence[str]) -> dict[str, ExperienceRecord]:
        got = collection.get(ids=list(ids), include=cast(Any, ["metadatas"]))
        out: dict[str, ExperienceRecord] = {}
        for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            record = record_from(meta)
            if record is not None:
                out[rid] = record
        return out

    def iter_records(
        self, *, namespace: str | None = None, kind: RecordKind | None = None
    ) -> Iterator[ExperienceRecord]:
        """Every stored record (of one namespace and kind, or all), page by page."""
        if self.namespace is not None:
            namespace = self._ns(namespace)
        with self._file_lock(exclusive=False):
            self._refresh()
            self._kinds(kind)
            keys = self._keys(kind=kind, namespace=namespace)
        for key in keys:
            offset = 0
            while True:
                with self._file_lock(exclusive=False):
                    self._refresh()
                    collection = self._collections.get(key)
                    if collection is None:
                        break
                    page = collection.get(include=cast(Any, ["metadatas"]), limit=_PAGE, offset=offset)
                for meta in page["metadatas"] or []:
                    record = record_from(meta)
                    if record is not None:
                        yield record
                if len(page["ids"]) < _PAGE:
                    break
                offset += len(page["ids"])

    def dense_search(
        self,
        query: str | Sequence[float],
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str | None = None,
        with_vectors: bool = False,
    ) -> list[tuple[ScoredRecord, list[float] | None]]:
        """Nearest records by cosine similarity (the score), best first.

        Args:
            query: text, or a vector from this store's embedder.
            k: hits per kind searched.
            kind: one kind, or all three (then up to `k` of each, merged by score).
            domain: only records of this domain.
            namespace: defaults to the bound namespace or "default".
            with_vectors: also return each hit's stored vector (for MMR).
        """
        ns = self._ns(namespace)
        kinds = self._kinds(kind)
        if k <= 0:
            return []
        vector = list(query) if not isinstance(query, str) else self.embed([query])[0]
        include = ["metadatas", "distances"] + (["embeddings"] if with_vectors else [])
        hits: list[tuple[ScoredRecord, list[float] | None]] = []
        with self._file_lock(exclusive=False):
            self._refresh()
            for kk in kinds:
                got = self._collection((kk, ns))
                if got is None:
                    continue
                collection, side = got
                live = side.live_count()
                if live == 0:
                    continue
                rows: list[tuple[str, Any, float, list[float] | None]] = []
                if domain is None:
                    result = collection.query(
                        query_embeddings=cast(Any, [vector]), n_results=min(k, live), include=cast(Any, include)
                    )
                    rows = self._rows(result, with_vectors)
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
                            n_results=want,
                            where=cast(Any, {"domain": domain}),
                            include=cast(Any, include),
                        )
                        rows = self._rows(result, with_vectors)
                for _rid, meta, dist, vec in rows[:k]:
                    record = record_from(meta)
                    if record is None or record.namespace != ns:
                        continue
                    hits.append((ScoredRecord(record=record, score=1.0 - dist), vec))
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
    ) -> list[tuple[str, Any, float, list[float] | None]]:
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

    @staticmethod
    def _rows(result: Any, with_vectors: bool) -> list[tuple[str, Any, float, list[float] | None]]:
        """(id, metadata, distance, vector or None) of a one-query chromadb result."""
        ids = result["ids"][0] if result["ids"] else []
        metas = (result["metadatas"] or [[]])[0]
        dists = (result["distances"] or [[]])[0]
        embs = result["embeddings"][0] if with_vectors and result["embeddings"] is not None else None
        return [
            (rid, meta, float(dist), [float(x) for x in embs[i]] if embs is not None else None)
            for i, (rid, meta, dist) in enumerate(zip(ids, metas, dists, strict=False))
        ]

    def lexical_search(
        self,
        query: str,
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str | None = None,
    ) -> list[ScoredRecord]:
        """Best BM25 matches (the paper's retriever), best first; scores are BM25 scores."""
        ns = self._ns(namespace)
        kinds = self._kinds(kind)
        if k <= 0:
            return []
        with self._file_lock(exclusive=False):
            self._refresh()
            found: list[tuple[float, RecordKind, str]] = []
            for kk in kinds:
                got = self._collection((kk, ns))
                if got is None:
                    continue
                side = got[1]
                # Removed documents have no postings left, so only a domain needs a mask.
                accept = side.mask(ns, domain) if domain is not None else None
                for pos, score in side.bm25.top(query, k, accept=accept):
                    found.append((score, kk, side.ids[pos]))
            found.sort(key=lambda f: -f[0])
            found = found[: k * len(kinds)]
            fetched: dict[str, ExperienceRecord] = {}
            for kk in kinds:
                mine = [rid for _, kind_, rid in found if kind_ == kk]
                if mine:
                    fetched.update(self._fetch(self._collections[(kk, ns)], mine))
            hits: list[ScoredRecord] = []
            for score, _, rid in found:
                record = fetched.get(rid)
                if record is not None and record.namespace == ns:
                    hits.append(ScoredRecord(record=record, score=score))
            return hits

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[ScoredRecord]:
        """The `k` records most relevant to `query`, best first (hybrid by default).

        Args:
            query: free text.
            k: how many in all.
            kind: only this kind.
            domain: only this domain.
            namespace: defaults to the bound namespace or "default".
            mode: "hybrid" (dense + BM25, reciprocal rank fusion), "dense" or "bm25".
        """
        from xolver.memory.retrieval import hybrid_search

        return hybrid_search(self, query, k=k, kind=kind, domain=domain, namespace=namespace, mode=mode)
