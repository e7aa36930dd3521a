"""Tools agents use to check their steps: a Python sandbox, SymPy/Z3 checks and a Lean checker.

Names are loaded on first access, so ``import xolver.tools`` stays cheap; sympy and z3 are only
ever imported inside the sandbox.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xolver.tools.base import Tool, ToolResult
    from xolver.tools.checks import (
        CheckResult,
        SympyCheckArgs,
        SympyCheckTool,
        Z3CheckArgs,
        Z3CheckTool,
        sympy_check,
        z3_check,
    )
    from xolver.tools.lean import LeanCheckArgs, LeanChecker, LeanDiagnostic, LeanResult, parse_lean_json
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
    "LeanCheckArgs",
    "LeanChecker",
    "LeanDiagnostic",
    "LeanResult",
    "PythonSandbox",
    "SandboxLimits",
    "SandboxSession",
    "SympyCheckArgs",
    "SympyCheckTool",
    "Tool",
    "ToolResult",
    "Z3CheckArgs",
    "Z3CheckTool",
    "parse_lean_json",
    "run_python",
    "sympy_check",
    "z3_check",
]

_WHERE = {
    "Tool": "base",
    "ToolResult": "base",
    "CheckResult": "checks",
    "SympyCheckArgs": "checks",
    "SympyCheckTool": "checks",
    "Z3CheckArgs": "checks",
    "Z3CheckTool": "checks",
    "sympy_check": "checks",
    "z3_check": "checks",
    "LeanCheckArgs": "lean",
    "LeanChecker": "lean",
    "LeanDiagnostic": "lean",
    "LeanResult": "lean",
    "parse_lean_json": "lean",
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
