"""Test models shared by the eval tests."""

from __future__ import annotations

from xolver.models.base import ModelRequest


def doubler(request: ModelRequest) -> str:
    """A `FunctionModel` function: answers 'What is i + i?' correctly except for i = 3 (says 7)."""
    text = request.messages[-1].content
    i = int(text.split("What is ")[1].split(" ")[0])
    return f"Adding gives ... \\boxed{{{7 if i == 3 else 2 * i}}}"
