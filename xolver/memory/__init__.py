"""Episodic (experience) memory: records, the store protocol, stores, embedders, retrieval, learning.

Importing this package is cheap: chromadb, sentence-transformers and torch load on first use.
Test doubles live in `xolver.memory.testing`.
"""

from __future__ import annotations

from xolver.memory.base import ExperienceStore, MemoryStats, SearchFilter, SearchMode
from xolver.memory.chroma import ChromaExperienceStore, default_memory_path
from xolver.memory.embedders import Embedder, HashEmbedder, SentenceTransformerEmbedder
from xolver.memory.importer import ImportReport, export_jsonl, import_jsonl
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.learning import parse_distillation, problem_record, should_write_back
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord, content_hash
from xolver.memory.retrieval import RetrievedExperience, retrieve_experience

__all__ = [
    "ChromaExperienceStore",
    "Embedder",
    "ExperienceRecord",
    "ExperienceStore",
    "HashEmbedder",
    "ImportReport",
    "InMemoryExperienceStore",
    "MemoryStats",
    "RecordKind",
    "RetrievedExperience",
    "ScoredRecord",
    "SearchFilter",
    "SearchMode",
    "SentenceTransformerEmbedder",
    "content_hash",
    "default_memory_path",
    "export_jsonl",
    "import_jsonl",
    "parse_distillation",
    "problem_record",
    "retrieve_experience",
    "should_write_back",
]
