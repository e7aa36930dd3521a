"""Tools agents use to check their steps: a Python sandbox, SymPy/Z3 checks and a Lean checker.

Names are loaded on first access, so ``import xolver.tools`` stays cheap; sympy and z3 are only
ever imported inside the sandbox. The tool-call plumbing (`base.Tool`, `ToolResult`, the
``...CheckTool`` wrappers and their argument models, the Lean JSON parser) stays in its modules:
it is not part of the public API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xolver.tools.checks import CheckResult, sympy_check, z3_check
    from xolver.tools.lean import LeanChecker, LeanDiagnostic, LeanResult
    from xolver.tools.sandbox import (
        ExecutionResult,
        Isolation,
        PythonSandbox,
        SandboxLimits,
        SandboxSession,
        run_python,
    )

__all__ = [
    "CheckResult",
    "ExecutionResult",
    "Isolation",
    "LeanChecker",
    "LeanDiagnostic",
    "LeanResult",
    "PythonSandbox",
    "SandboxLimits",
    "SandboxSession",
    "run_python",
    "sympy_check",
    "z3_check",
]

_WHERE = {
    "CheckResult": "checks",
    "sympy_check": "checks",
    "z3_check": "checks",
    "LeanChecker": "lean",
    "LeanDiagnostic": "lean",
    "LeanResult": "lean",
    "ExecutionResult": "sandbox",
    "Isolation": "sandbox",
    "PythonSandbox": "sandbox",
    "SandboxLimits": "sandbox",
    "SandboxSession": "sandbox",
    "run_python": "sandbox",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xolver.tools' has no attribute {name!r}")
    return getattr(importlib.import_module(f"xolver.tools.{module}"), name)
