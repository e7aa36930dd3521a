"""Server mode: one memory on a Chroma server (``chroma run``) shared by every process and host.

In server mode the Chroma server owns the HNSW indexes and serialises writes itself, so the folder's
file lock and generation file (`xolver.memory.locking`) are not needed and would not work across
hosts anyway. What replaces them:

- **The embedder manifest** lives in the metadata of one collection, ``<prefix>-manifest``, created
  by the first writer with its embedder's id and dimension; a store opened with another embedder is
  refused, exactly as the folder's ``xolver-memory.json`` does.
- **A write token** in the same metadata: every write sets a fresh random token before and after it
  writes. A process reads the token (one small HTTP request) at the start of each operation; when it
  moved, the process re-lists the collections and brings each BM25 side index it has loaded up to
  date incrementally: it lists the collection's ids and fetches only the records it does not have
  (and drops the ones that are gone). That is the freshness rule of the lexical half of hybrid
  search: a search sees every write that finished before it started.
- **Deterministic ids**: in server mode a record's id is derived from its kind, namespace and
  indexed text (its whole content when the near-duplicate rule is off), and Chroma ignores an
  ``add`` of an id it holds. Two hosts that write the same experience at the same moment write one
  record, even when their solutions differ in wording (identical text is a near duplicate anyway);
  nothing is lost, nothing doubles.

What it does not guarantee: the near-duplicate rule for *different but near-identical* texts (cosine
similarity to a stored record) is checked against what the server holds at write time, so two such
records written by two hosts in the same instant can both land. An unreachable server raises `MemoryServerUnavailable`
(a `UserError`), it never hangs on a refused connection; a server that accepts connections but
stops answering is bounded only by the HTTP client's timeouts.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from xolver.errors import UserError, XolverError
from xolver.memory.embedders import Embedder

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI

__all__ = ["MemoryServerUnavailable", "ServerLink", "parse_memory_url", "server_record_id"]

_SCHEMA = 1


class MemoryServerUnavailable(UserError):
    """The Chroma server of ``memory_url`` cannot be reached (not started, stopped, or unreachable)."""


def parse_memory_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of an ``http://HOST:PORT`` or ``https://HOST[:PORT]`` memory URL.

    Raises:
        UserError: not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"memory URL must look like http://HOST:PORT, got {url!r}")
    if parts.path not in ("", "/"):
        raise UserError(f"memory URL takes no path, got {url!r}")
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError as e:
        raise UserError(f"memory URL has a bad port: {url!r}") from e
    return parts.hostname, port, ssl


def server_record_id(digest: str) -> str:
    """The id a record gets in server mode: a content digest (see the module docstring), shortened."""
    return digest[:32]


def _unreachable(error: BaseException) -> bool:
    """Whether `error` means the server cannot be reached (rather than a refused request)."""
    import httpx

    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, ValueError) and "Could not connect to a Chroma server" in str(error)


class ServerLink:
    """The client, manifest and write token of one memory on a Chroma server.

    It has the `FolderLock` interface `ChromaFolder` uses (``hold``, ``generation``, ``bump``).

    Args:
        url: ``http://HOST:PORT`` of ``chroma run``.
        thread_lock: the in-process lock (re-entrant, shared with the store).
        prefix: collection-name prefix; the manifest is ``<prefix>-manifest``.

    Raises:
        MemoryServerUnavailable: nothing answers at `url`.
    """

    def __init__(self, url: str, thread_lock: threading.RLock, *, prefix: str) -> None:
        self.url = url.strip().rstrip("/")
        self.host, self.port, self.ssl = parse_memory_url(self.url)
        self._thread_lock = thread_lock
        self.manifest_name = f"{prefix}-manifest"
        self._manifest: dict[str, Any] = {}
        self.client: ClientAPI = self._connect()

    def _connect(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings

        try:
            return chromadb.HttpClient(
                host=self.host,
                port=self.port,
                ssl=self.ssl,
                settings=Settings(anonymized_telemetry=False, allow_reset=False),
            )
        except Exception as e:  # chromadb raises ValueError for a refused connection
            raise self.unavailable(e) from e

    def unavailable(self, error: BaseException) -> MemoryServerUnavailable:
        return MemoryServerUnavailable(
            f"memory server {self.url!r} is unreachable ({type(error).__name__}: {error}); "
            f"start it with 'chroma run --path DIR --host HOST --port {self.port}' or check --memory-url"
        )

    @contextlib.contextmanager
    def hold(self, *, exclusive: bool) -> Iterator[None]:
        """The in-process lock (the server serialises writers itself); a lost server becomes
        `MemoryServerUnavailable`."""
        with self._thread_lock:
            try:
                yield
            except XolverError:
                raise
            except Exception as e:
                if _unreachable(e):
                    raise self.unavailable(e) from e
                raise

    def check_manifest(self, embedder: Embedder) -> int | None:
        """Record the embedder on first use; refuse another one later. Returns the stored dimension.

        Raises:
            UserError: the server's memory was built with another embedder.
        """
        wanted: dict[str, Any] = {
            "xolver:embedder": embedder.id,
            "xolver:dimension": embedder.dimension,
            "xolver:schema": _SCHEMA,
            "xolver:generation": uuid.uuid4().hex,
        }
        with self.hold(exclusive=True):
            # get_or_create keeps the metadata of a collection that exists: the first writer's embedder.
            collection = self.client.get_or_create_collection(
                self.manifest_name, embedding_function=None, metadata=cast(Any, wanted)
            )
            stored = dict(collection.metadata or {})
        if stored.get("xolver:embedder") != embedder.id:
            raise UserError(
                f"memory at {self.url!r} was built with embedder {stored.get('xolver:embedder')!r}, "
                f"not {embedder.id!r}: open it with the same embedder or use another server"
            )
        self._manifest = {k: v for k, v in stored.items() if k != "xolver:generation"}
        dim = stored.get("xolver:dimension")
        return int(dim) if isinstance(dim, int) else None

    def generation(self) -> str:
        """The current write token (any change means another writer finished or started a write)."""
        collection = self.client.get_collection(self.manifest_name)
        return str((collection.metadata or {}).get("xolver:generation", ""))

    def bump(self, seen: object) -> str:
        """Set a fresh write token; return it."""
        token = uuid.uuid4().hex
        collection = self.client.get_collection(self.manifest_name)
        collection.modify(metadata=cast(Any, {**self._manifest, "xolver:generation": token}))
        return token

    def close(self) -> None:
        with contextlib.suppress(Exception):
            close = getattr(self.client, "close", None)
            if close is not None:
                close()
