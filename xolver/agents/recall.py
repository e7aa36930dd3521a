"""Self-retrieval (the paper's alternative to an external corpus): the model recalls a related,
distinct problem with its solution, used as an exemplar like a retrieved one."""

from __future__ import annotations

from xolver.agents.parsing import split_sections
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.solution import Exemplar

__all__ = ["parse_recall", "recall"]

FORMAT = "Related problem: <the problem>\nSolution: <its worked solution>"
SECTIONS = {"problem": ("related problem", "problem", "similar problem"), "solution": ("solution", "worked solution")}


def parse_recall(text: str) -> Exemplar | None:
    """The recalled problem and solution; None unless both are there."""
    sections = split_sections(text, SECTIONS)
    problem, solution = sections.get("problem", "").strip(), sections.get("solution", "").strip()
    if len(problem) < 10 or not solution:
        return None
    return Exemplar(id="recalled", kind="problem", text=problem, solution=solution)


async def recall(
    runner: AgentRunner, problem: str, *, agent: int | None = None, round_index: int | None = None
) -> Exemplar | None:
    """One recall call (plus one repair)."""
    parsed = await runner.ask(
        [Message("user", render("recall", problem=problem))],
        CallTags(role="retriever", agent=agent, round=round_index, purpose="recall"),
        parse_recall,
        repair_format=FORMAT,
        repair_attempts=1,
    )
    return parsed.value
