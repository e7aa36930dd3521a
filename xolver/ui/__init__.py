"""Terminal rendering: rich renderables fed by solve events."""

from xolver.ui.progress import SolutionPanel, SolveView

__all__ = ["SolutionPanel", "SolveView"]
