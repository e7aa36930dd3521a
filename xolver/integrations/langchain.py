"""`as_tool`: a `Xolver` as a LangChain tool, callable by any LangChain or LangGraph agent.

The tool takes one argument, ``problem``, and returns the team's answer as its content; the full
`Solution` (trace, usage, scores) is the tool message's artifact, for programs that want more than
the agent sees. Both ``invoke`` and ``ainvoke`` work; the async path runs on the caller's loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from xolver.solution import Solution

if TYPE_CHECKING:
    from xolver.api import Xolver

__all__ = ["SolveInput", "as_tool"]

_DESCRIPTION = (
    "Solve a hard reasoning problem (math, logic, code) with a team of expert agents that answer in "
    "parallel, are checked by a judge and refine their work; returns the final answer. "
    "Pass the complete, self-contained problem statement."
)


class SolveInput(BaseModel):
    """The tool's arguments."""

    problem: str = Field(description="The complete problem statement, with every number and condition.")


def _content(solution: Solution) -> str:
    if solution.answer:
        return solution.answer
    if solution.best is not None and solution.best.response:
        return f"No final answer; best attempt: {solution.best.response}"
    return "No answer could be found."


def as_tool(xolver: Xolver, *, name: str = "xolver_solve", description: str = _DESCRIPTION) -> BaseTool:
    """A LangChain tool that solves problems with `xolver`.

    Args:
        xolver: the team (model, memory, config) the tool runs.
        name: the tool name the calling model sees.
        description: what the calling model is told the tool does.

    Returns:
        A `StructuredTool` with content-and-artifact output: the answer text, and the `Solution`.

    Example:
        >>> tool = as_tool(Xolver("openai/gpt-4o-mini", agents=2, rounds=1))
        >>> tool.invoke({"problem": "What is 17 * 23?"})
        '391'
    """

    def solve(problem: str) -> tuple[str, Solution]:
        solution = xolver.solve(problem)
        return _content(solution), solution

    async def asolve(problem: str) -> tuple[str, Solution]:
        solution = await xolver.asolve(problem)
        return _content(solution), solution

    return StructuredTool.from_function(
        func=solve,
        coroutine=asolve,
        name=name,
        description=description,
        args_schema=SolveInput,
        response_format="content_and_artifact",
    )
