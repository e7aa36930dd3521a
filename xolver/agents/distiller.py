"""The distiller: after a checked solve, the model names what is reusable for other problems.

Two calls, one per solve at most (the graph picks, `XolverConfig.distill_from`):

- `distill_contrast` (default): when the team split, some candidates reaching the checked answer
  and some not, the model compares the right and wrong attempts and writes strategies (with "when
  to use" / "when not to use") and cautions (the wrong attempts' mistake). Solves where every
  candidate agreed or none was confirmed are not distilled: there is nothing to contrast.
- `distill`: every checked solve, from its best trajectory only.

Its reply becomes strategy and code records for the experience store. A weak model's distillation
is often malformed, so the parser (`xolver.memory.learning.parse_distillation`) takes what it can
and drops the rest; the graph keeps a code fragment only when its own assertions (a call on an
example input compared with the result it claims) pass in the sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.memory.learning import parse_distillation
from xolver.memory.records import ExperienceRecord
from xolver.models.base import CallTags, Message

__all__ = [
    "Attempt",
    "ContrastInput",
    "DistillInput",
    "contrast_prompt",
    "distill",
    "distill_contrast",
    "distill_prompt",
]


@dataclass(frozen=True)
class DistillInput:
    """A solved problem to learn from, and what its records are filed under.

    Attributes:
        solution: the chosen trajectory's response.
        answer: the verified final answer.
        code: code that ran successfully during the solve (sandbox snippets), newest last.
        score: the judge score of the chosen entry, stored with each record.
        verified: whether an independent check confirmed the answer.
    """

    problem: str
    solution: str
    answer: str
    code: Sequence[str] = ()
    namespace: str = "default"
    domain: str = "general"
    score: float | None = None
    verified: bool = False


def distill_prompt(
    problem: str,
    solution: str,
    *,
    answer: str = "",
    code: Sequence[str] = (),
    max_strategies: int = 3,
    max_code: int = 2,
    max_chars: int = 6000,
) -> str:
    """The user message of the distillation call after a successful solve.

    Args:
        problem: the problem text.
        solution: the best trajectory or its summary.
        answer: the verified final answer.
        code: code that ran successfully during the solve (sandbox snippets), newest last.
        max_strategies: how many strategies to ask for.
        max_code: how many code fragments to ask for.
        max_chars: the solution and code are cut to this budget (short prompts help small models).
    """
    instructions = render("distill", max_strategies=max_strategies, max_code=max_code).rstrip("\n")
    parts = [instructions, "", "PROBLEM:", problem.strip()]
    budget = max_chars
    sol = solution.strip()
    if len(sol) > budget:
        sol = sol[: budget // 2] + "\n...\n" + sol[-budget // 2 :]
    parts += ["", "SOLUTION:", sol]
    budget -= len(sol)
    if answer:
        parts += ["", f"FINAL ANSWER: {answer.strip()}"]
    if code and max_code > 0 and budget > 200:
        parts += ["", "CODE THAT RAN SUCCESSFULLY:"]
        for snippet in reversed(code):
            if len(snippet) + 20 > budget:
                continue
            parts += ["```python", snippet.strip(), "```"]
            budget -= len(snippet) + 20
    return "\n".join(parts)


async def distill(runner: AgentRunner, task: DistillInput) -> list[ExperienceRecord]:
    """One call: strategy and code records distilled from a solved problem (none when the reply
    has none worth keeping).

    Raises:
        BudgetExceeded: the budget is spent.
        ModelError: the provider failed.
    """
    prompt = distill_prompt(task.problem, task.solution, answer=task.answer, code=task.code)
    response = await runner.call([Message("user", prompt)], CallTags(role="learner", purpose="distill"))
    return parse_distillation(
        response.text,
        namespace=task.namespace,
        domain=task.domain,
        problem=task.problem,
        score=task.score,
        verified=task.verified,
    )


@dataclass(frozen=True)
class Attempt:
    """One candidate of the team: how it worked, what it wrote, what it answered."""

    method: str
    response: str
    answer: str


@dataclass(frozen=True)
class ContrastInput:
    """A solve whose team split: attempts that reached the checked answer, and attempts that did not.

    Attributes:
        answer: the answer an independent check confirmed.
        right: attempts with that answer (at least one).
        wrong: attempts with another answer (at least one).
    """

    problem: str
    answer: str
    right: Sequence[Attempt]
    wrong: Sequence[Attempt]
    namespace: str = "default"
    domain: str = "general"
    score: float | None = None
    verified: bool = True


def contrast_prompt(
    task: ContrastInput,
    *,
    max_strategies: int = 2,
    max_cautions: int = 2,
    max_code: int = 1,
    per_attempt_chars: int = 1500,
    max_attempts: int = 2,
) -> str:
    """The user message of the contrastive distillation call (two right and two wrong attempts at most)."""
    instructions = render(
        "distill_contrast", max_strategies=max_strategies, max_cautions=max_cautions, max_code=max_code
    ).rstrip("\n")
    parts = [instructions, "", "PROBLEM:", task.problem.strip(), "", f"CHECKED ANSWER: {task.answer.strip()}"]
    for label, attempts in (("CORRECT", task.right), ("WRONG", task.wrong)):
        for i, a in enumerate(attempts[:max_attempts], 1):
            text = a.response.strip()
            if len(text) > per_attempt_chars:
                text = text[: per_attempt_chars // 2] + "\n...\n" + text[-per_attempt_chars // 2 :]
            parts += ["", f"{label} ATTEMPT {i} ({a.method}, answer {a.answer}):", text]
    return "\n".join(parts)


async def distill_contrast(runner: AgentRunner, task: ContrastInput) -> list[ExperienceRecord]:
    """One call: strategies, cautions and code from comparing the team's right and wrong attempts.

    Raises:
        BudgetExceeded: the budget is spent.
        ModelError: the provider failed.
    """
    response = await runner.call(
        [Message("user", contrast_prompt(task))], CallTags(role="learner", purpose="distill_contrast")
    )
    return parse_distillation(
        response.text,
        namespace=task.namespace,
        domain=task.domain,
        source="distilled:contrast",
        problem=task.problem,
        score=task.score,
        verified=task.verified,
        max_strategies=4,
        max_code=1,
    )
