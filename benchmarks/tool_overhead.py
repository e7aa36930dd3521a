"""Tool-call overhead per call, native (function calling) vs fenced blocks, with a zero-latency model.

A one-agent solve (reasoning seat, no rounds after the first, no blind check, no memory) where the
model asks for one Python run, natively or in a fenced block, then answers; and the same solve with
no tool call. The difference is what one tool call costs the framework (the sandbox snippet
included). Also timed: `ToolBox.call` of a pure-Python user tool (dispatch and validation only).

    nice -n 19 python benchmarks/tool_overhead.py [--solves 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from xolver import Xolver
from xolver.models.base import ModelRequest, ModelResponse
from xolver.models.testing import FunctionModel, tool_call
from xolver.tools.registry import function_tool
from xolver.tools.toolbox import ToolBox

PLAN = "Roles:\n1. Calculator - computes\nChosen: 1"
FINAL = "Thought: it printed 391.\nFinal answer: \\boxed{391}"


def model(kind: str) -> FunctionModel:
    def answer(request: ModelRequest) -> str | ModelResponse:
        if request.tags.role == "planner":
            return PLAN
        if request.tags.purpose != "answer":
            return FINAL
        if kind == "native":
            return tool_call("python", code="print(17 * 23)")
        if kind == "fenced":
            return "Thought: let me compute it.\n```python\nprint(17 * 23)\n```"
        return FINAL

    return FunctionModel(answer, function_calling=kind == "native")


def time_solves(kind: str, solves: int) -> list[float]:
    xo = Xolver(model(kind), agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None)
    xo.solve("What is 17 * 23?")  # warm-up: imports, graph compile
    seconds = []
    for _ in range(solves):
        started = time.perf_counter()
        solution = xo.solve("What is 17 * 23?")
        seconds.append(time.perf_counter() - started)
        assert solution.answer == "391", solution.answer
    return seconds


@function_tool
def add(a: int, b: int) -> int:
    """a + b."""
    return a + b


async def time_dispatch(calls: int) -> list[float]:
    box = ToolBox(tools=[add])
    seconds = []
    for i in range(calls):
        started = time.perf_counter()
        call = await box.call(0, "add", f'{{"a": {i}, "b": 1}}')
        seconds.append(time.perf_counter() - started)
        assert call.ok and call.output == str(i + 1)
    await box.aclose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--solves", type=int, default=20)
    args = parser.parse_args()
    base = statistics.median(time_solves("none", args.solves))
    rows = []
    for kind in ("native", "fenced"):
        median = statistics.median(time_solves(kind, args.solves))
        rows.append((kind, median, median - base))
    dispatch = statistics.median(asyncio.run(time_dispatch(200)))
    print("| path | median solve (s) | overhead of one tool call (ms) |\n|---|---|---|")
    print(f"| no tool call | {base:.3f} | - |")
    for kind, median, extra in rows:
        print(f"| {kind} python call | {median:.3f} | {extra * 1000:.0f} |")
    print(f"\nToolBox.call dispatch of a pure-Python user tool: median {dispatch * 1e6:.0f} us over 200 calls")


if __name__ == "__main__":
    main()
