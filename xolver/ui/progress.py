"""Rich renderables for a solve: a live team view fed by events, and the final answer panel.

`SolveView` is the live view (`xolver solve` and `xolver chat`): the planned roles, each agent's draft
as it streams, the judge's score and one-line critique per agent, the shared memory's top entries
after each round, why the loop stopped, the answer, the experience retrieved and written,
and calls, tokens, cost and time. Every line is cut to the width it is given, so the view reads at 80
columns and shows more of each draft and critique on wide terminals. ``compact=True`` keeps one
status line per agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.text import Text
from typing_extensions import assert_never

from xolver._text import clip, stop_text, tail
from xolver.events import (
    AgentAnswered,
    AgentJudged,
    AgentStarted,
    AgentToken,
    BlindChecked,
    Event,
    ExperienceRetrieved,
    MemoryWritten,
    ModelCalled,
    RolesPlanned,
    RoundFinished,
    SharedMemoryUpdated,
    SolveFinished,
    SolveStarted,
    ToolCalled,
    Verified,
)
from xolver.solution import Exemplar, Solution, Trajectory

__all__ = ["SolutionPanel", "SolveView", "line"]

# How much streamed text a view keeps per agent: enough for the widest terminal line.
_DRAFT_KEEP = 600
_SHARED_SHOWN = 3


def line(*parts: tuple[str, str] | str) -> Text:
    """A `Text` that never wraps: what does not fit is cut with an ellipsis."""
    return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")


def _score_style(score: float | None) -> str:
    if score is None:
        return "dim"
    if score >= 1.0:
        return "bold green"
    return "yellow" if score >= 0.5 else "red"


@dataclass
class _AgentRow:
    role: str
    round: int = 0
    status: str = "waiting"
    answer: str = ""
    score: float | None = None
    critique: str = ""
    draft: str = ""
    judging: str = ""


@dataclass
class SolveView:
    """The state of a solve as the terminal shows it; feed it events with `update`.

    Args:
        compact: one status line per agent (no drafts, critiques or shared memory).
        clock: where elapsed time comes from (tests pass a fixed clock).
        title: the panel's title (default: the problem).
    """

    compact: bool = False
    clock: Callable[[], float] = time.monotonic
    problem: str = ""
    model: str = ""
    total_rounds: int = 0
    round: int = 0
    agents: dict[int, _AgentRow] = field(default_factory=dict)
    planning: str | None = None
    exemplars: list[Exemplar] = field(default_factory=list)
    retrieved: bool = False
    shared: list[Trajectory] = field(default_factory=list)
    shared_round: int | None = None
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    stop: str | None = None
    blind_check: str | None = None
    verifying: str | None = None
    answer: str | None = None
    answer_source: str = ""
    written: list[str] | None = None
    started_at: float | None = None
    seconds: float | None = None
    note: str | None = None
    title: str | None = None

    def update(self, event: Event) -> None:
        """Apply one event."""
        match event:
            case SolveStarted():
                self.problem, self.model, self.total_rounds = event.problem, event.model, event.rounds
                self.started_at, self.planning = self.clock(), ""
            case RolesPlanned():
                self.agents = {i: _AgentRow(role=r.name) for i, r in enumerate(event.roles)}
                self.planning = None
            case ExperienceRetrieved():
                self.exemplars, self.retrieved = list(event.exemplars), True
            case AgentStarted():
                row = self.agents.setdefault(event.agent, _AgentRow(role=event.role))
                row.round, row.status, row.score, row.critique = event.round, "thinking", None, ""
                row.draft, row.judging, row.answer = "", "", ""
                self.round = max(self.round, event.round)
            case AgentToken():
                self._token(event)
            case AgentAnswered():
                t = event.trajectory
                row = self.agents.setdefault(t.agent, _AgentRow(role=t.role))
                row.status = "answered" if t.answer is not None else (t.error or "no answer")
                row.answer = t.answer or ""
                row.draft = (t.response or t.thought or row.draft)[-_DRAFT_KEEP:]
            case ToolCalled():
                row = self.agents.setdefault(event.agent, _AgentRow(role="?"))
                # The model's follow-up reply streams after this line.
                how = ", native call" if event.call.via == "native" else ""
                row.status, row.draft = f"ran {event.call.tool}", f"[{event.call.tool} output{how}] {event.result()} "
            case AgentJudged():
                row = self.agents.setdefault(event.agent, _AgentRow(role="?"))
                status = "judged" if event.score is not None else "unjudged"
                row.status, row.score, row.critique, row.judging = status, event.score, event.critique, ""
            case BlindChecked():
                self.blind_check = event.answer if event.answer is not None else "(no answer)"
            case SharedMemoryUpdated():
                self.shared, self.shared_round = list(event.entries), event.round
            case ModelCalled():
                self.calls += 1
                self.tokens += event.call.prompt_tokens + event.call.completion_tokens
                self.cost += event.call.cost
            case RoundFinished():
                self.stop = event.stop_reason
                if event.stop_reason is not None:
                    self.verifying = ""
            case Verified():
                self.answer, self.answer_source, self.verifying = event.answer, event.source, None
            case MemoryWritten():
                self.written = list(event.ids)
            case SolveFinished():
                self.seconds = event.solution.wall_seconds
                self.answer = event.solution.answer
                self.answer_source = event.solution.answer_source
                self.written = list(event.solution.memory_written)
            case _:
                assert_never(event)

    def _token(self, event: AgentToken) -> None:
        if event.role == "planner":
            self.planning = ((self.planning or "") + event.text)[-_DRAFT_KEEP:]
        elif event.role == "verifier":
            self.verifying = ((self.verifying or "") + event.text)[-_DRAFT_KEEP:]
        elif event.agent is not None and event.agent in self.agents:
            row = self.agents[event.agent]
            if event.role == "judge":
                row.status, row.judging = "judging", (row.judging + event.text)[-_DRAFT_KEEP:]
            else:
                row.status, row.draft = "writing", (row.draft + event.text)[-_DRAFT_KEEP:]

    def consume(self, event: Event) -> Solution | None:
        """`update` with the event and return the solution when it is the final event."""
        self.update(event)
        return event.solution if isinstance(event, SolveFinished) else None

    @property
    def elapsed(self) -> float:
        """Seconds since the solve started (the solve's own wall time once it finished)."""
        if self.seconds is not None:
            return self.seconds
        return 0.0 if self.started_at is None else max(0.0, self.clock() - self.started_at)

    # ----------------------------------------------------------------- rendering

    def header(self) -> Text:
        """One line: model, round, calls, tokens, cost and time."""
        rounds = f"round {self.round + 1}/{self.total_rounds}  " if self.total_rounds else ""
        # Numbers first: on a narrow terminal the long model name is what gets cut.
        return line(
            ("xolver  ", "bold cyan"),
            (rounds, "bold"),
            (f"calls {self.calls}  tokens {self.tokens}  ${self.cost:.4f}  {self.elapsed:.1f} s  ", ""),
            (self.model, "dim"),
        )

    def agent_lines(self, width: int) -> list[Text]:
        """The team: one status line per agent, plus its draft and the judge's critique unless compact."""
        role_w = max(8, min(28, width // 4))
        out: list[Text] = []
        for i, row in sorted(self.agents.items()):
            score = "  -  " if row.score is None else f"{row.score:5.2f}"
            out.append(
                line(
                    (f"{i + 1:>2} ", "bold"),
                    (f"{clip(row.role, role_w):<{role_w}} ", "cyan"),
                    (f"r{row.round + 1} ", "dim"),
                    (f"{clip(row.status, 10):<10} ", "green" if row.status == "judged" else ""),
                    (score, _score_style(row.score)),
                    ("  " + clip(row.answer, width), "bold"),
                )
            )
            if self.compact:
                continue
            if row.draft and row.score is None:
                out.append(line(("   draft ", "dim"), (tail(row.draft, width - 9), "italic")))
            if row.judging:
                out.append(line(("   judge ", "dim"), (tail(row.judging, width - 9), "italic dim")))
            elif row.critique:
                out.append(line(("   judge ", "dim"), (clip(row.critique, width - 9), "")))
        return out

    def shared_lines(self, width: int) -> list[Text]:
        """The shared memory's top entries after the latest round."""
        if self.compact or self.shared_round is None or not self.shared:
            return []
        out = [line((f"shared memory after round {self.shared_round + 1}", "bold"))]
        for t in self.shared[:_SHARED_SHOWN]:
            score = "  -  " if t.score is None else f"{t.score:5.2f}"
            gist = t.answer if t.answer is not None else clip(t.response, width)
            out.append(
                line(
                    "  ",
                    (score, _score_style(t.score)),
                    (f"  {t.role} (agent {t.agent + 1}, r{t.round + 1}): ", "cyan"),
                    (clip(gist, width), "bold"),
                    (f"  {clip(t.critique, width)}" if t.critique else "", "dim"),
                )
            )
        return out

    def memory_line(self) -> Text | None:
        """Experience retrieved from and written to the episodic memory."""
        parts: list[str] = []
        if self.retrieved:
            if self.exemplars:
                best = self.exemplars[0]
                parts.append(f"{len(self.exemplars)} retrieved (best {best.score:.2f}: {clip(best.text, 60)})")
            else:
                parts.append("nothing relevant retrieved")
        if self.written is not None:
            parts.append(f"{len(self.written)} written" if self.written else "nothing written")
        return line(("memory: ", "bold magenta"), ("; ".join(parts), "")) if parts else None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(20, options.max_width - 4)
        parts: list[Text] = [self.header()]
        memory = self.memory_line()
        if memory is not None and not self.compact:
            parts.append(memory)
        if self.planning is not None:
            parts.append(line(("planning roles… ", "yellow"), (tail(self.planning, width - 16), "italic dim")))
        parts += self.agent_lines(width)
        if self.blind_check is not None:
            parts.append(
                line(
                    ("judge's blind check: ", "bold"),
                    (f"its own program printed {clip(self.blind_check, width - 40)}", ""),
                )
            )
        parts += self.shared_lines(width)
        if self.stop:
            parts.append(line(("stopping: ", "yellow"), stop_text(self.stop)))
        if self.verifying is not None:
            parts.append(line(("verifying… ", "yellow"), (tail(self.verifying, width - 11), "italic dim")))
        if self.answer is not None:
            source = f"  ({self.answer_source})" if self.answer_source else ""
            parts.append(line(("answer: ", "bold"), (self.answer or "(none)", "bold green"), (source, "dim")))
        if self.note:
            parts.append(line((self.note, "bold yellow")))
        title = clip(self.title or self.problem, max(10, options.max_width - 8))
        yield Panel(Group(*parts), title=title, title_align="left", border_style="cyan")


@dataclass
class SolutionPanel:
    """The final answer, highlighted, with a summary of the solve."""

    solution: Solution

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        s = self.solution
        totals = s.usage.totals
        answer = Text(s.answer or "(no answer)", style="bold green" if s.answer else "bold red")
        best = s.best
        who = (
            f"{best.role} (agent {best.agent + 1}, round {best.round + 1}, {best.method}"
            + (f", score {best.score:.2f})" if best.score is not None else ")")
            if best
            else "-"
        )
        check = f"checked: {s.check}" if s.checked else "not checked by execution"
        if len(s.tally) > 1:
            check += "; votes " + ", ".join(f"{clip(t.answer, 20)}: {t.votes}" for t in s.tally[:4])
        memory = f"memory: {len(s.exemplars)} retrieved, {len(s.memory_written)} written"
        summary = Text(
            f"{len(s.rounds)} round(s), stopped: {stop_text(s.stop_reason)}; "
            f"{totals.calls} calls, {totals.total_tokens} tokens, ${totals.cost:.4f}, {s.wall_seconds:.1f} s\n"
            f"from: {who}\n{check}\n{memory}",
            style="dim",
        )
        yield Panel(
            Group(answer, summary),
            title="answer",
            title_align="left",
            border_style="green" if s.answer else "red",
        )
