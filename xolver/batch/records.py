"""The output of a batch: one `BatchItem` per JSONL line, appended and forced to disk as each finishes.

A line is ``{"id": ..., "index": ..., "solution": {...Solution...}, "error": null}``, or an error in
place of the solution (a provider failure lost that problem, not the run). ``--resume`` skips every
id that has a solution and solves the others again; a line cut by a kill is ignored.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from xolver.errors import UserError
from xolver.solution import Solution

__all__ = ["BatchItem", "BatchProgress", "BatchWriter", "read_output"]


class BatchItem(BaseModel):
    """One problem's outcome: its `Solution`, or the error that lost it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    index: int
    solution: Solution | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class BatchProgress:
    """Running totals of a batch, updated after every problem (what the live line shows)."""

    total: int
    done: int = 0
    errors: int = 0
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    resumed: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left at this session's pace (None before its first problem finishes)."""
        fresh = self.done - self.resumed
        if fresh <= 0:
            return None
        return self.elapsed / fresh * (self.total - self.done)

    def add(self, item: BatchItem) -> None:
        self.done += 1
        self.errors += int(item.error is not None)
        if item.solution is not None:
            totals = item.solution.usage.totals
            self.calls += totals.calls
            self.tokens += totals.prompt_tokens + totals.completion_tokens
            self.cost += totals.cost

    def summary(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "total": self.total,
            "done": self.done,
            "solved": self.done - self.errors,
            "errors": self.errors,
            "resumed": self.resumed,
            "calls": self.calls,
            "tokens": self.tokens,
            "cost": round(self.cost, 6),
            "seconds": round(self.elapsed, 3),
        }


def read_output(path: str | Path) -> dict[str, BatchItem]:
    """The items of an output file by id (the last line of an id wins; unreadable lines are skipped).

    Raises:
        UserError: the file exists but cannot be read.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        return {}
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read output file {str(file)!r}: {e}") from e
    items: dict[str, BatchItem] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            item = BatchItem.model_validate_json(line)
        except ValueError:
            continue  # a line cut by a kill
        items[item.id] = item
    return items


class BatchWriter:
    """Appends JSON lines and forces each to disk, so a killed batch keeps every finished problem."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A run killed mid-write can leave a partial last line: start ours on a fresh one.
        needs_newline = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self._handle = path.open("a", encoding="utf-8")
        if needs_newline:
            self._handle.write("\n")

    def write(self, item: BatchItem) -> None:
        self._handle.write(json.dumps(item.model_dump(mode="json"), ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
