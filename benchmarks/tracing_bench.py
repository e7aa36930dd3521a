"""Tracing overhead: framework CPU per solve with spans off and with every span sent to an in-memory exporter.

A scripted model (no latency, no network) answers so that agents disagree and every round runs, the
sandbox is off (its worker processes would dominate the CPU), and the memory is off: what is left is
xolver's own work per solve (the graph, the runner, the ledger) and, with tracing, the spans.

    nice -n 19 python benchmarks/tracing_bench.py --solves 30
"""

from __future__ import annotations

import argparse
import statistics
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from xolver import Xolver, tracing
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel

PLAN = "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\nSelected: 1, 2, 3"


def _reply(request: ModelRequest) -> str:
    if request.tags.role == "planner":
        return PLAN
    if request.tags.role == "judge":
        return "Critique: plausible\nScore: 0.5"
    # Each agent answers differently, so no round agrees and every round runs.
    return f"Thought: work\nResponse: it is {request.tags.agent}\nFinal answer: \\boxed{{{request.tags.agent}}}"


def _cpu_per_solve(solves: int) -> tuple[list[float], int]:
    xo = Xolver(FunctionModel(_reply), agents=3, rounds=2, memory=None, python_tool=False, distill=False)
    xo.solve("warm-up")
    cpus, calls = [], 0
    for i in range(solves):
        started = time.process_time()
        solution = xo.solve(f"What is {i} + 1?")
        cpus.append(time.process_time() - started)
        calls = solution.usage.totals.calls
    xo.close()
    return cpus, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solves", type=int, default=30)
    args = parser.parse_args()

    tracing.disable()
    off, calls = _cpu_per_solve(args.solves)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    on, _ = _cpu_per_solve(args.solves)
    spans = len(exporter.get_finished_spans()) / (args.solves + 1)
    tracing.reset()

    off_ms, on_ms = statistics.median(off) * 1000, statistics.median(on) * 1000
    print(f"solves: {args.solves} each; model calls per solve: {calls}; spans per solve: {spans:.0f}")
    print("| tracing | framework CPU per solve (median) | mean |")
    print("|---|---|---|")
    print(f"| off | {off_ms:.1f} ms | {statistics.mean(off) * 1000:.1f} ms |")
    print(f"| in-memory exporter | {on_ms:.1f} ms | {statistics.mean(on) * 1000:.1f} ms |")
    print(f"overhead: {on_ms - off_ms:+.1f} ms per solve ({(on_ms - off_ms) / off_ms:+.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
