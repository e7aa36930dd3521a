"""What the chat draws besides the team views: the banner, error panels, the ``/help`` and
``/memory`` tables, and a solve as it runs (a live `SolveView` on a terminal, plain lines elsewhere)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from xolver.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from xolver.events import Event
    from xolver.memory.base import MemoryStats
    from xolver.memory.records import ScoredRecord
    from xolver.solution import Solution
    from xolver.ui.progress import SolveView

__all__ = ["banner", "error_panel", "help_table", "memory_hit_lines", "memory_stats_table", "show_solve"]


def banner(status: str, memory_label: str) -> Text:
    """The first lines of a session: what it runs on and how to use it."""
    return Text.assemble(
        ("xolver chat", "bold cyan"),
        f"  {status}\nmemory: {memory_label}\n",
        ("Enter on an empty line or Alt-Enter sends; /help lists commands; Ctrl-D leaves.", "dim"),
    )


def error_panel(title: str, message: str, hint: str) -> Panel:
    """A failed solve: what went wrong, and (dimmed) what the user can do."""
    body = Text(message)
    if hint:
        body.append(f"\n{hint}", style="dim")
    return Panel(body, title=title, title_align="left", border_style="red")


def help_table(entries: Sequence[tuple[str, str]]) -> Table:
    """The ``/help`` list: each usage and what it does."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for usage, what in entries:
        table.add_row(escape(usage), what)
    return table


def memory_stats_table(label: str, namespace: str, total: int, stats: MemoryStats) -> Table:
    """``/memory stats``: the store, its records in `namespace`, and its counts by kind, domain, source."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("memory", label)
    table.add_row(f"records in {namespace!r}", str(total))
    for group, counts in (("kind", stats.by_kind), ("domain", stats.by_domain), ("source", stats.by_source)):
        for value, count in counts.items():
            if count:
                table.add_row(group, f"{value}: {count}")
    if stats.embedder:
        table.add_row("embedder", stats.embedder)
    return table


def memory_hit_lines(hits: Sequence[ScoredRecord], width: int) -> list[Text]:
    """``/memory search``: one line per hit (score, kind, text clipped to `width`, answer)."""
    from xolver._text import clip

    lines = []
    for i, hit in enumerate(hits, start=1):
        r = hit.record
        answer = f"  → {clip(r.answer, 40)}" if r.answer else ""
        lines.append(
            Text.assemble(
                (f"{i}. {hit.score:.3f} ", "bold"),
                (f"[{r.kind}] ", "magenta"),
                clip(r.text, width),
                (answer, "green"),
            )
        )
    return lines


async def show_solve(console: Console, events: AsyncIterator[Event], view: SolveView, *, live: bool) -> Solution:
    """Feed a solve's `events` to `view` and return its solution.

    With `live`, the view is redrawn in place while the solve runs (and removed at the end, for
    the caller to print its final state); otherwise each event is printed as one plain line.

    Raises:
        UserError: the events ended without a solution.
    """
    from xolver.ui.log import EventLine

    solution: Solution | None = None
    if live:
        from rich.live import Live

        with Live(view, console=console, refresh_per_second=8, transient=True):
            async for event in events:
                solution = view.consume(event) or solution
    else:
        async for event in events:
            solution = view.consume(event) or solution
            console.print(EventLine(event))
    if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
        raise UserError("the solve ended without a solution")
    return solution
