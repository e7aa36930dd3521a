"""Progress lines for the server surfaces, and a short trace of a finished solve.

Both surfaces use them: the OpenAI endpoint streams the lines as reasoning content, the MCP
``solve`` tool reports them as progress (on the monotonic scale of `SolveProgress`) and returns
the trace. A line is the event's own
`describe` (one line, never a newline: SSE comments carry it as is).
"""

from __future__ import annotations

from xolver.events import AgentAnswered, Event, MemoryWritten, SolveFinished, Verified
from xolver.solution import Solution

__all__ = ["SolveProgress", "describe_event", "short_trace"]


def describe_event(event: Event) -> str | None:
    """A one-line description of `event`, or None for events not worth showing (tokens, calls).

    The answer is described once the solve has finished (`SolveFinished`), where it is known
    whether an executed check agreed with it.
    """
    return event.describe()


def short_trace(solution: Solution) -> list[str]:
    """A few lines that say how `solution` was reached: team, scores per round, stop, cost."""
    lines = []
    if solution.roles:
        lines.append("team: " + ", ".join(r.name for r in solution.roles))
    if solution.exemplars:
        lines.append(f"experience: {len(solution.exemplars)} record(s) retrieved")
    for record in solution.rounds:
        parts = [
            f"{t.role}={t.answer or '-'} ({t.score:.2f})" if t.score is not None else f"{t.role}={t.answer or '-'}"
            for t in record.trajectories
        ]
        lines.append(f"round {record.index + 1}: " + "; ".join(parts))
    totals = solution.usage.totals
    lines.append(
        f"stopped: {solution.stop_reason}; answer from: {solution.answer_source}; "
        f"{totals.calls} model call(s), {totals.total_tokens} tokens"
    )
    return lines


class SolveProgress:
    """MCP progress for one solve: a total fixed at the start and values that only ever increase.

    The scale has one unit per stage: planning and retrieval, each round, then verification; the
    total is ``rounds + 2`` whatever happens, and the finished solve reports exactly the total
    (a solve that stops early jumps there). Within a stage every event moves a quarter of the way
    to the next stage, so a stage never spills into the next however many events it has. An event
    whose value would not exceed the last one reported (a straggler of an earlier stage, or a float
    that can no longer grow) returns None: MCP requires each notification's progress to increase.

    Args:
        rounds: the rounds the solve may run (`XolverConfig.total_rounds`).
    """

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.total = float(rounds + 2)
        self._stage = 0
        self._value = -1.0

    def _stage_of(self, event: Event) -> int:
        if isinstance(event, SolveFinished):
            return self.rounds + 2
        if isinstance(event, AgentAnswered):
            return min(event.trajectory.round + 1, self.rounds)
        if isinstance(event, (Verified, MemoryWritten)):
            return self.rounds + 1
        round_ = getattr(event, "round", None)
        if isinstance(round_, int):
            return min(round_ + 1, self.rounds)
        return self._stage  # no stage of its own: it belongs to the current one

    def advance(self, event: Event) -> float | None:
        """The progress to report with `event`, or None when nothing should be reported."""
        stage = max(self._stage_of(event), self._stage)
        if stage >= self.rounds + 2:
            value = self.total
        elif stage > self._stage or self._value < stage:
            value = float(stage)
        else:
            value = self._value + (stage + 1 - self._value) / 4
        self._stage = stage
        if value <= self._value:
            return None
        self._value = value
        return value
