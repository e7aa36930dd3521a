"""The episodic-memory protocol that the graph's retrieve and write-back steps use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord

__all__ = ["ExperienceStore"]


@runtime_checkable
class ExperienceStore(Protocol):
    """A searchable store of experience records.

    Methods are synchronous (stores are CPU- or disk-bound); the graph calls them in a worker thread.
    Implementations must never return records of another namespace.
    """

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        kind: RecordKind | None = None,
        domain: str | None = None,
        namespace: str = "default",
    ) -> list[ScoredRecord]:
        """The `k` records most relevant to `query`, best first."""
        ...

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        """Store records, skipping content duplicates; return the ids actually written."""
        ...

    def count(self, *, namespace: str | None = None) -> int:
        """Number of records (in one namespace, or in all)."""
        ...
