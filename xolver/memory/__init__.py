"""Episodic (experience) memory: records, the store protocol and its implementations."""

from __future__ import annotations

from xolver.memory.base import ExperienceStore
from xolver.memory.bm25 import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord, content_hash

__all__ = [
    "ExperienceRecord",
    "ExperienceStore",
    "InMemoryExperienceStore",
    "RecordKind",
    "ScoredRecord",
    "content_hash",
]
