"""Plain-text lines for solve events: what `xolver chat` prints when its output is not a terminal.

A pipe or a log file gets one short line per meaningful event (each event's own `describe`), with
the details a log keeps under it, no live redrawing and no control codes; token streams and
individual model calls are left out (their sums appear in the last line's details).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from xolver.events import Event

__all__ = ["EventLine", "event_text"]


def event_text(event: Event, width: int = 80) -> list[str]:
    """The lines that describe `event` in a plain log, fitted to `width` (none for tokens and calls)."""
    line = event.describe(width)
    return [] if line is None else [line, *event.details(width)]


@dataclass
class EventLine:
    """One event as plain log lines (renders nothing for events a log leaves out)."""

    event: Event

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for text in event_text(self.event, options.max_width):
            yield Text(text, no_wrap=False)
