"""Summaries of eval runs (accuracy with a Wilson interval, cost per problem) and their rich renderables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from xolver.eval.runner import EvalProgress, ProblemResult, RunConfig

__all__ = ["ProgressLine", "ResultsTable", "RunSummary", "summarize", "wilson_interval"]


def wilson_interval(successes: int, n: int, *, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 0) when n is 0."""
    if n <= 0:
        return 0.0, 0.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class RunSummary:
    """What the end-of-run table shows for one run."""

    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    mean_score: float
    mean_calls: float
    mean_tokens: float
    mean_cost: float
    mean_seconds: float
    errors: int
    mean_attempts: float = 0.0  # prove: candidates Lean checked per theorem


def summarize(results: Sequence[ProblemResult]) -> RunSummary:
    """Totals and means over `results`."""
    n = len(results)
    correct = sum(r.correct for r in results)
    low, high = wilson_interval(correct, n)

    def mean(values: Sequence[float]) -> float:
        return sum(values) / n if n else 0.0

    return RunSummary(
        n=n,
        correct=correct,
        accuracy=correct / n if n else 0.0,
        ci_low=low,
        ci_high=high,
        mean_score=mean([r.score for r in results]),
        mean_calls=mean([r.calls for r in results]),
        mean_tokens=mean([r.tokens for r in results]),
        mean_cost=mean([r.cost for r in results]),
        mean_seconds=mean([r.wall_seconds for r in results]),
        errors=sum(r.error is not None for r in results),
        mean_attempts=mean([float(r.attempts or 0) for r in results]),
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _team(config: RunConfig) -> str:
    if config.method == "xolver":
        return f"m={config.agents} I={config.rounds} memory={config.memory_mode}"
    if config.method == "self-consistency":
        return f"samples={config.samples}"
    if config.method == "prove":
        cap = f", max {config.max_calls} calls" if config.max_calls else ""
        return f"prover: {config.max_attempts} model attempts{cap}"
    return "1 call"


class ResultsTable:
    """Runs side by side: one column per run, one row per measure (the end table and `eval report`)."""

    def __init__(self, runs: Sequence[tuple[str, RunConfig, Sequence[ProblemResult]]]) -> None:
        self.runs = [(label, config, summarize(results)) for label, config, results in runs]

    def rows(self) -> list[tuple[str, list[str]]]:
        """The table as text: (measure, one value per run)."""
        out: list[tuple[str, list[str]]] = []

        def row(name: str, values: list[str]) -> None:
            out.append((name, values))

        row("method", [c.method for _, c, _ in self.runs])
        row("dataset", [c.dataset for _, c, _ in self.runs])
        row("problems", [f"{s.n}" + (f" ({s.errors} errors)" if s.errors else "") for _, _, s in self.runs])
        row(
            "accuracy [95% CI]",
            [f"{s.accuracy:.1%} ({s.correct}/{s.n}) [{s.ci_low:.1%}, {s.ci_high:.1%}]" for _, _, s in self.runs],
        )
        if any(c.dataset in {"humaneval", "mbpp", "apps"} for _, c, _ in self.runs):
            row("mean test score", [f"{s.mean_score:.1%}" for _, _, s in self.runs])
        if any(c.method == "prove" for _, c, _ in self.runs):
            row(
                "pass@budget (proved/attempted)",
                [f"{s.correct}/{s.n}" if c.method == "prove" else "-" for _, c, s in self.runs],
            )
            row(
                "Lean checks / theorem",
                [f"{s.mean_attempts:.2f}" if c.method == "prove" else "-" for _, c, s in self.runs],
            )
        row("calls / problem", [f"{s.mean_calls:.2f}" for _, _, s in self.runs])
        row("tokens / problem", [f"{s.mean_tokens:,.0f}" for _, _, s in self.runs])
        row("cost / problem", [f"${s.mean_cost:.5f}" for _, _, s in self.runs])
        row("wall s / problem", [f"{s.mean_seconds:.1f}" for _, _, s in self.runs])
        row("model", [c.model for _, c, _ in self.runs])
        row("team", [_team(c) for _, c, _ in self.runs])
        row("temperature / seed", [f"{c.temperature:g} / {c.seed}" for _, c, _ in self.runs])
        row("max tokens", [str(c.max_tokens or "default") for _, c, _ in self.runs])
        row("dataset sha256", [c.dataset_sha256[:16] for _, c, _ in self.runs])
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(title="xolver eval", show_lines=False, header_style="bold")
        table.add_column("", style="bold")
        for label, _, _ in self.runs:
            table.add_column(label, overflow="fold")
        for name, values in self.rows():
            table.add_row(name, *values)
        yield table


class ProgressLine:
    """One live line: done/total, running accuracy, calls, tokens, cost, elapsed and ETA."""

    def __init__(self, progress: EvalProgress, *, label: str = "") -> None:
        self.progress = progress
        self.label = label
        self.last: ProblemResult | None = None

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
        text.append(f"  acc {p.accuracy:.1%}", style="cyan")
        text.append(f"  calls {p.calls:,}  tokens {p.tokens:,}  ${p.cost:.4f}")
        text.append(f"  {_duration(p.elapsed)} elapsed  ETA {_duration(p.eta)}", style="dim")
        if p.errors:
            text.append(f"  {p.errors} errors", style="red")
        if self.last is not None:
            mark = "✓" if self.last.correct else "✗"
            text.append(f"\nlast: {self.last.id} {mark} answer={(self.last.answer or '')[:40]!r}", style="dim")
        yield text
