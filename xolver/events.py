"""Typed events a solve emits while it runs (`Xolver.stream` / `astream`).

Every event has a ``type`` tag, so a consumer can `match` on the class or dispatch on the tag after
JSON round-trips (`parse_event`).

Every event also says what happened in words, once: `describe` gives one plain-text line (None for
events a reader does not need: tokens, single model calls), `details` the lines a log shows under
it. The chat's plain log, the OpenAI endpoint's reasoning stream and the MCP tool's progress all
print these lines; the terminal's live view styles the same facts itself. Rounds and agents are
counted from 1 in the text.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from xolver._text import fit, stop_text
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

# The width a line is fitted to when the caller gives none: long enough for a critique's gist.
LINE_WIDTH = 160
# Shared-memory entries a log lists under the round's line.
_SHARED_LISTED = 3


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @abstractmethod
    def describe(self, width: int = LINE_WIDTH) -> str | None:
        """What happened, as one line of plain text, or None when the event is not worth a line.

        Free text (an answer, a critique, a tool's output) is cut so that the line fits in `width`
        characters, keeping at least 20 characters of it; the final answer is never cut.
        """

    def details(self, width: int = LINE_WIDTH) -> list[str]:
        """Indented lines a log shows under `describe`'s line (each fitted to `width`); often none."""
        return []


class SolveStarted(_Event):
    type: Literal["solve_started"] = "solve_started"
    problem: str
    model: str
    agents: int
    rounds: int
    thread_id: str | None = None

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return f"Solving with {self.agents} agent(s), up to {self.rounds} round(s), model {self.model}."


class RolesPlanned(_Event):
    type: Literal["roles_planned"] = "roles_planned"
    roles: list[PlannedRole]

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return "Team: " + ", ".join(r.name for r in self.roles) + "."


class ExperienceRetrieved(_Event):
    type: Literal["experience_retrieved"] = "experience_retrieved"
    exemplars: list[Exemplar]

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        # Nothing retrieved says nothing: it is also what a solve without memory reports.
        return f"Retrieved {len(self.exemplars)} past experience(s)." if self.exemplars else None

    def details(self, width: int = LINE_WIDTH) -> list[str]:
        return [fit(f"  {e.score:.2f} ", e.text, width) for e in self.exemplars]


class AgentStarted(_Event):
    type: Literal["agent_started"] = "agent_started"
    agent: int
    role: str
    round: int

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return None  # the agent's answer says more


class AgentToken(_Event):
    """A piece of text a model generated (only when token streaming is on and the model streams)."""

    type: Literal["agent_token"] = "agent_token"
    role: str
    agent: int | None = None
    round: int | None = None
    text: str

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return None


class ToolCalled(_Event):
    """An agent ran a tool (a Python snippet, a check, a native tool call) and got its result."""

    type: Literal["tool_called"] = "tool_called"
    agent: int
    round: int
    call: ToolCall

    def result(self) -> str:
        """The last line the tool printed, or why it failed."""
        if not self.call.ok:
            return f"failed: {self.call.error}"
        return (self.call.output.strip().splitlines() or ["(no output)"])[-1]

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        how = " (native call)" if self.call.via == "native" else ""
        return fit(f"Round {self.round + 1}: agent {self.agent + 1} ran {self.call.tool}{how}: ", self.result(), width)


class AgentAnswered(_Event):
    type: Literal["agent_answered"] = "agent_answered"
    trajectory: Trajectory

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        t = self.trajectory
        if t.answer:
            said = f"gave answer {t.answer}."
        else:
            said = f"gave no answer ({t.error})." if t.error else "gave no parsable answer."
        return fit(f"Round {t.round + 1}: agent {t.agent + 1} ({t.role}) ", said, width)


class AgentJudged(_Event):
    """The judge's verdict on one candidate; `score` is None when the reply had no usable score."""

    type: Literal["agent_judged"] = "agent_judged"
    agent: int
    round: int
    score: float | None
    critique: str

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        verdict = "was not judged (no usable score)" if self.score is None else f"scored {self.score:.2f}"
        prefix = f"Round {self.round + 1}: agent {self.agent + 1} {verdict}"
        return fit(prefix + ": ", self.critique, width) if self.critique.strip() else prefix + "."


class BlindChecked(_Event):
    """The judge computed the answer with its own program before seeing any candidate."""

    type: Literal["blind_checked"] = "blind_checked"
    round: int
    answer: str | None
    code: str = ""

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        said = f"{self.answer}." if self.answer is not None else "no answer."
        return fit(f"Round {self.round + 1}: the judge's blind check (its own program) printed ", said, width)


class SharedMemoryUpdated(_Event):
    type: Literal["shared_memory_updated"] = "shared_memory_updated"
    round: int
    entries: list[Trajectory]

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        n = len(self.entries)
        return f"Round {self.round + 1}: shared memory updated ({n} {'entry' if n == 1 else 'entries'})."

    def details(self, width: int = LINE_WIDTH) -> list[str]:
        lines = []
        for t in self.entries[:_SHARED_LISTED]:
            score = "-" if t.score is None else f"{t.score:.2f}"
            lines.append(fit(f"  {score} {t.role} (agent {t.agent + 1}): ", t.answer or t.response, width))
        return lines


class RoundFinished(_Event):
    type: Literal["round_finished"] = "round_finished"
    round: int
    best_score: float | None
    stop_reason: str | None = Field(None, description="Why the loop stops after this round; None when it goes on.")

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        best = "" if self.best_score is None else f": best judge score {self.best_score:.2f}"
        stop = "" if self.stop_reason is None else f"; stopping: {stop_text(self.stop_reason)}"
        return f"Round {self.round + 1} done{best}{stop}."


class Verified(_Event):
    type: Literal["verified"] = "verified"
    answer: str
    source: str

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return None  # the answer is described once the solve finished, with whether a check agreed


class MemoryWritten(_Event):
    type: Literal["memory_written"] = "memory_written"
    ids: list[str]

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return f"Wrote {len(self.ids)} record(s) to memory." if self.ids else None


class ModelCalled(_Event):
    type: Literal["model_called"] = "model_called"
    call: CallRecord

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        return None  # the totals are in the solve's last line


class SolveFinished(_Event):
    type: Literal["solve_finished"] = "solve_finished"
    solution: Solution

    def describe(self, width: int = LINE_WIDTH) -> str | None:
        s = self.solution
        said = f"Answer: {s.answer or '(none)'} (from {s.answer_source})."
        return fit(f"{said} Checked: ", s.check.rstrip(".") + ".", width) if s.checked else said

    def details(self, width: int = LINE_WIDTH) -> list[str]:
        s, totals = self.solution, self.solution.usage.totals
        return [f"  {totals.calls} calls, {totals.total_tokens} tokens, ${totals.cost:.4f}, {s.wall_seconds:.1f} s"]


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
