"""Rich renderables for a solve: a live team view fed by events, and the final answer panel."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from xolver.events import (
    AgentAnswered,
    AgentJudged,
    AgentStarted,
    Event,
    ExperienceRetrieved,
    MemoryWritten,
    ModelCalled,
    RolesPlanned,
    RoundFinished,
    SolveFinished,
    SolveStarted,
    Verified,
)
from xolver.solution import Solution

__all__ = ["SolutionPanel", "SolveView"]

_STOP_TEXT = {
    "perfect_score": "every shared-memory entry scored perfectly",
    "max_rounds": "all rounds done",
    "budget_calls": "model-call budget spent",
    "budget_tokens": "token budget spent",
    "budget_seconds": "time budget spent",
    "no_answer": "no agent produced an answer",
}


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class _AgentRow:
    role: str
    round: int = 0
    status: str = "waiting"
    answer: str = ""
    score: float | None = None
    critique: str = ""


@dataclass
class SolveView:
    """The state of a solve as the terminal shows it; feed it events with `update`."""

    problem: str = ""
    model: str = ""
    total_rounds: int = 0
    round: int = 0
    agents: dict[int, _AgentRow] = field(default_factory=dict)
    exemplars: int = 0
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    stop: str | None = None
    answer: str | None = None

    def update(self, event: Event) -> None:
        if isinstance(event, SolveStarted):
            self.problem, self.model, self.total_rounds = event.problem, event.model, event.rounds
        elif isinstance(event, RolesPlanned):
            self.agents = {i: _AgentRow(role=r.name) for i, r in enumerate(event.roles)}
        elif isinstance(event, ExperienceRetrieved):
            self.exemplars = len(event.exemplars)
        elif isinstance(event, AgentStarted):
            row = self.agents.setdefault(event.agent, _AgentRow(role=event.role))
            row.round, row.status, row.score, row.critique = event.round, "thinking…", None, ""
            self.round = max(self.round, event.round)
        elif isinstance(event, AgentAnswered):
            t = event.trajectory
            row = self.agents.setdefault(t.agent, _AgentRow(role=t.role))
            row.status = "answered" if t.answer is not None else (t.error or "no answer")
            row.answer = t.answer or ""
        elif isinstance(event, AgentJudged):
            row = self.agents.setdefault(event.agent, _AgentRow(role="?"))
            row.status, row.score, row.critique = "judged", event.score, event.critique
        elif isinstance(event, ModelCalled):
            self.calls += 1
            self.tokens += event.call.prompt_tokens + event.call.completion_tokens
            self.cost += event.call.cost
        elif isinstance(event, RoundFinished):
            self.stop = event.stop_reason
        elif isinstance(event, Verified):
            self.answer = event.answer

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= 100
        table = Table(expand=True, show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("#", width=2, no_wrap=True)
        table.add_column("role", ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column("status", ratio=2, no_wrap=True, overflow="ellipsis")
        table.add_column("answer", ratio=2, no_wrap=True, overflow="ellipsis")
        table.add_column("score", width=5, justify="right", no_wrap=True)
        if wide:
            table.add_column("judge", ratio=5, no_wrap=True, overflow="ellipsis")
        for i, row in sorted(self.agents.items()):
            score = "" if row.score is None else f"{row.score:.2f}"
            style = "green" if row.score is not None and row.score >= 1.0 else None
            cells = [str(i), row.role, row.status, _clip(row.answer, 40), score]
            if wide:
                cells.append(_clip(row.critique, 200))
            table.add_row(*cells, style=style)
        rounds = f"round {self.round + 1}/{self.total_rounds}" if self.total_rounds else ""
        header = Text.assemble(
            ("xolver ", "bold cyan"),
            (f"{self.model}  ", "dim"),
            (rounds, "bold"),
            (f"  calls {self.calls}  tokens {self.tokens}", "dim"),
            (f"  ${self.cost:.4f}" if self.cost else "", "dim"),
            (f"  memory {self.exemplars}" if self.exemplars else "", "dim"),
        )
        parts: list[Text | Table] = [header, table]
        if self.stop:
            parts.append(Text(f"stopping: {_STOP_TEXT.get(self.stop, self.stop)}", style="yellow"))
        yield Panel(Group(*parts), title=_clip(self.problem, max(20, options.max_width - 10)), title_align="left")

    def consume(self, event: Event) -> Solution | None:
        """`update` with the event and return the solution when it is the final event."""
        self.update(event)
        return event.solution if isinstance(event, SolveFinished) else None


@dataclass
class SolutionPanel:
    """The final answer, highlighted, with a one-line summary of the solve."""

    solution: Solution

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        s = self.solution
        totals = s.usage.totals
        answer = Text(s.answer or "(no answer)", style="bold green" if s.answer else "bold red")
        best = s.best
        who = f"{best.role} (agent {best.agent}, round {best.round}, score {best.score:.2f})" if best and best.score is not None else "-"
        summary = Text(
            f"{len(s.rounds)} round(s), stopped: {_STOP_TEXT.get(s.stop_reason, s.stop_reason)}; "
            f"{totals.calls} calls, {totals.total_tokens} tokens, ${totals.cost:.4f}, {s.wall_seconds:.1f} s\n"
            f"from: {who}",
            style="dim",
        )
        yield Panel(Group(answer, summary), title="answer", title_align="left", border_style="green" if s.answer else "red")
