"""The persistent experience memory on chromadb: `ChromaExperienceStore` and its parts.

Modules, one concept each:

- ``store``: `ChromaExperienceStore`, the public facade (the `ExperienceStore` protocol and more).
- ``_folder``: the collections of one folder, the embedder manifest, the inter-process lock and
  the generation counter (durability across processes; its docstring says why).
- ``_side_index``: the per-collection BM25 index and filter metadata chromadb does not provide.
- ``_query``: dense (HNSW) and BM25 rankings, the index `HybridRetriever` composes.
- ``_dedup``: exact and near-duplicate detection on write.

Importing this package does not import chromadb; opening a store does.
"""

from __future__ import annotations

from xolver.memory.base import SearchMode
from xolver.memory.chroma._folder import KINDS, default_memory_path
from xolver.memory.chroma.store import ChromaExperienceStore

__all__ = ["KINDS", "ChromaExperienceStore", "SearchMode", "default_memory_path"]
