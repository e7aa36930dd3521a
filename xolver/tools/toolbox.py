"""`ToolBox`: the tools of one solve, with their limits.

It owns one `PythonSandbox` (started lazily, on the first snippet an agent writes) and one stateful
session per agent, so an agent's variables persist across its tool calls and rounds within the
solve. Everything is stopped by `aclose` when the solve ends, however it ends.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from xolver.solution import TestOutcome, ToolCall
from xolver.tracing import tool_span

__all__ = ["ToolBox"]

# The agent sees at most this much of a snippet's output: enough for results, not for floods.
OUTPUT_CHARS = 1500


def _last_line(text: str) -> str:
    """The last non-blank line of `text` (a traceback's last line names the error), cut to 300 characters."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else text)[:300]


class ToolBox:
    """Python execution for the agents of one solve.

    Args:
        timeout: wall seconds per snippet.
        max_seconds: total tool seconds per solve; past it, snippets are refused (not run).
    """

    def __init__(self, *, timeout: float = 10.0, max_seconds: float = 60.0) -> None:
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.spent = 0.0
        self._sandbox: Any = None
        self._sessions: dict[int, Any] = {}
        self._lock = asyncio.Lock()

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
        output = result.output or ""
        if len(output) > OUTPUT_CHARS:
            output = output[: OUTPUT_CHARS - 40] + f"\n[... {len(output) - OUTPUT_CHARS + 40} more characters]"
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
