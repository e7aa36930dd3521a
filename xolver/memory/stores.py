"""The store factory: `StoreSpec` (which experience store, parsed once) and `open_store`.

Every surface opens its store here (through `xolver.runtime` or, for the ``xolver memory`` commands,
directly), so a flag or config field means the same thing everywhere and no surface names a store
class. The ``hash:<dim>`` embedder spec is parsed in `embedder_from_spec` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from xolver.errors import UserError

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.memory.base import ExperienceStore
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.embedders import Embedder

__all__ = ["StoreBackend", "StoreSpec", "embedder_from_spec", "open_chroma_store", "open_store"]

StoreBackend = Literal["chroma", "memory", "off"]

_EMBEDDERS: dict[str, Embedder] = {}


def embedder_from_spec(spec: str | None) -> Embedder:
    """A sentence-transformers model name or path, or ``hash`` / ``hash:<dim>`` (the test embedder).

    Instances are kept for the life of the process, so the model loads once however many stores
    and commands use it.
    """
    from xolver.memory.embedders import DEFAULT_MODEL, HashEmbedder, SentenceTransformerEmbedder

    key = spec or DEFAULT_MODEL
    if key not in _EMBEDDERS:
        if key == "hash" or key.startswith("hash:"):
            _, _, dim = key.partition(":")
            if dim and not dim.isdigit():
                raise UserError(f"hash embedder dimension must be a number, got {dim!r}")
            _EMBEDDERS[key] = HashEmbedder(int(dim) if dim else 256)
        else:
            _EMBEDDERS[key] = SentenceTransformerEmbedder(key)
    return _EMBEDDERS[key]


@dataclass(frozen=True)
class StoreSpec:
    """Which experience store to open.

    Attributes:
        backend: ``chroma`` (persistent, hybrid dense + BM25 search), ``memory`` (in-process BM25,
            forgotten on exit) or ``off`` (no store).
        path: the chroma folder (default ``$XOLVER_HOME/memory``).
        url: a Chroma server (``http://HOST:PORT`` of ``chroma run``) instead of a folder: one memory
            shared by every process and host (`xolver.memory.chroma._server` says what it guarantees).
        embedder: the chroma store's embedder (see `embedder_from_spec`; default all-MiniLM-L6-v2).
        namespace: bind a chroma store to this namespace, so nothing can read or write another one.
            None: every solve passes its own namespace (one store serves every tenant).
    """

    backend: StoreBackend = "chroma"
    path: Path | None = None
    url: str | None = None
    embedder: str | None = None
    namespace: str | None = None

    @classmethod
    def from_config(cls, config: XolverConfig) -> StoreSpec:
        """The store `config` names: ``memory_store``, ``memory_path`` (or ``memory_url``, which
        means a chroma store on that server) and ``embedder``; ``off`` when ``memory_mode`` is off."""
        if config.memory_mode == "off":
            return cls(backend="off")
        path = Path(config.memory_path).expanduser() if config.memory_path else None
        if config.memory_url:
            return cls(backend="chroma", url=config.memory_url, embedder=config.embedder)
        return cls(backend=config.memory_store, path=path, embedder=config.embedder)


def open_chroma_store(spec: StoreSpec) -> ChromaExperienceStore:
    """The persistent store at ``spec.url`` (a Chroma server) or ``spec.path`` (whatever
    ``spec.backend`` says), for commands that manage the store itself (stats, export, forget).

    Raises:
        UserError: the folder or server cannot be opened, or was built with another embedder.
    """
    from xolver.memory import ChromaExperienceStore

    path = Path(spec.path).expanduser() if spec.path is not None else None
    return ChromaExperienceStore(
        path, url=spec.url, embedder=embedder_from_spec(spec.embedder), namespace=spec.namespace
    )


def open_store(spec: StoreSpec | XolverConfig) -> ExperienceStore | None:
    """Open the store `spec` describes (a `StoreSpec`, or the one a config names): None for
    ``off``, a fresh in-process BM25 store for ``memory``, else the persistent Chroma store (on
    the server ``spec.url`` names, when it names one).

    The caller owns the store and closes it (``close()``, where the store has one).

    Raises:
        UserError: the chroma folder cannot be opened or was built with another embedder.
    """
    if not isinstance(spec, StoreSpec):
        spec = StoreSpec.from_config(spec)
    if spec.backend == "off":
        return None
    if spec.backend == "memory" and spec.url is None:
        from xolver.memory import InMemoryExperienceStore

        return InMemoryExperienceStore()
    return open_chroma_store(spec)
