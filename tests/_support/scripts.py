"""Canned replies for scripted solves."""

from __future__ import annotations

import re
from typing import Any

from xolver.models.base import ModelRequest

PLAN = (
    "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\n4. Estimator: estimates\n"
    "Selected: 1, 2, 3"
)


def solved(answer: str) -> str:
    return f"Thought: work it out\nResponse: the product is {answer}\nFinal answer: \\boxed{{{answer}}}"


def program(answer: str) -> str:
    """A program-of-thought reply whose program prints `answer`.

    The program decodes it from hex rather than printing the literal: a program that prints a number
    it was written with is not a computation (`xolver.agents.programs.restated`).
    """
    return f"Thought: compute it\n```python\nprint(bytes.fromhex({answer.encode().hex()!r}).decode())\n```"


def restating_program(answer: str) -> str:
    """A program-of-thought reply that prints `answer` as a literal: a restatement, not a computation."""
    return f"Thought: compute it\n```python\nprint({answer!r})\n```"


def verdict(score: float, note: str = "checked") -> str:
    return f"Critique: {note}\nScore: {score:g}"


def role_of(request: ModelRequest) -> str:
    return request.tags.role


def wants_program(request: ModelRequest) -> bool:
    """A program seat's solver call or the judge's blind check: the reply must hold a program."""
    if request.tags.purpose.startswith("blind_check"):
        return True
    system = request.messages[0].content if request.messages else ""
    return request.tags.role == "solver" and "Python program" in system


def as_program(reply: str) -> str:
    """`reply` as a program when it is a plain scripted answer (``solved(x)`` becomes ``program(x)``)."""
    if "```" in reply:
        return reply
    boxed = re.findall(r"\\boxed\{([^{}]*)\}", reply)
    return program(boxed[-1]) if boxed else reply


def by_role(**replies: Any) -> Any:
    """A FunctionModel handler answering by the caller's role.

    Program seats and the judge's blind check get the scripted solver answer as a program that
    prints it (``blind=`` scripts the blind check's answer; without it the check prints nothing
    useful), unless the scripted reply already holds a code block.
    """

    def handler(request: ModelRequest) -> Any:
        if request.tags.role == "learner" and "learner" not in replies:
            return "NONE"  # nothing worth distilling, unless a test scripts the learner
        if request.tags.purpose.startswith("blind_check"):
            blind = replies.get("blind")
            if blind is None:
                return "Thought: I cannot tell."
            return program(blind) if "```" not in blind else blind
        value = replies[request.tags.role]
        reply = value(request) if callable(value) else value
        if isinstance(reply, str) and wants_program(request):
            return as_program(reply)
        return reply

    return handler


def respond_391(body: dict[str, Any]) -> tuple[int, str]:
    """A `fake_openai_server` responder for a team asked "What is 17 * 23?": everyone says 391.

    It tells the requests apart by their prompts (the planner's "expert roles", the judge's
    "Candidate solution", a program seat's or the blind check's program template), so a change to
    those prompts' wording shows up here, in one place.
    """
    prompt = body["messages"][-1]["content"]
    if "expert roles" in prompt:
        return 200, PLAN
    if "Candidate solution" in prompt:
        return 200, verdict(1)
    if "Reply with the program only" in prompt:  # a program seat, or the judge's blind check
        return 200, program("391")
    return 200, solved("391")
