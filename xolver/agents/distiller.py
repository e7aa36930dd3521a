"""The distiller: after a checked solve, the model names what is reusable for other problems.

Its reply becomes strategy and code records for the experience store. A weak model's distillation
is often malformed, so the parser (`xolver.memory.learning.parse_distillation`) takes what it can
and drops the rest; the graph keeps a code fragment only after it ran cleanly in the sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.memory.learning import parse_distillation
from xolver.memory.records import ExperienceRecord
from xolver.models.base import CallTags, Message

__all__ = ["DistillInput", "distill", "distill_prompt"]


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
