"""Terminal rendering: rich renderables fed by solve events, and the `xolver chat` session.

Names load on first use, so the CLI can register ``xolver chat`` without importing the views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from xolver.ui.chat import ChatSession
    from xolver.ui.progress import SolutionPanel, SolveView

__all__ = ["ChatSession", "SolutionPanel", "SolveView"]

_WHERE = {"ChatSession": "xolver.ui.chat", "SolutionPanel": "xolver.ui.progress", "SolveView": "xolver.ui.progress"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'xolver.ui' has no attribute {name!r}")
