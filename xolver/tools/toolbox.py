"""`ToolBox`: the tools of one solve, with their limits.

It owns one `PythonSandbox` (started lazily, on the first snippet an agent writes) and one stateful
session per agent, so an agent's variables persist across its tool calls and rounds within the
solve. Everything is stopped by `aclose` when the solve ends, however it ends.

`call` is the one dispatcher: a fenced block and a native tool call both arrive there by tool name
(``python``, ``sympy_check``, ``z3_check``, ``lean_check`` when a Lean checker is given, and the
user's own tools), are validated against the tool's arguments model, share the per-snippet timeout
and the per-solve tool-time budget, and come back as one `ToolCall` record.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from xolver.errors import UserError
from xolver.models.base import ToolSpec
from xolver.solution import TestOutcome, ToolCall
from xolver.tools.base import Tool, ToolResult
from xolver.tools.registry import PythonArgs, run_with_timeout, tool_spec
from xolver.tracing import tool_span

__all__ = ["ToolBox"]

# The agent sees at most this much of a snippet's output: enough for results, not for floods.
OUTPUT_CHARS = 1500


def _last_line(text: str) -> str:
    """The last non-blank line of `text` (a traceback's last line names the error), cut to 300 characters."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else text)[:300]


BUILTIN_TOOLS = ("python", "sympy_check", "z3_check", "lean_check")


def _fit(output: str) -> str:
    if len(output) > OUTPUT_CHARS:
        return output[: OUTPUT_CHARS - 40] + f"\n[... {len(output) - OUTPUT_CHARS + 40} more characters]"
    return output


class ToolBox:
    """The tools of one solve: Python execution per agent, symbolic checks, Lean, the user's tools.

    Args:
        timeout: wall seconds per snippet (and per call of any other tool but Lean).
        max_seconds: total tool seconds per solve; past it, calls are refused (not run).
        tools: the user's own tools (`xolver.tools.base.Tool`), by their names.
        lean: the Lean checker behind ``lean_check`` (none: that tool is not offered).
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_seconds: float = 60.0,
        tools: Sequence[Tool[Any]] = (),
        lean: Tool[Any] | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.spent = 0.0
        self._sandbox: Any = None
        self._sessions: dict[int, Any] = {}
        self._lock = asyncio.Lock()
        self.lean = lean
        self._user: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in BUILTIN_TOOLS or tool.name in self._user:
                raise UserError(f"tool name {tool.name!r} is taken: give each tool its own name")
            self._user[tool.name] = tool

    @property
    def names(self) -> tuple[str, ...]:
        """Every tool this box can run."""
        builtin = [n for n in BUILTIN_TOOLS if n != "lean_check" or self.lean is not None]
        return (*builtin, *self._user)

    def specs(self, names: Sequence[str] | None = None) -> tuple[ToolSpec, ...]:
        """Native tool definitions of `names` (default: every tool), in that order.

        Raises:
            UserError: a name is not a tool of this box.
        """
        return tuple(tool_spec(self._tool(name)) for name in (names if names is not None else self.names))

    def _tool(self, name: str) -> Tool[Any]:
        from xolver.tools.checks import SympyCheckTool, Z3CheckTool

        if name == "python":
            return _PythonTool()
        if name == "sympy_check":
            return SympyCheckTool(self._sandbox, timeout=self.timeout)
        if name == "z3_check":
            return Z3CheckTool(self._sandbox, timeout=self.timeout)
        if name == "lean_check" and self.lean is not None:
            return self.lean
        if name in self._user:
            return self._user[name]
        raise UserError(f"unknown tool {name!r}; this solve has {', '.join(self.names)}")

    async def call(
        self,
        agent: int,
        name: str,
        arguments: str | Mapping[str, Any] | BaseModel,
        *,
        via: Literal["fenced", "native"] = "native",
    ) -> ToolCall:
        """Run tool `name` for `agent` with `arguments` (JSON text, a mapping or the args model).

        Everything a model can get wrong (an unknown tool, arguments that are not JSON or do not
        validate, a spent budget, a tool that fails) comes back as a `ToolCall` with ``ok=False``
        and a one-line error, for the model to read.
        """
        text = arguments if isinstance(arguments, str) else _as_json(arguments)
        try:
            tool = self._tool(name)
        except UserError as e:
            return ToolCall(tool=name, input=text, ok=False, error=str(e), via=via)
        try:
            if isinstance(arguments, BaseModel):
                args = tool.args_model.model_validate(arguments.model_dump())
            elif isinstance(arguments, str):
                args = tool.args_model.model_validate_json(arguments or "{}")
            else:
                args = tool.args_model.model_validate(dict(arguments))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "arguments"
            error = f"invalid arguments for {name}: {where}: {first.get('msg', 'invalid')}"
            return ToolCall(tool=name, input=text, ok=False, error=error, via=via)
        if isinstance(args, PythonArgs):
            call = await self.run_python(agent, args.code)
            return call.model_copy(update={"via": via})
        remaining = self.max_seconds - self.spent
        if remaining <= 0:
            error = f"tool time budget of {self.max_seconds:g} s spent"
            return ToolCall(tool=name, input=text, ok=False, error=error, via=via)
        if name in ("sympy_check", "z3_check"):
            await self._ensure_sandbox()
            tool = self._tool(name)
        started = time.monotonic()
        with tool_span(name, agent=agent) as span:
            limit = remaining if name == "lean_check" else min(self.timeout, remaining)
            try:
                result = await run_with_timeout(tool.run(args), limit)
            except Exception as e:  # a user's tool that raises is a failed call, not a failed solve
                result = ToolResult(ok=False, error=f"{type(e).__name__}: {e}")
            if span is not None:
                span.set_attribute("xolver.ok", bool(result.ok))
        seconds = time.monotonic() - started
        self.spent += seconds
        return ToolCall(
            tool=name,
            input=text,
            output=_fit(result.output),
            ok=result.ok,
            error=result.error,
            seconds=round(seconds, 4),
            via=via,
        )

    async def run_python(self, agent: int, code: str) -> ToolCall:
        """Run `code` in `agent`'s session; failures come back as a `ToolCall` with ``ok=False``."""
        remaining = self.max_seconds - self.spent
        if remaining <= 0:
            return ToolCall(
                tool="python", input=code, ok=False, error=f"tool time budget of {self.max_seconds:g} s spent"
            )
        session = await self._session(agent)
        started = time.monotonic()
        with tool_span("python", agent=agent) as span:
            result = await session.run(code, timeout=min(self.timeout, remaining))
            if span is not None:
                span.set_attribute("xolver.ok", bool(result.ok))
        seconds = time.monotonic() - started
        self.spent += seconds
        output = _fit(result.output or "")
        return ToolCall(
            tool="python", input=code, output=output, ok=result.ok, error=result.error, seconds=round(seconds, 4)
        )

    async def run_tests(self, code: str, tests: list[str], *, synthesized: int = 0) -> list[TestOutcome]:
        """Run `code` followed by each test in a fresh sandbox worker; one outcome per test.

        The last `synthesized` tests are marked as synthesized (written by the model, not given).
        """

        async def one(index: int, test: str) -> TestOutcome:
            sandbox = await self._ensure_sandbox()
            with tool_span("python_test", test=index) as span:
                result = await sandbox.run(f"{code}\n\n{test}\n", timeout=self.timeout)
                if span is not None:
                    span.set_attribute("xolver.ok", bool(result.ok))
            error = None if result.ok else _last_line(result.error or result.output or "failed")
            return TestOutcome(test=test, passed=result.ok, error=error, synthesized=index >= len(tests) - synthesized)

        gate = asyncio.Semaphore(2)

        async def gated(index: int, test: str) -> TestOutcome:
            async with gate:
                return await one(index, test)

        return list(await asyncio.gather(*(gated(i, t) for i, t in enumerate(tests))))

    async def check_substitution(self, equation: str, variable: str, value: str) -> Any:
        """`sympy_check` of `variable = value` in `equation`, in this solve's sandbox (a `CheckResult`)."""
        from xolver.tools.checks import sympy_check

        sandbox = await self._ensure_sandbox()
        with tool_span("sympy_check"):
            return await sympy_check(equation, values={variable: value}, timeout=self.timeout, sandbox=sandbox)

    async def _ensure_sandbox(self) -> Any:
        async with self._lock:
            if self._sandbox is None:
                from xolver.tools.sandbox import PythonSandbox

                self._sandbox = PythonSandbox(pool_size=1)
            return self._sandbox

    async def _session(self, agent: int) -> Any:
        async with self._lock:
            if self._sandbox is None:
                from xolver.tools.sandbox import PythonSandbox

                self._sandbox = PythonSandbox(pool_size=1)
            if agent not in self._sessions:
                self._sessions[agent] = self._sandbox.session()
            return self._sessions[agent]

    async def aclose(self) -> None:
        """Stop every session and worker this solve started."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await sandbox.aclose()


def _as_json(arguments: Mapping[str, Any] | BaseModel) -> str:
    data = arguments.model_dump() if isinstance(arguments, BaseModel) else dict(arguments)
    return json.dumps(data, ensure_ascii=False, default=str)


class _PythonTool:
    """The ``python`` tool's definition (its calls are run by `ToolBox.run_python`, in the agent's session)."""

    name = "python"
    description = (
        "Run Python in your own stateful sandbox session (variables persist between calls; sympy and z3 "
        "are installed). Returns what the code printed, or its error."
    )
    args_model = PythonArgs

    async def run(self, args: PythonArgs) -> ToolResult:  # pragma: no cover - dispatched by ToolBox.call
        raise NotImplementedError("the python tool runs through ToolBox.run_python")
