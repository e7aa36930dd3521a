"""The judge: critiques one candidate and scores it in [0, 1]."""

from __future__ import annotations

from pydantic import BaseModel, Field

from xolver.agents.parsing import parse_score, split_sections
from xolver.agents.runner import AgentRunner
from xolver.agents.solver import excerpt
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message, ModelSettings
from xolver.solution import CallRecord, Trajectory

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


async def judge(
    runner: AgentRunner, problem: str, candidate: Trajectory, *, repair_attempts: int
) -> tuple[JudgeVerdict, list[CallRecord]]:
    """Score one candidate. A candidate without a final answer scores 0 without a model call."""
    if candidate.answer is None:
        reason = candidate.error or "no final answer"
        return JudgeVerdict(score=0.0, critique=f"Not judged: {reason}."), []
    prompt = render(
        "judge",
        problem=problem,
        role=candidate.role,
        response=excerpt(candidate.response, 1500),
        answer=candidate.answer,
        evidence=format_evidence(candidate),
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
