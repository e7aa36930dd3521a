"""The verifier: extracts the final answer of the best trajectory in the requested format.

Extraction is deterministic first (boxed value, "final answer" line, last number, code block);
the model is asked only when that finds nothing, because a weak model asked to restate an answer
garbles it more often than a parser does.
"""

from __future__ import annotations

from xolver._text import excerpt
from xolver.agents.parsing import extract_answer, last_number
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.errors import BudgetExceeded
from xolver.models.base import CallTags, Message, ModelSettings
from xolver.solution import CallRecord, Trajectory

__all__ = ["format_instruction", "verify"]

_INSTRUCTIONS = {
    "auto": "Reply with the final answer only, as \\boxed{<answer>}.",
    "boxed": "Reply with the final answer only, as \\boxed{<answer>}.",
    "integer": "Reply with the final answer as a single integer in \\boxed{<integer>}.",
    "choice": "Reply with the letter of the correct option only, as \\boxed{<letter>}.",
    "code": "Reply with the complete final program in one ```python code block.",
    "text": "Reply with the final answer only, as \\boxed{<answer>}.",
}


def format_instruction(answer_format: str) -> str:
    return _INSTRUCTIONS.get(answer_format, _INSTRUCTIONS["auto"])


def shape(answer: str, answer_format: str) -> str | None:
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
    answer_format: str,
    repair_attempts: int,
) -> tuple[str, str, list[CallRecord]]:
    """Returns (answer, source, calls); answer is "" and source "none" when nothing was found."""
    if best is None:
        return "", "none", []
    if best.answer is not None:
        shaped = shape(best.answer, answer_format)
        if shaped is not None:
            _, source = extract_answer(best.response, answer_format)
            return shaped, source if source != "none" else "response", []
    found, source = extract_answer(best.response, answer_format)
    if found is not None and (shaped := shape(found, answer_format)) is not None:
        return shaped, source, []
    if not best.response.strip():
        return "", "none", []
    prompt = render(
        "verifier",
        problem=problem,
        response=excerpt(best.response, 2000),
        format_instruction=format_instruction(answer_format),
    )

    def parse(text: str) -> str | None:
        value, _ = extract_answer(text, answer_format)
        return shape(value, answer_format) if value is not None else None

    try:
        parsed = await runner.ask(
            [Message("user", prompt)],
            CallTags(role="verifier", agent=best.agent, round=best.round),
            parse,
            repair_format=format_instruction(answer_format),
            repair_attempts=repair_attempts,
            settings=ModelSettings(temperature=0.0, max_tokens=runner.settings.max_tokens, seed=runner.settings.seed),
        )
    except BudgetExceeded:
        return "", "none", []
    if parsed.value is None:
        return "", "none", parsed.calls
    return parsed.value, "model", parsed.calls
