"""The graph's state: plain JSON-like data only, so LangGraph checkpoints serialise it.

Records are stored as dicts (`model_dump(mode="json")` of the pydantic records in
`xolver.solution`, and `Verdict` here); `xolver.graph.codec` is the one place that turns them into
typed records and back, so nodes and routing work with records. Lists written by parallel branches
use an appending reducer; scalars that parallel branches may write use `max` or first-wins reducers.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from xolver.agents.runner import Budget
from xolver.config import XolverConfig
from xolver.errors import BudgetKind
from xolver.memory.base import ExperienceStore
from xolver.models.base import Model
from xolver.solution import CheckKind, StopReason, TestOutcome
from xolver.tools.toolbox import ToolBox
from xolver.tracing import SolveTrace

__all__ = ["AgentTask", "JudgeTask", "SolveContext", "SolveState", "Verdict"]


def _max(current: int, new: int) -> int:
    return max(current, new)


def _first(current: BudgetKind | None, new: BudgetKind | None) -> BudgetKind | None:
    """Keep the first non-empty value (the first budget to run out is the reason reported)."""
    return current or new


class Verdict(BaseModel):
    """The judge's verdict on one candidate (agent, round), kept apart from the trajectory it judges
    because judges run in parallel branches; `xolver.graph.routing.candidates` joins them."""

    model_config = ConfigDict(extra="forbid")

    agent: int
    round: int
    score: float | None = None
    critique: str = ""
    tests: list[TestOutcome] = Field(default_factory=list)
    """Code tasks: the tests the candidate's program ran."""


class SolveState(TypedDict, total=False):
    """Everything a solve knows; the input is ``{"problem": ...}``."""

    problem: str
    tests: list[str]
    synthesized_tests: list[str]
    roles: list[dict[str, Any]]
    exemplars: list[dict[str, Any]]
    round: Annotated[int, _max]
    trajectories: Annotated[list[dict[str, Any]], operator.add]
    verdicts: Annotated[list[dict[str, Any]], operator.add]
    shared: list[dict[str, Any]]
    rounds_done: Annotated[list[dict[str, Any]], operator.add]
    calls: Annotated[list[dict[str, Any]], operator.add]
    failures: Annotated[list[str], operator.add]
    budget_stop: Annotated[BudgetKind | None, _first]
    checker: dict[str, Any] | None
    checker_done: bool
    stop_reason: StopReason | None
    answer: str
    answer_source: str
    checked: bool
    check: str
    check_kind: CheckKind | None
    tally: list[dict[str, Any]]
    memory_written: list[str]


class AgentTask(TypedDict):
    """What one solver branch receives through `Send`."""

    problem: str
    agent: int
    role: str
    reason: str
    method: str
    temperature: float
    round: int
    exemplars: list[dict[str, Any]]
    previous: dict[str, Any] | None
    shared: list[dict[str, Any]]


class JudgeTask(TypedDict):
    """What one judge branch receives through `Send`."""

    problem: str
    trajectory: dict[str, Any]
    tests: list[str]
    synthesized: int
    checker: dict[str, Any] | None


@dataclass
class SolveContext:
    """Dependencies of one solve, passed as LangGraph's runtime context (never stored in state)."""

    model: Model
    config: XolverConfig
    budget: Budget
    memory: ExperienceStore | None = None
    tools: ToolBox | None = None
    trace: SolveTrace | None = None
    """The solve's OpenTelemetry spans (`xolver.tracing`); None when tracing is off."""
