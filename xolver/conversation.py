"""How a conversation becomes one problem: the rule the chat and the OpenAI endpoint share.

A solve sees a single problem text, never a chat history, so the instructions (a system message)
and the last few answered exchanges travel inside it, quoted above the question that is asked now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CONTEXT_EXCHANGES", "Exchange", "compose_problem"]

CONTEXT_EXCHANGES = 3
"""Earlier exchanges quoted in a follow-up (the most recent ones)."""

_QUOTE_CHARS = 600


@dataclass(frozen=True)
class Exchange:
    """One earlier question and the answer it got."""

    question: str
    answer: str


def _quoted(text: str) -> str:
    return " ".join(text.split())[:_QUOTE_CHARS]


def compose_problem(question: str, earlier: Sequence[Exchange] = (), *, instructions: str = "") -> str:
    """The problem sent for `question`: the instructions, then the last few `earlier` exchanges.

    With no instructions and no earlier exchanges the problem is the question itself.

    Args:
        question: what is asked now.
        earlier: the conversation before it, oldest first; only the last `CONTEXT_EXCHANGES` are quoted.
        instructions: the application's instructions (an OpenAI system or developer message).
    """
    recent = list(earlier)[-CONTEXT_EXCHANGES:]
    instructions = instructions.strip()
    if not recent and not instructions:
        return question
    lines: list[str] = []
    if instructions:
        lines += [f"Instructions: {instructions}", ""]
    if recent:
        lines.append("Earlier in this conversation:")
        for exchange in recent:
            lines.append(f"Q: {_quoted(exchange.question)}")
            lines.append(f"A: {_quoted(exchange.answer) or '(no answer)'}")
        lines += ["", f"Follow-up question (answer this one): {question}"]
    else:
        lines.append(question)
    return "\n".join(lines)
