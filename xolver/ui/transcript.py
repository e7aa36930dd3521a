"""What a chat session keeps: its turns, and the views of them (`/trace`, `/cost`, `/save FILE.md`)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from xolver._text import clip, stop_text
from xolver.solution import Solution, Trajectory

__all__ = ["CostView", "TraceView", "Turn", "transcript_markdown"]


@dataclass
class Turn:
    """One question of a chat and what became of it.

    Attributes:
        question: what the user typed.
        solution: the solution, when the solve finished.
        outcome: "answered", "cancelled" or "error".
        detail: the error message, or what a cancelled solve had done.
    """

    question: str
    solution: Solution | None = None
    outcome: str = "answered"
    detail: str = ""


def _trajectory(t: Trajectory) -> RenderableType:
    score = "not judged" if t.score is None else f"score {t.score:.2f}"
    head = Text.assemble((f"agent {t.agent + 1} · {t.role} · ", "bold cyan"), (score, "bold"))
    body: list[RenderableType] = [head]
    if t.thought:
        body.append(Text.assemble(("thought: ", "dim"), t.thought.strip()))
    if t.response:
        body.append(Text.assemble(("response: ", "dim"), t.response.strip()))
    body.append(Text.assemble(("answer: ", "dim"), (t.answer if t.answer is not None else "(none)", "bold")))
    if t.critique:
        body.append(Text.assemble(("judge: ", "dim"), t.critique.strip()))
    if t.error:
        body.append(Text.assemble(("error: ", "red"), t.error))
    return Group(*body, Text(""))


@dataclass
class TraceView:
    """The full trajectory of a solve: roles, experience, every round, the shared memory, usage."""

    solution: Solution

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        s = self.solution
        yield Text.assemble(("problem: ", "bold"), s.problem)
        roles = Table("#", "role", "why", box=None, header_style="bold", expand=False)
        for i, r in enumerate(s.roles):
            roles.add_row(str(i + 1), r.name + (" (padded)" if r.padded else ""), r.reason)
        yield roles
        if s.exemplars:
            yield Text(f"experience retrieved ({len(s.exemplars)}):", style="bold magenta")
            for e in s.exemplars:
                yield Text(f"  {e.score:.2f} [{e.kind}] {clip(e.text, options.max_width - 16)}")
        for rnd in s.rounds:
            yield Rule(f"round {rnd.index + 1}", align="left")
            for t in rnd.trajectories:
                yield _trajectory(t)
            if rnd.shared_memory:
                yield Text("shared memory after the round:", style="bold")
                for t in rnd.shared_memory:
                    score = "-" if t.score is None else f"{t.score:.2f}"
                    yield Text(f"  {score} {t.role} (agent {t.agent + 1}, round {t.round + 1}): {t.answer}")
        yield Rule()
        yield Text(f"stopped: {stop_text(s.stop_reason)}")
        yield Text.assemble(("answer: ", "bold"), (s.answer or "(none)", "bold green"), f" ({s.answer_source})")
        yield Text(f"checked: {s.check}" if s.checked else "not checked by execution", style="dim")
        if s.failures:
            yield Text(f"survived {len(s.failures)} failure(s): {clip(s.failures[-1], 200)}", style="yellow")
        if s.memory_written:
            yield Text(f"memory written: {', '.join(s.memory_written)}", style="magenta")
        yield CostView([Turn(question=s.problem, solution=s)], by_role=True)


@dataclass
class CostView:
    """Calls, tokens, cost and time per turn and in total; by role for the last solve."""

    turns: list[Turn]
    by_role: bool = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        solved = [(i, t) for i, t in enumerate(self.turns, start=1) if t.solution is not None]
        if not solved:
            yield Text("no solves yet")
            return
        table = Table(box=None, header_style="bold", expand=False)
        for name in ("#", "question", "calls", "tokens", "cost", "time"):
            table.add_column(name, justify="left" if name == "question" else "right", no_wrap=name != "question")
        calls = tokens = 0
        cost = seconds = 0.0
        width = max(12, options.max_width - 40)
        for i, turn in solved:
            assert turn.solution is not None
            s = turn.solution
            totals = s.usage.totals
            calls, tokens = calls + totals.calls, tokens + totals.total_tokens
            cost, seconds = cost + totals.cost, seconds + s.wall_seconds
            table.add_row(
                str(i),
                escape(clip(turn.question, width)),
                str(totals.calls),
                str(totals.total_tokens),
                f"${totals.cost:.4f}",
                f"{s.wall_seconds:.1f} s",
            )
        if len(solved) > 1:
            table.add_row("", "total", str(calls), str(tokens), f"${cost:.4f}", f"{seconds:.1f} s", style="bold")
        yield table
        last = solved[-1][1].solution
        if self.by_role and last is not None and last.usage.calls:
            roles = Table("role", "calls", "prompt", "completion", "cost", box=None, header_style="bold")
            for role, t in last.usage.by_role().items():
                roles.add_row(role, str(t.calls), str(t.prompt_tokens), str(t.completion_tokens), f"${t.cost:.4f}")
            yield Panel(roles, title="last solve by role", title_align="left", expand=False)


def transcript_markdown(turns: list[Turn], *, model: str = "") -> str:
    """The conversation as Markdown: each question, its answer, the team and the cost."""
    out = ["# xolver chat transcript", ""]
    if model:
        out += [f"Model: `{model}`", ""]
    for i, turn in enumerate(turns, start=1):
        out += [f"## {i}. {turn.question.splitlines()[0] if turn.question.strip() else '(empty)'}", ""]
        if turn.question.count("\n"):
            out += ["```text", turn.question, "```", ""]
        s = turn.solution
        if s is None:
            out += [f"*{turn.outcome}*" + (f": {turn.detail}" if turn.detail else ""), ""]
            continue
        out += [f"**Answer:** {s.answer or '(no answer)'}", ""]
        if s.roles:
            out += ["Team: " + ", ".join(r.name for r in s.roles), ""]
        for rnd in s.rounds:
            out.append(f"- Round {rnd.index + 1}:")
            for t in rnd.trajectories:
                score = "-" if t.score is None else f"{t.score:.2f}"
                critique = f" — {clip(t.critique, 200)}" if t.critique else ""
                out.append(f"  - {t.role} (agent {t.agent + 1}, {t.method}): `{t.answer}` score {score}{critique}")
        totals = s.usage.totals
        out += [
            "",
            f"Stopped: {stop_text(s.stop_reason)}. "
            + (f"Checked: {s.check}. " if s.checked else "Not checked by execution. ")
            + f"{totals.calls} calls, {totals.total_tokens} tokens, ${totals.cost:.4f}, {s.wall_seconds:.1f} s.",
            "",
        ]
    return "\n".join(out)
