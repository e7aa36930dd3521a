"""The side index of a chromadb collection: BM25 plus the metadata needed to filter it.

chromadb has no lexical ranking, so `ChromaExperienceStore` keeps one of these per collection. It
also carries the content hashes used for de-duplication, per-record namespace, domain and source,
and which records are retired, so filters and statistics need no round trip to chromadb.

It persists with the folder: ``xolver-lexical/<collection>.index`` is a snapshot (one file, replaced
atomically: a JSON header with the ids and per-record metadata, then the BM25 postings, lengths,
liveness and content hashes as raw arrays) and ``<collection>.jsonl`` a journal of the writes since.
Opening a collection memory-maps the snapshot and replays the journal instead of re-tokenising every
document; a term's postings are read from the map only when a query names the term, and the content
hashes only when a write needs them, so opening costs about the same at 100k records as at 1k. The
snapshot names the chromadb collection id, and a loaded index whose live count differs from the
collection's is brought up to date from chromadb (so a crash between a chromadb write and its journal
line costs a sync, not a wrong index). No pickle: raw arrays and JSON only. The first format
(``.npz`` + ``.json``) is still read, and replaced by the current one on the next save.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import mmap
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xolver.memory.bm25 import BM25Index
from xolver.memory.records import ExperienceRecord

__all__ = ["SUFFIXES", "SideIndex", "add_op", "record_from", "record_metadata"]

# The snapshot, the journal, and the two files of the first snapshot format.
SUFFIXES = (".index", ".jsonl", ".npz", ".json")
_MAGIC = b"XLEXIDX2"
_ALIGN = 64
_COLUMNS = ("namespaces", "domains", "sources")


class SideIndex:
    """Per-collection BM25 index and the metadata needed to filter it without asking chromadb.

    Positions (BM25 document numbers) are stable; removed records leave a dead position behind.

    Args:
        bm25: the BM25 index (a new empty one by default).
    """

    def __init__(self, bm25: BM25Index | None = None) -> None:
        self.bm25 = bm25 if bm25 is not None else BM25Index()
        self.ids: list[str] = []
        self.namespaces: list[str] = []
        self.domains: list[str] = []
        self.sources: list[str] = []
        self.alive: list[bool] = []
        self.position: dict[str, int] = {}
        self.retired: set[str] = set()
        # Lines in this index's journal file since its last snapshot (decides when to compact).
        self.journal_lines = 0
        # True when loaded from the first snapshot format (the caller saves it in the current one).
        self.legacy = False
        # Filter masks are rebuilt only after a change: building one is a pass over every record.
        self._masks: dict[tuple[str, str | None], Any] = {}
        # Content hash per position: a loaded snapshot's array (bytes, read lazily) for the
        # positions it held, then a list for the positions added since. The set of live hashes is
        # built on first use (a write's de-duplication), not on load.
        self._hash_base: Any = None
        self._hash_base_len = 0
        self._hash_tail: list[str] = []
        self._hashes: set[str] | None = None

    def _hash_at(self, pos: int) -> str:
        if pos < self._hash_base_len:
            value = self._hash_base[pos]
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return self._hash_tail[pos - self._hash_base_len]

    def _hash_column(self) -> Any:
        """The content hash of every position as a bytes array; dead positions keep none (a
        removed record's content may be written again)."""
        import numpy as np

        alive = np.asarray(self.alive, dtype=bool)
        n = self._hash_base_len
        parts = []
        if n:
            parts.append(np.where(alive[:n], self._hash_base, b""))
        if self._hash_tail:
            tail = [h.encode("utf-8") for h in self._hash_tail]
            parts.append(np.where(alive[n:], np.array(tail, dtype=bytes), b""))
        if not parts:
            return np.zeros(0, dtype="S1")
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    @property
    def hashes(self) -> set[str]:
        """Content hashes of the live records."""
        if self._hashes is None:
            if self._hash_base_len:
                base = self._hash_base.tolist()
                self._hashes = {
                    h.decode("utf-8") for h, a in zip(base, self.alive[: self._hash_base_len], strict=True) if a
                }
            else:
                self._hashes = set()
            self._hashes.update(h for h, a in zip(self._hash_tail, self.alive[self._hash_base_len :], strict=True) if a)
        return self._hashes

    def add(self, record_id: str, document: str, meta: dict[str, Any]) -> None:
        if record_id in self.position:
            return
        self.position[record_id] = self.bm25.add(document)
        self.ids.append(record_id)
        self.namespaces.append(str(meta.get("namespace", "default")))
        self.domains.append(str(meta.get("domain", "general")))
        self.sources.append(str(meta.get("source", "")))
        self.alive.append(True)
        self._masks.clear()
        h = str(meta.get("hash", ""))
        self._hash_tail.append(h)
        if self._hashes is not None:
            self._hashes.add(h)
        if meta.get("retired"):
            self.retired.add(record_id)

    def set_retired(self, record_id: str, retired: bool) -> None:
        if record_id not in self.position or (record_id in self.retired) == retired:
            return
        (self.retired.add if retired else self.retired.discard)(record_id)
        self._masks.clear()

    def remove(self, record_id: str) -> None:
        pos = self.position.pop(record_id, None)
        if pos is None:
            return
        self.bm25.remove(pos)
        self.alive[pos] = False
        self._masks.clear()
        if self._hashes is not None:
            self._hashes.discard(self._hash_at(pos))
        self.retired.discard(record_id)

    def mask(self, namespace: str, domain: str | None) -> Any:
        """A numpy boolean array: which positions are alive, not retired, and in `namespace` (and `domain`)."""
        import numpy as np

        key = (namespace, domain)
        cached = self._masks.get(key)
        if cached is None:
            cached = np.fromiter(
                (
                    a and ns == namespace and (domain is None or d == domain)
                    for a, ns, d in zip(self.alive, self.namespaces, self.domains, strict=False)
                ),
                dtype=bool,
                count=len(self.alive),
            )
            for rid in self.retired:
                cached[self.position[rid]] = False
            self._masks[key] = cached
        return cached

    def live_count(self) -> int:
        return self.bm25.live

    def live_ids_from(self, source: str | None) -> list[str]:
        """Ids of the live records whose source is `source`."""
        return [rid for i, rid in enumerate(self.ids) if self.alive[i] and self.sources[i] == source]

    # ------------------------------------------------------------------ persistence

    def save(self, folder: Path, name: str, *, collection_id: str) -> None:
        """Write a snapshot of this index and empty its journal (atomically: a tmp file, then rename)."""
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        arrays, scalars = self.bm25.to_arrays()
        arrays["alive"] = np.asarray(self.alive, dtype=np.uint8)
        arrays["hashes"] = self._hash_column()
        # Namespace, domain and source repeat across records: each is stored as its distinct values
        # (in the header) and one code per record.
        columns: dict[str, list[str]] = {}
        for column in _COLUMNS:
            values, codes = _encode_column(getattr(self, column))
            columns[column] = values
            arrays[column] = codes
        layout: dict[str, list[Any]] = {}
        offset = 0
        blobs: list[tuple[int, bytes]] = []
        for key, array in arrays.items():
            data = np.ascontiguousarray(array)
            layout[key] = [data.dtype.str, int(data.shape[0]), offset]
            blobs.append((offset, data.tobytes()))
            offset = _aligned(offset + data.nbytes)
        header = json.dumps(
            {
                "schema": 2,
                "collection": collection_id,
                "bm25": scalars,
                "ids": self.ids,
                "columns": columns,
                "retired": sorted(self.retired),
                "arrays": layout,
            }
        ).encode("utf-8")
        data_start = _aligned(16 + len(header))
        snapshot, journal = folder / f"{name}.index", folder / f"{name}.jsonl"
        tmp = snapshot.with_name(f"{snapshot.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(_MAGIC + len(header).to_bytes(8, "little") + header)
            for rel, blob in blobs:
                fh.seek(data_start + rel)
                fh.write(blob)
            fh.truncate(data_start + offset)
        # Order matters: the snapshot first, then the journal it includes is emptied.
        os.replace(tmp, snapshot)
        for suffix in (".npz", ".json"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
        self.journal_lines = 0
        self.legacy = False

    @classmethod
    def load(cls, folder: Path, name: str, *, collection_id: str) -> SideIndex | None:
        """The persisted index of collection `collection_id` with its journal replayed; None when
        there is none, it belongs to another collection, or it is unreadable."""
        try:
            side = _load_snapshot(folder / f"{name}.index", collection_id)
            if side is None and not (folder / f"{name}.index").exists():
                side = _load_first_format(folder, name, collection_id)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        if side is not None:
            side._replay(folder / f"{name}.jsonl")
        return side

    def journal(self, folder: Path, name: str, ops: list[dict[str, Any]]) -> None:
        """Append write operations (``add``, ``remove``, ``retired``) to this index's journal."""
        if not ops:
            return
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.jsonl", "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(op) + "\n" for op in ops))
        self.journal_lines += len(ops)

    def _replay(self, journal: Path) -> None:
        try:
            lines = journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                op = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash; the count check against chromadb repairs the rest
            match op.get("op"):
                case "add":
                    self.add(str(op["id"]), str(op["doc"]), dict(op["meta"]))
                case "remove":
                    self.remove(str(op["id"]))
                case "retired":
                    self.set_retired(str(op["id"]), bool(op["value"]))
                case _:
                    pass
        self.journal_lines = len(lines)


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _positions(ids: list[str], alive: list[bool]) -> dict[str, int]:
    """id -> position of the live records (built by C-level iterators: a dict comprehension over
    100k records cost 55 ms, most of a snapshot's load)."""
    if all(alive):
        return dict(zip(ids, range(len(ids)), strict=True))
    return dict(zip(itertools.compress(ids, alive), itertools.compress(range(len(ids)), alive), strict=True))


def _encode_column(values: list[str]) -> tuple[list[str], Any]:
    """(distinct values, one uint32 code per record) of a column of strings."""
    import numpy as np

    distinct = list(dict.fromkeys(values))
    code_of = {v: i for i, v in enumerate(distinct)}
    return distinct, np.fromiter(map(code_of.__getitem__, values), dtype=np.uint32, count=len(values))


def _decode_column(distinct: list[str], codes: Any) -> list[str]:
    import numpy as np

    if not len(codes):
        return []
    table = np.empty(len(distinct), dtype=object)
    table[:] = distinct
    return list(table[np.asarray(codes, dtype=np.intp)].tolist())


def _load_snapshot(path: Path, collection_id: str) -> SideIndex | None:
    """A snapshot written by `SideIndex.save`, its arrays memory-mapped; None if absent or foreign."""
    import numpy as np

    try:
        with open(path, "rb") as fh:
            prefix = fh.read(16)
            if len(prefix) != 16 or prefix[:8] != _MAGIC:
                raise ValueError("not a side index snapshot")
            size = int.from_bytes(prefix[8:], "little")
            meta = json.loads(fh.read(size))
            if meta.get("schema") != 2 or meta.get("collection") != collection_id:
                return None
            data_start = _aligned(16 + size)
            # The map outlives the file object; a later save replaces the file (a new inode), so
            # what this process mapped never changes under it.
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return None
    arrays: dict[str, Any] = {}
    for key, (dtype, count, offset) in meta["arrays"].items():
        dt = np.dtype(dtype)
        if data_start + offset + count * dt.itemsize > len(mapped):
            raise ValueError(f"side index snapshot {path} is truncated")
        start = data_start + offset
        arrays[key] = np.frombuffer(mapped, dtype=dt, count=count, offset=start) if count else np.zeros(0, dt)
    side = SideIndex(BM25Index.from_arrays(arrays, meta["bm25"]))
    side.ids = list(meta["ids"])
    for column in _COLUMNS:
        setattr(side, column, _decode_column(meta["columns"][column], arrays[column]))
    side.alive = arrays["alive"].astype(bool).tolist()
    n = len(side.ids)
    if not (len(side.namespaces) == len(side.domains) == len(side.sources) == len(side.alive) == n):
        raise ValueError(f"side index snapshot {path} is inconsistent")
    side.position = _positions(side.ids, side.alive)
    side._hash_base, side._hash_base_len = arrays["hashes"], len(arrays["hashes"])
    if side._hash_base_len != n:
        raise ValueError(f"side index snapshot {path} is inconsistent")
    side.retired = set(meta["retired"]) & side.position.keys()
    return side


def _load_first_format(folder: Path, name: str, collection_id: str) -> SideIndex | None:
    """A snapshot of the first format (``.json`` + ``.npz``), read whole; None if absent or foreign."""
    import numpy as np

    try:
        meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if meta.get("schema") != 1 or meta.get("collection") != collection_id:
        return None
    with np.load(folder / f"{name}.npz") as data:
        arrays = {k: data[k] for k in data.files}
    side = SideIndex(BM25Index.from_arrays(arrays, meta["bm25"]))
    side.ids = list(meta["ids"])
    side.namespaces = list(meta["namespaces"])
    side.domains = list(meta["domains"])
    side.sources = list(meta["sources"])
    side.alive = [bool(a) for a in meta["alive"]]
    hashes = [str(h) for h in meta["hashes"]]
    if len(hashes) != len(side.ids):
        raise ValueError("side index snapshot is inconsistent")
    side._hash_tail = hashes
    side.position = _positions(side.ids, side.alive)
    side.retired = set(meta["retired"]) & side.position.keys()
    side.legacy = True
    return side


def add_op(record_id: str, document: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The journal line of an added record (only the metadata the side index keeps)."""
    keep = {k: meta[k] for k in ("namespace", "domain", "source", "hash", "retired") if k in meta}
    return {"op": "add", "id": record_id, "doc": document, "meta": keep}


def record_metadata(record: ExperienceRecord) -> dict[str, str | int | float | bool]:
    """The chromadb metadata of a record."""
    # Filterable fields are top-level; the whole record rides along as JSON so it round-trips
    # exactly (chromadb metadata cannot hold None).
    return {
        "namespace": record.namespace,
        "kind": record.kind,
        "domain": record.domain,
        "source": record.source,
        "hash": record.hash,
        "verified": record.verified,
        "retired": record.retired,
        "created_at": record.created_at,
        "record": record.model_dump_json(),
    }


def record_from(meta: Any) -> ExperienceRecord | None:
    """The record inside chromadb metadata; None when it is missing or invalid."""
    try:
        return ExperienceRecord.model_validate_json(str(meta["record"]))
    except (KeyError, TypeError, ValidationError):
        return None
