"""The episodic-memory seam: `ExperienceStore`, and the values that cross it.

Everything a caller does with a memory (the graph's retrieve and write-back steps, the importer, the
``xolver memory`` commands, chat and MCP) goes through `ExperienceStore`, so no caller needs to know
which store it holds. `ChromaExperienceStore`, `InMemoryExperienceStore` and `ScriptedStore` (for
tests) implement all of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict, get_args, runtime_checkable

from pydantic import BaseModel, ConfigDict

from xolver.errors import UserError
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["SEARCH_MODES", "ExperienceStore", "MemoryStats", "SearchFilter", "SearchMode", "search_mode"]

SearchMode = Literal["hybrid", "dense", "bm25"]
"""How a search ranks: dense and BM25 fused by reciprocal rank, dense similarity only, or BM25 only."""

SEARCH_MODES: tuple[SearchMode, ...] = get_args(SearchMode)


def search_mode(mode: str) -> SearchMode:
    """`mode` as a `SearchMode`.

    Raises:
        UserError: it is not one of ``hybrid``, ``dense``, ``bm25``.
    """
    for known in SEARCH_MODES:
        if mode == known:
            return known
    raise UserError(f"unknown search mode {mode!r}; expected {', '.join(SEARCH_MODES)}")


class SearchFilter(TypedDict, total=False):
    """Which records a search may return, passed as keyword arguments (``kind="code"``).

    Attributes:
        kind: only records of this kind (default: every kind).
        domain: only records of this domain (default: every domain).
        namespace: the tenant searched (default: the store's bound namespace, else ``"default"``).
            A search never returns records of another namespace.
    """

    kind: RecordKind | None
    domain: str | None
    namespace: str | None


class MemoryStats(BaseModel):
    """What a store holds: record counts by kind, namespace, domain and source.

    Attributes:
        path: the folder of a persistent store; None for one held in process memory.
        embedder: id of the embedder its vectors come from; None for a store without vectors.
        dimension: length of those vectors.
        total: number of records counted.
        by_kind: count per record kind (every kind present, zeros included).
        by_namespace: count per namespace.
        by_domain: count per domain.
        by_source: count per source (``solve``, ``import:<file>``, ``mcp``, ...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = None
    embedder: str | None = None
    dimension: int | None = None
    total: int = 0
    by_kind: dict[str, int]
    by_namespace: dict[str, int]
    by_domain: dict[str, int]
    by_source: dict[str, int]


@runtime_checkable
class ExperienceStore(Protocol):
    """A searchable store of experience records.

    Methods are synchronous (stores are CPU- or disk-bound); async callers run them in a worker
    thread. Implementations are thread-safe and never return records of another namespace than
    the one asked for.
    """

    # -- searching

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        query_vector: Sequence[float] | None = None,
        **where: Unpack[SearchFilter],
    ) -> list[ScoredRecord]:
        """The `k` records most relevant to `query`, best first.

        Args:
            query: free text.
            k: how many hits in all.
            mode: how to rank; a store without vectors ranks by BM25 whatever the mode.
            query_vector: the query's embedding from `embed`, when the caller already has it
                (one embedding can serve several searches).
            **where: a `SearchFilter`: ``kind``, ``domain``, ``namespace``.

        Raises:
            UserError: an unknown mode or kind, or a namespace the store is not bound to.
        """
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text from the store's embedder (an empty vector when it keeps none)."""
        ...

    # -- writing

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        """Store records, skipping content duplicates; return the ids actually written."""
        ...

    def add_embedded(self, records: Sequence[ExperienceRecord], vectors: Sequence[Sequence[float]]) -> list[str]:
        """`add` with one precomputed vector per record, from `embed` (bulk imports embed ahead)."""
        ...

    def record_use(self, ids: Sequence[str], score: float) -> None:
        """Credit or blame each record for the grounded outcome (`score` in [0, 1]: 1 when an
        independent check confirmed the answer) of a solve it was shown in; retire those that
        keep hurting (`xolver.memory.curation`)."""
        ...

    def retire(self, ids: Sequence[str], *, reason: str) -> int:
        """Retire records (kept for audit, never retrieved); return how many were newly retired."""
        ...

    def forget(
        self,
        *,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        source: str | None = None,
    ) -> int:
        """Delete records by id, by namespace or by source (exactly one); return how many went.

        Raises:
            UserError: no criterion, or more than one, was given.
        """
        ...

    # -- reading

    def count(self, *, namespace: str | None = None, kind: RecordKind | None = None) -> int:
        """Number of records (in one namespace, or in all; of one kind, or of all)."""
        ...

    def get(self, ids: Sequence[str]) -> list[ExperienceRecord]:
        """The stored records with these ids (unknown ids are skipped), in the order given."""
        ...

    def iter_records(
        self, *, namespace: str | None = None, kind: RecordKind | None = None
    ) -> Iterator[ExperienceRecord]:
        """Every stored record (of one namespace and kind, or all)."""
        ...

    def namespaces(self) -> list[str]:
        """The namespaces that hold records, sorted."""
        ...

    def stats(self, *, namespace: str | None = None) -> MemoryStats:
        """Counts by kind, namespace, domain and source (of one namespace, or of all)."""
        ...

    def close(self) -> None:
        """Release what the store holds open; it cannot be used afterwards."""
        ...
