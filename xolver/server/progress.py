"""One-line, human-readable descriptions of solve events, and a short trace of a finished solve.

Both surfaces use them: the OpenAI endpoint streams the lines as reasoning content, the MCP
``solve`` tool reports them as progress and returns the trace.
"""

from __future__ import annotations

from xolver.events import (
    AgentAnswered,
    AgentJudged,
    BlindChecked,
    Event,
    ExperienceRetrieved,
    MemoryWritten,
    RolesPlanned,
    RoundFinished,
    SolveFinished,
    SolveStarted,
)
from xolver.solution import Solution

__all__ = ["describe_event", "short_trace"]

_CRITIQUE_CHARS = 160


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe_event(event: Event) -> str | None:
    """A one-line description of `event`, or None for events not worth showing (tokens, calls).

    Rounds are shown counting from 1, as the terminal view does. The answer is described once the
    solve has finished (`SolveFinished`), where it is known whether an executed check agreed with it.
    """
    if isinstance(event, SolveStarted):
        return f"Solving with {event.agents} agent(s), up to {event.rounds} round(s), model {event.model}."
    if isinstance(event, RolesPlanned):
        return "Team: " + ", ".join(r.name for r in event.roles) + "."
    if isinstance(event, ExperienceRetrieved):
        return f"Retrieved {len(event.exemplars)} past experience(s)." if event.exemplars else None
    if isinstance(event, AgentAnswered):
        t = event.trajectory
        said = f"answer {t.answer}" if t.answer else "no parsable answer"
        return f"Round {t.round + 1}: agent {t.agent + 1} ({t.role}) gave {said}."
    if isinstance(event, AgentJudged):
        note = f": {_clip(event.critique, _CRITIQUE_CHARS)}" if event.critique.strip() else ""
        verdict = "was not judged (no usable score)" if event.score is None else f"scored {event.score:.2f}"
        return f"Round {event.round + 1}: agent {event.agent + 1} {verdict}{note}"
    if isinstance(event, BlindChecked):
        said = event.answer if event.answer is not None else "no answer"
        return f"Round {event.round + 1}: the judge's blind check (its own program) printed {said}."
    if isinstance(event, RoundFinished):
        tail = f"; stopping ({event.stop_reason})" if event.stop_reason else ""
        best = "" if event.best_score is None else f": best judge score {event.best_score:.2f}"
        return f"Round {event.round + 1} done{best}{tail}."
    if isinstance(event, SolveFinished):
        s = event.solution
        check = f" Checked: {s.check}." if s.checked else ""
        return f"Answer: {s.answer or '(none)'} (from {s.answer_source}).{check}"
    if isinstance(event, MemoryWritten):
        return f"Remembered {len(event.ids)} record(s)." if event.ids else None
    return None


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
