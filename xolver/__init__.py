"""xolver: give any LLM a team and a memory.

    >>> from xolver import Xolver
    >>> Xolver("local").solve("What is 17 * 23?").answer

The public names are imported lazily, so `import xolver` stays fast and pulls in no heavy library
(LangGraph, litellm, chromadb, torch, llama.cpp load only when used).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from xolver._version import __version__

if TYPE_CHECKING:
    from xolver.api import Xolver
    from xolver.config import XolverConfig
    from xolver.errors import (
        BudgetExceeded,
        ConfigError,
        ModelError,
        PermanentModelError,
        TransientModelError,
        UserError,
        XolverError,
    )
    from xolver.solution import Solution

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "ModelError",
    "PermanentModelError",
    "Solution",
    "TransientModelError",
    "UserError",
    "Xolver",
    "XolverConfig",
    "XolverError",
    "__version__",
]

_LAZY = {
    "Xolver": "xolver.api",
    "XolverConfig": "xolver.config",
    "Solution": "xolver.solution",
    "BudgetExceeded": "xolver.errors",
    "ConfigError": "xolver.errors",
    "ModelError": "xolver.errors",
    "PermanentModelError": "xolver.errors",
    "TransientModelError": "xolver.errors",
    "UserError": "xolver.errors",
    "XolverError": "xolver.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xolver' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
