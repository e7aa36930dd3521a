"""A store for tests: `ScriptedStore` answers searches from a script and records every call.

Like `xolver.models.testing.ScriptedModel`, it is strict: a search nobody scripted raises
`ScriptExhausted`, and `assert_used_up` (or leaving its ``with`` block) raises `UnusedScript` when
scripted replies were never asked for. Writes are kept in an `InMemoryExperienceStore`, so counts,
`get`, `iter_records`, `forget` and `stats` tell the truth about what a test wrote.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, overload

from xolver.memory.base import MemoryStats, SearchFilter, SearchMode, search_mode
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord, RecordKind, ScoredRecord
from xolver.models.testing import ScriptExhausted, UnusedScript

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["RecordUse", "ScriptExhausted", "ScriptedStore", "SearchCall", "SearchReply", "UnusedScript"]

SearchReply = Sequence[ExperienceRecord | ScoredRecord] | BaseException
"""The hits of one search (a record counts as a hit of score 1.0), or an exception to raise."""


@dataclass(frozen=True)
class SearchCall:
    """One `search` a `ScriptedStore` was asked (filters as given: None where left out)."""

    query: str
    k: int
    mode: SearchMode
    kind: RecordKind | None = None
    domain: str | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class RecordUse:
    """One `record_use` call: the records a solve used and its best judge score."""

    ids: tuple[str, ...]
    score: float


class ScriptedStore:
    """An `ExperienceStore` whose searches answer from a fixed script.

    Args:
        replies: either one sequence of replies used in call order, or a mapping from record kind
            (``"problem"``, ``"strategy"``, ``"code"``; None for a search of every kind) to its
            own queue. The graph's retrieve step searches each kind once per solve.
        records: what the store holds from the start (searches still answer from the script).

    Attributes:
        searches: every search, in order.
        added: every record passed to `add` or `add_embedded`, written or not, in order.
        uses: every `record_use` call, in order.
        closed: whether `close` was called.
    """

    @overload
    def __init__(
        self,
        replies: Mapping[RecordKind | None, Iterable[SearchReply]],
        *,
        records: Sequence[ExperienceRecord] = (),
    ) -> None: ...

    @overload
    def __init__(self, replies: Iterable[SearchReply] = (), *, records: Sequence[ExperienceRecord] = ()) -> None: ...

    def __init__(
        self,
        replies: Iterable[SearchReply] | Mapping[RecordKind | None, Iterable[SearchReply]] = (),
        *,
        records: Sequence[ExperienceRecord] = (),
    ) -> None:
        self._queues: dict[RecordKind | None, deque[SearchReply]] | None
        self._queue: deque[SearchReply]
        if isinstance(replies, Mapping):
            self._queues = {kind: deque(items) for kind, items in replies.items()}
            self._queue = deque()
        else:
            self._queues = None
            self._queue = deque(replies)
        self._held = InMemoryExperienceStore(records)
        self.searches: list[SearchCall] = []
        self.added: list[ExperienceRecord] = []
        self.uses: list[RecordUse] = []
        self.retired: list[tuple[tuple[str, ...], str]] = []
        self.closed = False

    # ------------------------------------------------------------------ the script

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        query_vector: Sequence[float] | None = None,
        **where: Unpack[SearchFilter],
    ) -> list[ScoredRecord]:
        """The next scripted reply (for this kind, when the script is by kind), cut to `k` hits."""
        kind = where.get("kind")
        call = SearchCall(query, k, search_mode(mode), kind, where.get("domain"), where.get("namespace"))
        self.searches.append(call)
        queue = self._queue if self._queues is None else self._queues.get(kind)
        if not queue:
            which = "" if self._queues is None else f" for kind {kind!r}"
            raise ScriptExhausted(f"ScriptedStore ran out of search replies{which} at search {len(self.searches)}")
        reply = queue.popleft()
        if isinstance(reply, BaseException):
            raise reply
        hits = [h if isinstance(h, ScoredRecord) else ScoredRecord(record=h, score=1.0) for h in reply]
        return hits[: max(k, 0)]

    @property
    def remaining(self) -> int:
        """Scripted replies not asked for yet."""
        if self._queues is None:
            return len(self._queue)
        return sum(len(q) for q in self._queues.values())

    def assert_used_up(self) -> None:
        """Raise `UnusedScript` if any scripted reply was never asked for."""
        if self._queues is None:
            left = {"*": len(self._queue)} if self._queue else {}
        else:
            left = {str(kind or "*"): len(q) for kind, q in self._queues.items() if q}
        if left:
            raise UnusedScript(f"ScriptedStore has unused search replies: {left}")

    def __enter__(self) -> ScriptedStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        if exc_type is None:
            self.assert_used_up()

    # ------------------------------------------------------------------ recorded writes, real reads

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One empty vector per text (the store keeps no vectors)."""
        return self._held.embed(texts)

    def add(self, records: Sequence[ExperienceRecord]) -> list[str]:
        """Record the records and keep the new ones; return the ids written."""
        self.added.extend(records)
        return self._held.add(records)

    def add_embedded(self, records: Sequence[ExperienceRecord], vectors: Sequence[Sequence[float]]) -> list[str]:
        """`add` (vectors are checked for number and otherwise ignored)."""
        self.added.extend(records)
        return self._held.add_embedded(records, vectors)

    def record_use(self, ids: Sequence[str], score: float) -> None:
        """Record the call, and count the use on the records held."""
        self.uses.append(RecordUse(tuple(ids), score))
        self._held.record_use(ids, score)

    def retire(self, ids: Sequence[str], *, reason: str) -> int:
        """Record the call, and retire the records held."""
        self.retired.append((tuple(ids), reason))
        return self._held.retire(ids, reason=reason)

    def forget(
        self,
        *,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        source: str | None = None,
    ) -> int:
        """Delete held records by id, namespace or source (exactly one); return how many went."""
        return self._held.forget(ids=ids, namespace=namespace, source=source)

    def count(self, *, namespace: str | None = None, kind: RecordKind | None = None) -> int:
        """Number of records held."""
        return self._held.count(namespace=namespace, kind=kind)

    def get(self, ids: Sequence[str]) -> list[ExperienceRecord]:
        """The held records with these ids, in the order given."""
        return self._held.get(ids)

    def iter_records(
        self, *, namespace: str | None = None, kind: RecordKind | None = None
    ) -> Iterator[ExperienceRecord]:
        """Every held record (of one namespace and kind, or all)."""
        return self._held.iter_records(namespace=namespace, kind=kind)

    def namespaces(self) -> list[str]:
        """The namespaces of the records held."""
        return self._held.namespaces()

    def stats(self, *, namespace: str | None = None) -> MemoryStats:
        """Counts of the records held."""
        return self._held.stats(namespace=namespace)

    def close(self) -> None:
        """Mark the store closed (a test can check that its owner closed it)."""
        self.closed = True
