"""Progress lines for the server surfaces, and a short trace of a finished solve.

Both surfaces use them: the OpenAI endpoint streams the lines as reasoning content, the MCP
``solve`` tool reports them as progress and returns the trace. A line is the event's own
`describe` (one line, never a newline: SSE comments carry it as is).
"""

from __future__ import annotations

from xolver.events import Event
from xolver.solution import Solution

__all__ = ["describe_event", "short_trace"]


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
