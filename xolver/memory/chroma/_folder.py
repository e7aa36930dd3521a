"""`ChromaFolder`: one memory folder's chromadb collections, kept consistent across processes.

(With a URL it is one memory on a Chroma server instead, with no folder: see ``_server``.)

Layout on disk (one folder, ``xolver_home() / "memory"`` by default)::

    chroma.sqlite3, <uuid>/...   chromadb's own files; one collection per (record kind, namespace)
    xolver-memory.json           the embedder id and dimension the folder was built with
    xolver.lock                  inter-process lock (fcntl), taken around every read and write
    xolver.generation            a counter bumped by every write, so other processes know to reload
    xolver-lexical/              the persisted BM25 side index of each collection (snapshot + journal)

Why the lock and the counter: chromadb's embedded client keeps each HNSW index in process memory and
flushes it to disk on its own schedule. Two processes adding to one folder at the same time corrupt
the index (measured here: lost ids and "Error finding id" on query), and a long-lived process never
sees another's writes. So writes are serialised with an exclusive file lock, and a process that finds
the generation counter moved since it loaded reopens the client (and reloads its BM25 side indexes
from ``xolver-lexical/``: see `xolver.memory.chroma._side_index`) before it reads or writes. Each
batch is a single chromadb ``add`` (one SQLite transaction holding
every record's document, metadata and embedding), so a process killed mid-import leaves whole
records or none.

What it does not do: lock on platforms without ``fcntl`` (Windows), where one writer at a time is
the caller's responsibility.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

from xolver.errors import UserError
from xolver.memory.chroma._server import ServerLink
from xolver.memory.chroma._side_index import SUFFIXES, SideIndex, record_from
from xolver.memory.embedders import Embedder
from xolver.memory.locking import FolderLock
from xolver.memory.records import ExperienceRecord, RecordKind

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["COMPACT_ON_CLOSE", "KINDS", "PAGE", "ChromaFolder", "Key", "default_memory_path", "fetch"]

KINDS: tuple[RecordKind, ...] = get_args(RecordKind)
PAGE = 5000
# Journal lines at which closing a folder writes a fresh snapshot (measured at 100k records:
# replaying 1000 journal lines costs about 0.14 s of CPU on every open, writing the snapshot about
# 0.5 s once).
COMPACT_ON_CLOSE = 1000
_SCHEMA = 1

Key = tuple[RecordKind, str]
"""A collection's (record kind, namespace)."""


def default_memory_path() -> Path:
    """Where the memory lives unless told otherwise: ``xolver_home() / "memory"``."""
    # Imported here so that importing the memory package never imports the config module
    # (the config may then name memory types, such as SearchMode, without an import cycle).
    from xolver.config import xolver_home

    return xolver_home() / "memory"


def _collection_name(prefix: str, kind: RecordKind, namespace: str) -> str:
    """A valid chromadb collection name for (kind, namespace): readable slug plus a hash of the name."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "-", namespace).strip("-_")[:40] or "ns"
    digest = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:10]
    return f"{prefix}-{kind}-{slug}-{digest}"


class ChromaFolder:
    """The collections of one memory folder, their side indexes, and the lock that guards them.

    Callers hold `hold` around every use and call `refresh` first inside it; `bump_generation`
    before and after a write. Opening checks (and on first use records) the embedder.

    With `url` the memory lives on a Chroma server instead (`xolver.memory.chroma._server`): no
    folder, no file lock; the manifest and write token live on the server, and loaded side indexes
    are brought up to date incrementally when another writer wrote.

    Args:
        path: the folder (created if missing); ignored with `url`.
        url: ``http://HOST:PORT`` of a Chroma server (``chroma run``), shared by every process and host.
        embedder: computes the vectors; recorded in the manifest, and another one is refused.
        namespace: when given, the folder is bound to it: `keys` and `namespace_for` see nothing else.
        hnsw: chromadb's HNSW configuration for new collections.
        collection_prefix: collection names start with ``<prefix>-<kind>-``.

    Raises:
        UserError: the folder was built with another embedder, or cannot be opened.
    """

    def __init__(
        self,
        path: Path,
        *,
        url: str | None = None,
        embedder: Embedder,
        namespace: str | None,
        hnsw: dict[str, Any],
        collection_prefix: str,
    ) -> None:
        if namespace is not None and not namespace:
            raise UserError("namespace must not be empty")
        self.path = path
        self.url = url
        self.embedder = embedder
        self.namespace = namespace
        self.hnsw = hnsw
        self.collection_prefix = collection_prefix
        self.dimension: int | None = None
        self._lock = threading.RLock()
        self._client: ClientAPI | None = None
        self.names: dict[Key, str] = {}
        self.collections: dict[Key, Collection] = {}
        self.side: dict[Key, SideIndex] = {}
        self._generation: object = -1
        # Side indexes loaded before another writer wrote (server mode): brought up to date on next use.
        self._stale: set[Key] = set()
        self._server: ServerLink | None = None
        self._ipc: FolderLock | ServerLink
        if url is not None:
            self._ipc = self._server = ServerLink(url, self._lock, prefix=collection_prefix)
            self.dimension = self._server.check_manifest(embedder)
            with self.hold(exclusive=True):
                self._open()
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create memory folder {str(self.path)!r}: {e}") from e
        self._ipc = FolderLock(self.path, self._lock)
        with self.hold(exclusive=True):
            self._check_manifest()
            self._open()

    @property
    def location(self) -> str:
        """Where the memory lives: the server's URL, or the folder."""
        return self.url if self.url is not None else str(self.path)

    # ------------------------------------------------------------------ locking and freshness

    def hold(self, *, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        """The thread and file lock: exclusive for writes, shared for reads."""
        return self._ipc.hold(exclusive=exclusive)

    def bump_generation(self) -> None:
        """Tell other processes that the folder changed. Call with the lock held exclusively."""
        if self._server is not None:
            self._generation = self._server.bump(self._generation)
        else:
            self._generation = self._ipc.bump(self._generation if isinstance(self._generation, int) else -1)

    def refresh(self) -> None:
        """Reopen when another process wrote since we loaded. Call with the lock held."""
        if self._client is None:
            raise UserError(f"memory at {self.location!r} is closed")
        if self._ipc.generation() != self._generation:
            self._open()

    def close(self) -> None:
        """Release chromadb's resources; the folder cannot be used afterwards.

        A side index whose journal holds at least `COMPACT_ON_CLOSE` lines (a bulk import, or many
        small writes since the last snapshot) is saved as a snapshot first, so the next open
        replays (re-tokenises) nothing.
        """
        with self._lock:
            if self._client is not None and self._server is None:
                self._compact()
            self._close_client()
            if self._server is not None:
                self._server.close()

    def _compact(self) -> None:
        pending = [key for key, side in self.side.items() if side.journal_lines >= COMPACT_ON_CLOSE]
        if not pending:
            return
        with contextlib.suppress(OSError), self.hold(exclusive=True):
            if self._ipc.generation() != self._generation:
                return  # another process wrote since we loaded: our indexes lack its journal lines
            for key in pending:
                collection = self.collections.get(key)
                if collection is not None and key in self.names:
                    self.side[key].save(self.lexical_dir, self.names[key], collection_id=str(collection.id))

    # ------------------------------------------------------------------ opening

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
            self.dimension = int(dim) if isinstance(dim, int) else None
            return
        data = {"embedder": self.embedder.id, "dimension": self.embedder.dimension, "schema": _SCHEMA}
        tmp = manifest.with_name(f"{manifest.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, manifest)
        self.dimension = self.embedder.dimension

    def _open(self) -> None:
        """(Re)open the chromadb client and list the collections. Call with the lock held.

        Side indexes are built lazily, per (kind, namespace), on first use.
        """
        if self._server is not None:
            self._open_server(self._server)
            return
        import chromadb
        from chromadb.config import Settings

        self._close_client()
        generation = self._ipc.generation()
        try:
            client = chromadb.PersistentClient(
                path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
            )
            collections = client.list_collections()
        except Exception as e:  # chromadb raises many types; all mean "cannot open this folder"
            raise UserError(f"cannot open memory at {str(self.path)!r}: {e}") from e
        self._client = client
        self._register(collections)
        self._generation = generation

    def _open_server(self, server: ServerLink) -> None:
        """Re-list the server's collections, keeping loaded side indexes (marked stale)."""
        # The token is read before the listing: a write during the listing moves it again.
        generation = server.generation()
        collections = server.client.list_collections()
        loaded = self.side
        self._client = server.client
        self.names, self.collections, self.side = {}, {}, {}
        self._register(collections)
        self.side = {key: side for key, side in loaded.items() if key in self.collections}
        self._stale = set(self.side)
        self._generation = generation

    def _register(self, collections: Sequence[Collection]) -> None:
        """Index xolver's collections by (kind, namespace), refusing another embedder's."""
        for collection in collections:
            meta = collection.metadata or {}
            kind, ns = meta.get("xolver:kind"), meta.get("xolver:namespace")
            if kind not in KINDS or not isinstance(ns, str) or not collection.name.startswith(self.collection_prefix):
                continue
            stored = meta.get("xolver:embedder")
            if stored != self.embedder.id:
                raise UserError(
                    f"memory at {self.location!r} was built with embedder {stored!r}, not {self.embedder.id!r}: "
                    "open it with the same embedder or use another path"
                )
            self.names[(cast(RecordKind, kind), ns)] = collection.name
            self.collections[(cast(RecordKind, kind), ns)] = collection

    def _close_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                # chromadb's ClientAPI type does not declare close(); its client objects have one.
                close = getattr(self._client, "close", None)
                if close is not None:
                    close()
        self._client = None
        self.names = {}
        self.collections = {}
        self.side = {}

    # ------------------------------------------------------------------ collections

    def collection(self, key: Key, *, create: bool = False) -> tuple[Collection, SideIndex] | None:
        """The collection and side index of (kind, namespace); created (write lock held) if asked."""
        collection = self.collections.get(key)
        if collection is None:
            if not create:
                return None
            assert self._client is not None, "store is closed"
            kind, ns = key
            metadata: dict[str, str | int | float | bool] = {
                "xolver:embedder": self.embedder.id,
                "xolver:dimension": self.dimension or self.embedder.dimension,
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
            self.collections[key] = collection
            self.names[key] = collection.name
        side = self.side.get(key)
        if side is None:
            side = self.side[key] = self._load_side(key, collection)
        elif key in self._stale:
            _sync_side(collection, side)
        self._stale.discard(key)
        return collection, side

    # ------------------------------------------------------------------ the persisted lexical index

    @property
    def lexical_dir(self) -> Path:
        """Where the side indexes persist (`SideIndex.save`): ``<folder>/xolver-lexical``."""
        return self.path / "xolver-lexical"

    def _load_side(self, key: Key, collection: Collection) -> SideIndex:
        """The persisted side index (synced if chromadb holds other records), else one built and saved."""
        if self._server is not None:
            return _build_side(collection)
        name = self.names.get(key, collection.name)
        side = SideIndex.load(self.lexical_dir, name, collection_id=str(collection.id))
        if side is not None and side.live_count() == collection.count():
            if side.legacy:  # the first snapshot format: rewritten once in the current one
                with contextlib.suppress(OSError):
                    side.save(self.lexical_dir, name, collection_id=str(collection.id))
            return side
        if side is not None:
            _sync_side(collection, side)
        else:
            side = _build_side(collection)
        with contextlib.suppress(OSError):
            side.save(self.lexical_dir, name, collection_id=str(collection.id))
        return side

    def journal(self, key: Key, ops: list[dict[str, Any]]) -> None:
        """Persist side-index changes just made to (kind, namespace). Call with the write lock held.

        Appends to the journal; rewrites the snapshot when the journal grows past a tenth of it.
        """
        side, collection = self.side.get(key), self.collections.get(key)
        if self._server is not None or side is None or collection is None or not ops:
            return
        name = self.names[key]
        try:
            side.journal(self.lexical_dir, name, ops)
            if side.journal_lines > max(1000, side.live_count() // 10):
                side.save(self.lexical_dir, name, collection_id=str(collection.id))
        except OSError:
            # The index in memory is right; the next open repairs a stale file from chromadb.
            pass

    def drop(self, key: Key) -> None:
        """Delete the collection of (kind, namespace). Call with the lock held exclusively."""
        assert self._client is not None, "store is closed"
        self._client.delete_collection(self.names[key])
        if self._server is None:
            for suffix in SUFFIXES:
                (self.lexical_dir / f"{self.names[key]}{suffix}").unlink(missing_ok=True)
        for table in (self.names, self.collections, self.side):
            table.pop(key, None)

    def collection_keys(self, kind: RecordKind | None = None, namespace: str | None = None) -> list[Key]:
        """Existing (kind, namespace) pairs, restricted to the bound namespace when there is one."""
        bound = self.namespace
        return sorted(
            key
            for key in self.collections
            if (kind is None or key[0] == kind)
            and (namespace is None or key[1] == namespace)
            and (bound is None or key[1] == bound)
        )

    def locate(self, ids: Sequence[str]) -> dict[Key, list[str]]:
        """Which (kind, namespace) holds each of `ids` (unknown ids are left out)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[Key, list[str]] = {}
        for key in self.collection_keys():
            got = self.collection(key)
            if got is None:
                continue
            position = got[1].position
            mine = [rid for rid in wanted if rid in position]
            if mine:
                found[key] = mine
        return found

    def pages(self, key: Key) -> Iterator[list[ExperienceRecord]]:
        """The records of one collection, a page at a time, each page read under the shared lock."""
        offset = 0
        while True:
            with self.hold(exclusive=False):
                self.refresh()
                collection = self.collections.get(key)
                if collection is None:
                    return
                page = collection.get(include=cast(Any, ["metadatas"]), limit=PAGE, offset=offset)
            yield [r for r in map(record_from, page["metadatas"] or []) if r is not None]
            if len(page["ids"]) < PAGE:
                return
            offset += len(page["ids"])

    # ------------------------------------------------------------------ arguments

    def namespace_for(self, namespace: str | None) -> str:
        """The namespace a call addresses: the bound one, else `namespace`, else ``"default"``.

        Raises:
            UserError: the folder is bound to another namespace.
        """
        if self.namespace is not None:
            if namespace is not None and namespace != self.namespace:
                raise UserError(f"this store is bound to namespace {self.namespace!r}, not {namespace!r}")
            return self.namespace
        return namespace if namespace is not None else "default"

    def kinds(self, kind: RecordKind | None) -> tuple[RecordKind, ...]:
        """The kinds a call addresses: all, or the one given.

        Raises:
            UserError: an unknown kind.
        """
        if kind is None:
            return KINDS
        if kind not in KINDS:
            raise UserError(f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}")
        return (kind,)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts with the folder's embedder, checking the dimension the folder was built with."""
        vectors = self.embedder.embed(texts)
        if vectors and self.dimension is not None and len(vectors[0]) != self.dimension:
            raise UserError(
                f"embedder {self.embedder.id!r} gives {len(vectors[0])}-d vectors; the memory holds {self.dimension}-d"
            )
        return vectors


def fetch(collection: Collection, ids: Sequence[str]) -> dict[str, ExperienceRecord]:
    """The records of `ids` in one collection, by id (ids it does not hold are left out)."""
    got = collection.get(ids=list(ids), include=cast(Any, ["metadatas"]))
    out: dict[str, ExperienceRecord] = {}
    for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
        record = record_from(meta)
        if record is not None:
            out[rid] = record
    return out


def _sync_side(collection: Collection, side: SideIndex) -> None:
    """Bring a loaded side index up to date: drop the ids that are gone, fetch only the new ones."""
    ids: list[str] = []
    while True:
        page = collection.get(include=cast(Any, []), limit=PAGE, offset=len(ids))
        ids.extend(page["ids"])
        if len(page["ids"]) < PAGE:
            break
    current = set(ids)
    for rid in [rid for rid in side.position if rid not in current]:
        side.remove(rid)
    new = [rid for rid in ids if rid not in side.position]
    for start in range(0, len(new), PAGE):
        got = collection.get(ids=new[start : start + PAGE], include=cast(Any, ["documents", "metadatas"]))
        docs = got["documents"] or [""] * len(got["ids"])
        metas = got["metadatas"] or [{}] * len(got["ids"])
        for rid, doc, meta in zip(got["ids"], docs, metas, strict=False):
            side.add(rid, doc or "", dict(meta or {}))


def _build_side(collection: Collection) -> SideIndex:
    side = SideIndex()
    offset = 0
    while True:
        page = collection.get(include=cast(Any, ["documents", "metadatas"]), limit=PAGE, offset=offset)
        ids = page["ids"]
        if not ids:
            break
        docs = page["documents"] or [""] * len(ids)
        metas = page["metadatas"] or [{}] * len(ids)
        for rid, doc, meta in zip(ids, docs, metas, strict=False):
            side.add(rid, doc or "", dict(meta or {}))
        offset += len(ids)
        if len(ids) < PAGE:
            break
    return side
