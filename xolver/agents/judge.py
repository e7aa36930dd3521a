"""The judge: critiques one candidate and scores it in [0, 1]."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from xolver.agents.parsing import parse_score, split_sections
from xolver.agents.runner import AgentRunner
from xolver.agents.solver import excerpt
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message, ModelSettings
from xolver.solution import CallRecord, Trajectory
from xolver.tools.toolbox import ToolBox

__all__ = ["JudgeVerdict", "judge", "parse_verdict"]

FORMAT = "Critique: <one or two sentences>\nScore: <1 if the final answer is correct, 0 if it is wrong>"
SECTIONS = {"critique": ("critique", "feedback", "review", "analysis", "comment"), "score": ("score", "rating")}


class JudgeVerdict(BaseModel):
    """The judge's parsed reply."""

    score: float = Field(ge=0.0, le=1.0)
    critique: str


def parse_verdict(text: str) -> JudgeVerdict | None:
    """A score (required) and a critique (the critique section, else the text before the score)."""
    score = parse_score(text)
    if score is None:
        return None
    sections = split_sections(text, SECTIONS)
    critique = sections.get("critique") or text.split("\n")[0]
    critique = " ".join(critique.split())[:400]
    return JudgeVerdict(score=score, critique=critique)


def format_evidence(candidate: Trajectory) -> str:
    """What the candidate's executed code printed: checks the judge can lean on instead of guessing."""
    if not candidate.tool_calls:
        return ""
    blocks = []
    for call in candidate.tool_calls[-2:]:
        result = call.output.strip() or "(no output)"
        if not call.ok:
            result = f"{result}\n(error: {call.error})"
        blocks.append(f"```python\n{excerpt(call.input, 600)}\n```\nprinted:\n```\n{excerpt(result, 400)}\n```")
    return "\nCode the candidate ran in a sandbox, with its real output:\n" + "\n".join(blocks) + "\n"


# "Solve for x: 3x + 5 = 20", "$2x^2 - 8 = 0$": an equation in one single-letter unknown.
_MATH_SPAN = re.compile(r"\$([^$]+)\$|\\\((.+?)\\\)")
_EQUATION = re.compile(r"^[\w\s+\-*/^().]+=[\w\s+\-*/^().]+$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:/\d+)?$")


def checkable_equation(problem: str, answer: str | None) -> tuple[str, str] | None:
    """(equation, variable) when the problem states one equation in one unknown and the answer is a
    number, so substituting the answer is a real check; None otherwise."""
    if answer is None or not _NUMBER.match(answer.strip().replace(",", "")):
        return None
    spans = [a or b for a, b in _MATH_SPAN.findall(problem)] or [problem.split(":")[-1]]
    for span in spans:
        candidate = span.strip().rstrip(".?")
        if candidate.count("=") != 1 or not _EQUATION.match(candidate):
            continue
        letters = set(re.findall(r"(?<![A-Za-z])([a-z])(?![A-Za-z])", candidate))
        if len(letters) == 1:
            return candidate, letters.pop()
    return None


async def substitution_verdict(toolbox: ToolBox | None, problem: str, candidate: Trajectory) -> tuple[str, bool | None]:
    """Evidence text for the judge and whether the candidate's answer satisfies the problem's
    equation (None when there is nothing to check or the check could not decide)."""
    found = checkable_equation(problem, candidate.answer)
    if toolbox is None or found is None or candidate.answer is None:
        return "", None
    equation, variable = found
    result = await toolbox.check_substitution(equation, variable, candidate.answer.replace(",", ""))
    if result.verdict == "holds":
        return f"\nSymPy check: {variable} = {candidate.answer} satisfies {equation}.\n", True
    if result.verdict == "fails":
        return f"\nSymPy check: {variable} = {candidate.answer} does NOT satisfy {equation}.\n", False
    return "", None


async def judge(
    runner: AgentRunner,
    problem: str,
    candidate: Trajectory,
    *,
    repair_attempts: int,
    toolbox: ToolBox | None = None,
) -> tuple[JudgeVerdict, list[CallRecord]]:
    """Score one candidate. A candidate without a final answer scores 0 without a model call.

    Where the problem states an equation in one unknown, the answer is substituted with SymPy in
    the sandbox first: an answer that does not satisfy it scores 0 without a model call, and one
    that does is judged with that fact in front of the judge.
    """
    if candidate.answer is None:
        reason = candidate.error or "no final answer"
        return JudgeVerdict(score=0.0, critique=f"Not judged: {reason}."), []
    check, satisfied = await substitution_verdict(toolbox, problem, candidate)
    if satisfied is False:
        return JudgeVerdict(score=0.0, critique=check.strip()), []
    prompt = render(
        "judge",
        problem=problem,
        role=candidate.role,
        response=excerpt(candidate.response, 1500),
        answer=candidate.answer,
        evidence=format_evidence(candidate) + check,
    )
    parsed = await runner.ask(
        [Message("system", render("judge_system")), Message("user", prompt)],
        CallTags(role="judge", agent=candidate.agent, round=candidate.round),
        parse_verdict,
        repair_format=FORMAT,
        repair_attempts=repair_attempts,
        # Judging is a check, not a creative act: sample greedily.
        settings=ModelSettings(temperature=0.0, max_tokens=runner.settings.max_tokens, seed=runner.settings.seed),
    )
    if parsed.value is None:
        return JudgeVerdict(score=0.0, critique="The judge's reply had no usable score."), parsed.calls
    return parsed.value, parsed.calls
