"""`open_store`: the episodic memory a config asks for, and `embedder_from_spec`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from xolver.errors import UserError

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.memory.base import ExperienceStore
    from xolver.memory.embedders import Embedder

__all__ = ["embedder_from_spec", "open_store"]

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


def open_store(config: XolverConfig) -> ExperienceStore | None:
    """The store `config` describes: None when memory is off, a fresh in-process BM25 store for
    ``memory_store="memory"``, else the persistent Chroma store at `memory_path`
    (default ``$XOLVER_HOME/memory``)."""
    if config.memory_mode == "off":
        return None
    if config.memory_store == "memory":
        from xolver.memory.bm25 import InMemoryExperienceStore

        return InMemoryExperienceStore()
    from xolver.memory.chroma import ChromaExperienceStore

    path = Path(config.memory_path).expanduser() if config.memory_path else None
    return ChromaExperienceStore(path, embedder=embedder_from_spec(config.embedder))
