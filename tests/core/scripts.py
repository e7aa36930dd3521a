"""Canned replies for scripted solves."""

from __future__ import annotations

from typing import Any

from xolver.models.base import ModelRequest

PLAN = (
    "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\n4. Estimator: estimates\n"
    "Selected: 1, 2, 3"
)


def solved(answer: str) -> str:
    return f"Thought: work it out\nResponse: the product is {answer}\nFinal answer: \\boxed{{{answer}}}"


def verdict(score: float, note: str = "checked") -> str:
    return f"Critique: {note}\nScore: {score:g}"


def role_of(request: ModelRequest) -> str:
    return request.tags.role


def by_role(**replies: Any) -> Any:
    """A FunctionModel handler answering by the caller's role."""

    def handler(request: ModelRequest) -> Any:
        if request.tags.role == "learner" and "learner" not in replies:
            return "NONE"  # nothing worth distilling, unless a test scripts the learner
        value = replies[request.tags.role]
        return value(request) if callable(value) else value

    return handler
