"""The live line of ``xolver batch``: done/total, calls, tokens, cost, elapsed and ETA."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from xolver.batch.records import BatchItem, BatchProgress

__all__ = ["BatchProgressLine"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class BatchProgressLine:
    """One live line (and the last problem finished), rendered from a `BatchProgress`."""

    def __init__(self, progress: BatchProgress, *, label: str = "") -> None:
        self.progress = progress
        self.label = label
        self.last: BatchItem | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        p = self.progress
        width = 24
        filled = int(width * p.done / p.total) if p.total else width
        text = Text()
        if self.label:
            text.append(f"{self.label} ", style="bold")
        text.append("━" * filled, style="green")
        text.append("━" * (width - filled), style="grey37")
        text.append(f" {p.done}/{p.total}", style="bold")
        text.append(f"  calls {p.calls:,}  tokens {p.tokens:,}  ${p.cost:.4f}")
        text.append(f"  {_duration(p.elapsed)} elapsed  ETA {_duration(p.eta)}", style="dim")
        if p.errors:
            text.append(f"  {p.errors} errors", style="red")
        if self.last is not None:
            last = self.last
            answer = last.solution.answer if last.solution else ""
            shown = f"answer={answer[:40]!r}" if last.error is None else "error"
            text.append(f"\nlast: {last.id} {shown}", style="dim")
        yield text
