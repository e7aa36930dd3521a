"""Orchestration efficiency: wall time of a solve against the critical path of its model calls.

A `FunctionModel` sleeps L seconds on every call, so a perfect orchestrator finishes a solve in
(longest chain of dependent calls) x L. The chain is counted from the solve's own call ledger: the
planner, then per round the longest chain of one agent's calls (agents run in parallel) and of one
judge opinion's calls, then every other call (the blind check, the verifier) in sequence. Program
seats get a program, reasoning seats a chain of thought, all with the same answer; early stopping
is off, so every round runs. A zero-latency run measures the framework's own CPU time per solve.

    python benchmarks/orchestration_bench.py --write-docs
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from pathlib import Path

from _machine import LoadSampler, describe_machine, machine_facts

from xolver.api import Xolver
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.solution import Solution

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- orchestration:start -->", "<!-- orchestration:end -->"

PLAN = (
    "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\n4. Estimator: estimates\n"
    "Selected: 1, 2, 3"
)
REPLIES = {
    "planner": PLAN,
    "solver": "Thought: 17 * 23 = 391\nResponse: the product is 391\nFinal answer: \\boxed{391}",
    "judge": "Critique: plausible, not yet checked\nScore: 0.5",
    "verifier": "Final answer: \\boxed{391}",
}


PROGRAM = "Thought: multiply\n```python\nprint(17 * 23)\n```"


def model(latency: float) -> FunctionModel:
    async def answer(request: ModelRequest) -> str:
        if latency:
            await asyncio.sleep(latency)
        system = request.messages[0].content if request.messages else ""
        if request.tags.purpose.startswith("blind_check") or (
            request.tags.role == "solver" and "Python program" in system
        ):
            return PROGRAM
        return REPLIES.get(request.tags.role, "ok")

    return FunctionModel(answer, name=f"sleep-{latency:g}s")


def critical_calls(solution: Solution) -> int:
    """Longest chain of dependent calls, from the ledger (parallel agents share a level)."""
    levels = 0
    per_branch: Counter[tuple[str, int | None, int | None]] = Counter()
    for call in solution.usage.calls:
        if call.role in {"solver", "judge"} and call.agent is not None:
            per_branch[(call.role, call.round, call.agent)] += 1  # one agent's calls follow each other
        else:
            levels += 1  # planner, blind check, verifier, memory calls: each waits for the previous
    longest: dict[tuple[str, int | None], int] = {}
    for (role, round_index, _agent), count in per_branch.items():
        longest[(role, round_index)] = max(longest.get((role, round_index), 0), count)
    return levels + sum(longest.values())


async def timed_solves(xo: Xolver, count: int) -> tuple[list[float], list[float], list[Solution]]:
    walls, cpus, solutions = [], [], []
    for _ in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        solution = await xo.asolve("What is 17 * 23?")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        solutions.append(solution)
    return walls, cpus, solutions


async def measure(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    rows = []
    for agents, rounds in [(1, 0), (3, 0), (3, 2), (5, 2)]:
        with Xolver(
            model(args.latency), agents=agents, rounds=rounds, memory_mode="off", early_stop=False, temperature=0.2
        ) as xo:
            await timed_solves(xo, 1)  # warm-up: graph compile, imports
            walls, _, solutions = await timed_solves(xo, args.repeats)
        chain = critical_calls(solutions[0])
        calls = solutions[0].usage.totals.calls
        ratio = statistics.median(walls) / (chain * args.latency)
        rows.append(
            f"| {agents} | {rounds} | {calls} | {chain} | {chain * args.latency:.2f} | "
            f"{statistics.median(walls):.3f} | **{ratio:.3f}** |"
        )
    cpu_rows = []
    for agents, rounds in [(1, 0), (3, 2)]:
        with Xolver(model(0.0), agents=agents, rounds=rounds, memory_mode="off", early_stop=False) as xo:
            await timed_solves(xo, 2)
            walls, cpus, solutions = await timed_solves(xo, args.cpu_repeats)
        calls = solutions[0].usage.totals.calls
        cpu_rows.append(
            f"| {agents} | {rounds} | {calls} | {statistics.median(cpus) * 1000:.1f} | "
            f"{statistics.median(cpus) / calls * 1000:.2f} | {statistics.median(walls) * 1000:.1f} |"
        )
    return rows, cpu_rows


def command(args: argparse.Namespace) -> str:
    words = [
        "python",
        "benchmarks/orchestration_bench.py",
        "--latency",
        f"{args.latency:g}",
        "--repeats",
        str(args.repeats),
    ]
    if args.cpu_repeats != 20:
        words += ["--cpu-repeats", str(args.cpu_repeats)]
    if args.load_interval != 2.0:
        words += ["--load-interval", f"{args.load_interval:g}"]
    return " ".join([*words, "--write-docs"])


async def run(args: argparse.Namespace) -> str:
    with LoadSampler(args.load_interval) as load:
        rows, cpu_rows = await measure(args)
    summary = load.summary()
    measured = f"; while it ran, {summary.describe()}" if summary else ""
    return "\n".join(
        [
            START,
            "## Orchestration efficiency",
            "",
            f"Machine: {describe_machine(machine_facts('langgraph'))}{measured}. Command: `{command(args)}`.",
            "",
            f"Every model call sleeps L = {args.latency:g} s. The critical path is the longest chain of dependent "
            "calls (planner, then per round the longest chain of one agent's calls, then the blind check and "
            "the verifier) times L; early stopping is off, so every round runs. Median of "
            f"{args.repeats} solves after a warm-up. Target: ratio <= 1.10 at m = 3, I = 2.",
            "",
            "| agents m | rounds I | calls | chain (calls) | critical path s | wall s | wall / critical path |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Framework CPU time per solve with a zero-latency model (median of {args.cpu_repeats} solves; the "
            "process's CPU time, so it includes parsing, prompt rendering, LangGraph and the event stream):",
            "",
            "| agents m | rounds I | calls | CPU ms / solve | CPU ms / call | wall ms / solve |",
            "|---:|---:|---:|---:|---:|---:|",
            *cpu_rows,
            "",
            END,
        ]
    )


def write_docs(section: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.is_file() else "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu-repeats", type=int, default=20)
    parser.add_argument("--load-interval", type=float, default=2.0, help="seconds between load-average samples")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    section = asyncio.run(run(args))
    print(section)
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
