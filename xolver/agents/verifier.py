"""The verifier: extracts the final answer of the best trajectory in the requested format.

Extraction is deterministic first (boxed value, "final answer" line, last number, code block);
the model is asked only when that finds nothing, because a weak model asked to restate an answer
garbles it more often than a parser does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import assert_never

from xolver._text import excerpt
from xolver.agents.parsing import extract_answer, last_number
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.solution import Trajectory

if TYPE_CHECKING:
    from xolver.config import AnswerFormat

__all__ = ["format_instruction", "verify"]


def format_instruction(answer_format: AnswerFormat) -> str:
    """What the verifier's prompt asks for, by answer format."""
    match answer_format:
        case "auto" | "boxed" | "text":
            return "Reply with the final answer only, as \\boxed{<answer>}."
        case "integer":
            return "Reply with the final answer as a single integer in \\boxed{<integer>}."
        case "choice":
            return "Reply with the letter of the correct option only, as \\boxed{<letter>}."
        case "code":
            return "Reply with the complete final program in one ```python code block."
        case other:
            assert_never(other)


def shape(answer: str, answer_format: AnswerFormat) -> str | None:
    """Bring an answer into the requested format, or None when it cannot be."""
    answer = answer.strip()
    if answer_format == "integer":
        number = last_number(answer)
        if number is None:
            return None
        try:
            return str(int(float(number)))
        except ValueError:
            return None
    return answer or None


async def verify(
    runner: AgentRunner,
    problem: str,
    best: Trajectory | None,
    *,
    answer_format: AnswerFormat,
    repair_attempts: int,
) -> tuple[str, str]:
    """The final answer and where it came from; ``("", "none")`` when nothing was found.

    Raises:
        BudgetExceeded: the model was needed and the budget is spent.
    """
    if best is None:
        return "", "none"
    if best.answer is not None:
        shaped = shape(best.answer, answer_format)
        if shaped is not None:
            _, source = extract_answer(best.response, answer_format)
            return shaped, source if source != "none" else "response"
    found, source = extract_answer(best.response, answer_format)
    if found is not None and (shaped := shape(found, answer_format)) is not None:
        return shaped, source
    if not best.response.strip():
        return "", "none"
    prompt = render(
        "verifier",
        problem=problem,
        response=excerpt(best.response, 2000),
        format_instruction=format_instruction(answer_format),
    )

    def parse(text: str) -> str | None:
        value, _ = extract_answer(text, answer_format)
        return shape(value, answer_format) if value is not None else None

    parsed = await runner.ask(
        [Message("user", prompt)],
        CallTags(role="verifier", agent=best.agent, round=best.round),
        parse,
        repair_format=format_instruction(answer_format),
        repair_attempts=repair_attempts,
        settings=runner.settings.greedy(),
    )
    if parsed.value is None:
        return "", "none"
    return parsed.value, "model"
