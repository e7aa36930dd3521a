"""The input of a batch: one problem per JSONL line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from xolver.errors import UserError

__all__ = ["PROBLEM_KEYS", "Problem", "read_problems"]

PROBLEM_KEYS = ("problem", "question", "text", "prompt")
"""The keys a line's problem text is read from, first found wins (unless a key is named)."""


@dataclass(frozen=True)
class Problem:
    """One problem of a batch.

    Attributes:
        id: stable within the file (``--resume`` skips ids already solved); default ``line-<n>``.
        text: the problem statement.
        tests: for code problems, Python snippets a correct program passes (``"tests": [...]``).
    """

    id: str
    text: str
    tests: tuple[str, ...] = ()


def read_problems(path: str | Path, *, key: str | None = None, id_key: str = "id") -> list[Problem]:
    """The problems of a JSONL file (blank lines skipped).

    Args:
        path: the file; each line a JSON object with the problem under `key` (default: the first of
            `PROBLEM_KEYS` present) and an optional id under `id_key`.
        key: the problem's key.
        id_key: the id's key.

    Raises:
        UserError: the file is unreadable, a line is not a JSON object with a problem, or two lines
            share an id.
    """
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"problems file not found: {str(file)!r}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read problems file {str(file)!r}: {e}") from e
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise UserError(f"{str(file)!r} line {number}: not JSON ({e})") from e
        if not isinstance(row, dict):
            raise UserError(f"{str(file)!r} line {number}: expected a JSON object")
        keys = (key,) if key else PROBLEM_KEYS
        text = next((row[k] for k in keys if isinstance(row.get(k), str) and row[k].strip()), None)
        if text is None:
            raise UserError(f"{str(file)!r} line {number}: no problem text under {' / '.join(keys)}")
        pid = str(row[id_key]) if row.get(id_key) is not None else f"line-{number}"
        if pid in seen:
            raise UserError(f"{str(file)!r} line {number}: duplicate id {pid!r}")
        seen.add(pid)
        tests = row.get("tests")
        problems.append(
            Problem(id=pid, text=text, tests=tuple(str(t) for t in tests) if isinstance(tests, list) else ())
        )
    return problems
