"""``/save FILE``: the last `Solution` as JSON, or the whole transcript as Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xolver.ui.chat.hints import Hint

if TYPE_CHECKING:  # pragma: no cover
    from xolver.solution import Solution
    from xolver.ui.transcript import Turn

__all__ = ["last_solution", "save_turns"]


def last_solution(turns: Sequence[Turn]) -> Solution:
    """The solution of the last answered turn.

    Raises:
        Hint: no turn was answered yet.
    """
    for turn in reversed(turns):
        if turn.solution is not None:
            return turn.solution
    raise Hint("no solve yet: ask a question first")


def save_turns(target: str, turns: Sequence[Turn], *, model: str) -> Path:
    """Write `turns` to `target` (``~`` expanded): ``.json`` the last Solution, ``.md`` the transcript.

    Args:
        target: the file name as typed.
        turns: the session's turns.
        model: the model named in the transcript's heading.

    Returns:
        The path written.

    Raises:
        Hint: no name, an unknown suffix, nothing to save yet, or the file cannot be written.
    """
    from xolver.ui.transcript import transcript_markdown

    if not target:
        raise Hint("usage: /save FILE.json (the last Solution) or /save FILE.md (the transcript)")
    path = Path(target).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".json":
        content = last_solution(turns).model_dump_json(indent=2) + "\n"
    elif suffix in (".md", ".markdown"):
        if not turns:
            raise Hint("nothing to save yet: ask a question first")
        content = transcript_markdown(list(turns), model=model)
    else:
        wrong = suffix or "no suffix"
        raise Hint(f"/save writes .json (the last Solution) or .md (the transcript), not {wrong!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    except OSError as e:
        raise Hint(f"cannot write {str(path)!r}: {e.strerror or e}") from e
    return path
