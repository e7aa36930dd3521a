"""`FolderLock`: serialises access to a memory folder across threads and processes.

chromadb's embedded client keeps HNSW indexes in process memory, so two processes writing one folder
corrupt it, and a process never sees another's writes. The lock (``fcntl.flock`` on
``xolver.lock``) serialises writers, and the generation counter (``xolver.generation``, bumped by
every write) tells a process when what it loaded is stale. POSIX only: without ``fcntl`` (Windows)
only the in-process lock is taken, and one writing process at a time is the caller's job.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FolderLock"]


class FolderLock:
    """An inter-process reader/writer lock and a write generation counter for one folder.

    Args:
        path: the folder.
        thread_lock: the in-process lock taken first (re-entrant, shared with the store).
    """

    def __init__(self, path: Path, thread_lock: threading.RLock | None = None) -> None:
        self.path = path
        self._thread_lock = thread_lock if thread_lock is not None else threading.RLock()

    @contextlib.contextmanager
    def hold(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the lock: exclusive for writes, shared for reads."""
        with self._thread_lock:
            if fcntl is None:  # pragma: no cover - Windows
                yield
                return
            with open(self.path / "xolver.lock", "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def generation(self) -> int:
        """The current write generation (0 when nothing was written yet)."""
        try:
            return int((self.path / "xolver.generation").read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            return 0

    def bump(self, seen: int) -> int:
        """Advance the generation past both the stored one and `seen`; return the new value.

        Call with the lock held exclusively. Written to a temporary file and renamed, so a reader
        never sees a torn number.
        """
        value = max(self.generation(), seen) + 1
        tmp = self.path / f"xolver.generation.{os.getpid()}.tmp"
        tmp.write_text(str(value), encoding="ascii")
        os.replace(tmp, self.path / "xolver.generation")
        return value
