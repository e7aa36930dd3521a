"""The solver: one per planned role; answers with a thought, a response and a final answer."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from xolver.agents.parsing import extract_answer, split_sections
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.solution import CallRecord, Exemplar, Trajectory

__all__ = ["SolverOutput", "format_experience", "format_shared", "parse_solution", "solve"]

FORMAT = "Thought: <your reasoning>\nResponse: <the complete solution>\nFinal answer: \\boxed{<answer>}"
SECTIONS = {
    "thought": ("thought", "thoughts", "reasoning", "analysis", "thinking", "think"),
    "response": ("response", "solution", "explanation", "work"),
    "final": ("final answer", "answer"),
}
# Long histories drown small models and cost tokens; excerpts keep prompts short.
EXCERPT_CHARS = 900


class SolverOutput(BaseModel):
    """A solver's parsed reply."""

    thought: str
    response: str
    answer: str


def parse_solution(text: str, answer_format: str = "auto") -> SolverOutput | None:
    """Thought and response sections (either may be missing) and an extractable final answer."""
    if not text or not text.strip():
        return None
    answer, _source = extract_answer(text, answer_format)
    if answer is None:
        return None
    sections = split_sections(text, SECTIONS)
    thought = sections.get("thought", "")
    response = sections.get("response", "")
    if not response:
        response = text.strip()
    elif sections.get("final"):
        # Keep the stated final answer with the response: the judge and verifier read it there.
        response = f"{response}\nFinal answer: {sections['final']}"
    return SolverOutput(thought=thought, response=response, answer=answer)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 3] + "\n[...]\n" + text[-(2 * limit) // 3 :]


def format_experience(exemplars: Sequence[Exemplar]) -> str:
    """Retrieved experience as method, in sections by kind, so it is not copied as an answer."""
    if not exemplars:
        return ""
    parts: list[str] = []
    problems = [e for e in exemplars if e.kind == "problem"]
    strategies = [e for e in exemplars if e.kind == "strategy"]
    code = [e for e in exemplars if e.kind == "code"]
    if problems:
        parts.append("Related solved problems (reuse the method, not the numbers: they are different problems):")
        for i, e in enumerate(problems, 1):
            parts.append(f"Example {i}: {excerpt(e.text, 400)}\nIts solution: {excerpt(e.solution, 500)}")
    if strategies:
        parts.append("Strategies that worked before:")
        parts.extend(f"- {excerpt(e.text, 300)}" for e in strategies)
    if code:
        parts.append("Helper code that worked before:")
        parts.extend(f"# {e.text}\n```python\n{excerpt(e.code, 600)}\n```" for e in code)
    return "\n\n".join(parts) + "\n\n"


def format_shared(entries: Sequence[Trajectory], *, with_critique: bool) -> str:
    """The shared memory as the refine prompt shows it."""
    if not entries:
        return "(none yet)"
    blocks = []
    for e in entries:
        score = "unscored" if e.score is None else f"score {e.score:.2f}"
        head = f"[{e.role}, round {e.round}, {score}] final answer: {e.answer if e.answer is not None else '(none)'}"
        body = excerpt(e.response, 600)
        note = f"\nJudge: {e.critique}" if with_critique and e.critique else ""
        blocks.append(f"{head}\n{body}{note}")
    return "\n\n".join(blocks)


async def solve(
    runner: AgentRunner,
    problem: str,
    *,
    agent: int,
    role: str,
    round_index: int,
    exemplars: Sequence[Exemplar],
    previous: Trajectory | None,
    shared: Sequence[Trajectory],
    share_critique: bool,
    answer_format: str,
    repair_attempts: int,
) -> tuple[Trajectory, list[CallRecord]]:
    """One agent's attempt in one round. Round 0 (or no previous attempt) solves from scratch."""
    experience = format_experience(exemplars)
    system = render("solver_system", role=role)
    if round_index == 0 or previous is None:
        prompt = render("solver", experience=experience, problem=problem)
    else:
        prompt = render(
            "solver_refine",
            experience=experience,
            problem=problem,
            previous=excerpt(previous.response) + f"\nFinal answer: {previous.answer}",
            shared=format_shared(shared, with_critique=share_critique),
        )
    parsed = await runner.ask(
        [Message("system", system), Message("user", prompt)],
        CallTags(role="solver", agent=agent, round=round_index),
        lambda text: parse_solution(text, answer_format),
        repair_format=FORMAT,
        repair_attempts=repair_attempts,
    )
    if parsed.value is None:
        return (
            Trajectory(
                agent=agent,
                role=role,
                round=round_index,
                response=parsed.text.strip(),
                answer=None,
                parse_ok=False,
                error="empty reply" if not parsed.text.strip() else "no final answer found",
            ),
            parsed.calls,
        )
    out = parsed.value
    return (
        Trajectory(
            agent=agent,
            role=role,
            round=round_index,
            thought=out.thought,
            response=out.response,
            answer=out.answer,
        ),
        parsed.calls,
    )
