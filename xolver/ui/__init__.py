"""Terminal rendering: rich renderables fed by solve events, and the `xolver chat` session."""

from xolver.ui.progress import SolutionPanel, SolveView

__all__ = ["SolutionPanel", "SolveView"]
