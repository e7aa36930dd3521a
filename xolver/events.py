"""Typed events a solve emits while it runs (`Xolver.stream` / `astream`).

Every event has a ``type`` tag, so a consumer can `match` on the class or dispatch on the tag after
JSON round-trips (`parse_event`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from xolver.solution import CallRecord, Exemplar, PlannedRole, Solution, ToolCall, Trajectory

__all__ = [
    "AgentAnswered",
    "AgentJudged",
    "AgentStarted",
    "AgentToken",
    "BlindChecked",
    "Event",
    "ExperienceRetrieved",
    "MemoryWritten",
    "ModelCalled",
    "RolesPlanned",
    "RoundFinished",
    "SharedMemoryUpdated",
    "SolveFinished",
    "SolveStarted",
    "ToolCalled",
    "Verified",
    "parse_event",
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolveStarted(_Event):
    type: Literal["solve_started"] = "solve_started"
    problem: str
    model: str
    agents: int
    rounds: int
    thread_id: str | None = None


class RolesPlanned(_Event):
    type: Literal["roles_planned"] = "roles_planned"
    roles: list[PlannedRole]


class ExperienceRetrieved(_Event):
    type: Literal["experience_retrieved"] = "experience_retrieved"
    exemplars: list[Exemplar]


class AgentStarted(_Event):
    type: Literal["agent_started"] = "agent_started"
    agent: int
    role: str
    round: int


class AgentToken(_Event):
    """A piece of text a model generated (only when token streaming is on and the model streams)."""

    type: Literal["agent_token"] = "agent_token"
    role: str
    agent: int | None = None
    round: int | None = None
    text: str


class ToolCalled(_Event):
    """An agent ran a tool (a Python snippet) and got its result."""

    type: Literal["tool_called"] = "tool_called"
    agent: int
    round: int
    call: ToolCall


class AgentAnswered(_Event):
    type: Literal["agent_answered"] = "agent_answered"
    trajectory: Trajectory


class AgentJudged(_Event):
    """The judge's verdict on one candidate; `score` is None when the reply had no usable score."""

    type: Literal["agent_judged"] = "agent_judged"
    agent: int
    round: int
    score: float | None
    critique: str


class BlindChecked(_Event):
    """The judge computed the answer with its own program before seeing any candidate."""

    type: Literal["blind_checked"] = "blind_checked"
    round: int
    answer: str | None
    code: str = ""


class SharedMemoryUpdated(_Event):
    type: Literal["shared_memory_updated"] = "shared_memory_updated"
    round: int
    entries: list[Trajectory]


class RoundFinished(_Event):
    type: Literal["round_finished"] = "round_finished"
    round: int
    best_score: float | None
    stop_reason: str | None = Field(None, description="Why the loop stops after this round; None when it goes on.")


class Verified(_Event):
    type: Literal["verified"] = "verified"
    answer: str
    source: str


class MemoryWritten(_Event):
    type: Literal["memory_written"] = "memory_written"
    ids: list[str]


class ModelCalled(_Event):
    type: Literal["model_called"] = "model_called"
    call: CallRecord


class SolveFinished(_Event):
    type: Literal["solve_finished"] = "solve_finished"
    solution: Solution


Event = Annotated[
    SolveStarted
    | RolesPlanned
    | ExperienceRetrieved
    | AgentStarted
    | AgentToken
    | ToolCalled
    | AgentAnswered
    | AgentJudged
    | BlindChecked
    | SharedMemoryUpdated
    | RoundFinished
    | Verified
    | MemoryWritten
    | ModelCalled
    | SolveFinished,
    Field(discriminator="type"),
]

_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict[str, object] | str) -> Event:
    """Rebuild an event from its JSON form."""
    if isinstance(data, str):
        return _adapter.validate_json(data)
    return _adapter.validate_python(data)
