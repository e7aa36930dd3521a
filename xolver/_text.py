"""Short text for people and prompts: one-line cuts, excerpts, and what each stop reason means.

Every surface that shortens text uses these, so a line is cut the same way in the terminal, a log,
the server's progress and a prompt.
"""

from __future__ import annotations

__all__ = ["STOP_TEXT", "clip", "excerpt", "fit", "stop_text", "tail"]

STOP_TEXT = {
    "agreement": "independent methods agreed and an executed check supports the answer",
    "checked": "a program passed every test",
    "perfect_score": "every shared-memory entry scored perfectly",
    "max_rounds": "all rounds done",
    "budget_calls": "model-call budget spent",
    "budget_tokens": "token budget spent",
    "budget_seconds": "time budget spent",
    "budget_cost": "dollar budget spent",
    "no_answer": "no agent produced an answer",
}


def stop_text(reason: str) -> str:
    """What a `StopReason` means, in words (the reason itself when it has none)."""
    return STOP_TEXT.get(reason, reason)


def clip(text: str | None, width: int) -> str:
    """`text` on one line (whitespace collapsed), cut to `width` characters with an ellipsis."""
    text = " ".join((text or "").split())
    if width < 1:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def fit(prefix: str, text: str | None, width: int) -> str:
    """`prefix` and as much of `text` (on one line) as fits in `width`, at least 20 characters of it."""
    return prefix + clip(text, max(20, width - len(prefix)))


def tail(text: str, width: int) -> str:
    """The last `width` characters of `text` on one line: a streaming draft shows its newest words."""
    flat = " ".join(text.split())
    if width < 2 or len(flat) <= width:
        return flat
    return "…" + flat[-(width - 1) :]


def excerpt(text: str, limit: int) -> str:
    """`text` (stripped) when it fits in `limit` characters, else its first third and last two thirds.

    For prompts: the lines are kept as they are, and the cut is marked ``[...]`` on a line of its own.
    """
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 3] + "\n[...]\n" + text[-(2 * limit) // 3 :]
