"""Plain-text lines for solve events: what `xolver chat` prints when its output is not a terminal.

A pipe or a log file gets one short line per meaningful event, no live redrawing and no control
codes; token streams and individual model calls are left out (their sums appear in the summary).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from xolver.events import (
    AgentAnswered,
    AgentJudged,
    AgentStarted,
    BlindChecked,
    Event,
    ExperienceRetrieved,
    MemoryWritten,
    RolesPlanned,
    RoundFinished,
    SharedMemoryUpdated,
    SolveFinished,
    SolveStarted,
    ToolCalled,
    Verified,
)
from xolver.ui.progress import STOP_TEXT, clip

__all__ = ["EventLine", "event_text"]


def event_text(event: Event, width: int = 80) -> list[str]:
    """The lines that describe `event` in a plain log (none for tokens and model calls)."""
    if isinstance(event, SolveStarted):
        return [f"solving with {event.model}: {event.agents} agent(s), up to {event.rounds} round(s)"]
    if isinstance(event, RolesPlanned):
        roles = ", ".join(f"{i + 1}. {r.name}" for i, r in enumerate(event.roles))
        return [f"roles: {roles}"]
    if isinstance(event, ExperienceRetrieved):
        if not event.exemplars:
            return ["memory: nothing relevant retrieved"]
        return [f"memory: retrieved {len(event.exemplars)} record(s)"] + [
            _fit(f"  {e.score:.2f} ", e.text, width) for e in event.exemplars
        ]
    if isinstance(event, AgentStarted):
        return []
    if isinstance(event, AgentAnswered):
        t = event.trajectory
        said = f"answer {t.answer}" if t.answer is not None else (t.error or "no answer")
        return [_fit(f"[round {t.round + 1}] agent {t.agent + 1} ({t.role}): ", said, width)]
    if isinstance(event, ToolCalled):
        c = event.call
        result = (c.output.strip().splitlines() or ["(no output)"])[-1] if c.ok else f"failed: {c.error}"
        return [_fit(f"[round {event.round + 1}] agent {event.agent + 1} ran {c.tool}: ", result, width)]
    if isinstance(event, AgentJudged):
        verdict = "unjudged" if event.score is None else f"judged {event.score:.2f}"
        prefix = f"[round {event.round + 1}] agent {event.agent + 1} {verdict}: "
        return [_fit(prefix, event.critique, width)]
    if isinstance(event, BlindChecked):
        said = event.answer if event.answer is not None else "no answer"
        return [f"[round {event.round + 1}] judge's blind check (its own program): {said}"]
    if isinstance(event, SharedMemoryUpdated):
        lines = [f"shared memory after round {event.round + 1}:"]
        for t in event.entries[:3]:
            score = "-" if t.score is None else f"{t.score:.2f}"
            lines.append(_fit(f"  {score} {t.role} (agent {t.agent + 1}): ", t.answer or t.response, width))
        return lines
    if isinstance(event, RoundFinished):
        if event.stop_reason is None:
            best = "" if event.best_score is None else f", best judge score {event.best_score:.2f}"
            return [f"round {event.round + 1} done{best}"]
        return [f"stopping after round {event.round + 1}: {STOP_TEXT.get(event.stop_reason, event.stop_reason)}"]
    if isinstance(event, Verified):
        return []  # shown once the solve has finished, where it is known whether a check agreed
    if isinstance(event, MemoryWritten):
        return [f"memory: wrote {len(event.ids)} record(s)"]
    if isinstance(event, SolveFinished):
        s = event.solution
        totals = s.usage.totals
        lines = [f"answer: {s.answer or '(no answer)'} ({s.answer_source})"]
        if s.checked:
            lines.append(_fit("checked: ", s.check, width))
        lines.append(f"{totals.calls} calls, {totals.total_tokens} tokens, ${totals.cost:.4f}, {s.wall_seconds:.1f} s")
        return lines
    return []


def _fit(prefix: str, text: str, width: int) -> str:
    """`prefix` and as much of `text` (on one line) as fits in `width`, at least 20 characters of it."""
    return prefix + clip(text, max(20, width - len(prefix)))


@dataclass
class EventLine:
    """One event as plain log lines (renders nothing for events a log leaves out)."""

    event: Event

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for text in event_text(self.event, options.max_width):
            yield Text(text, no_wrap=False)
