"""Per-snippet latency of the Python sandbox, cold and warm, against bare `python -c` and `exec`.

Run: ``python benchmarks/sandbox_bench.py [--runs 40]``. Prints a table and replaces the section
between ``<!-- sandbox:start -->`` and ``<!-- sandbox:end -->`` in ``docs/benchmarks.md``.

``--compare-with CHECKOUT`` instead measures cold and warm latency of this checkout against another
one (e.g. a ``git worktree`` of an older commit), interleaved round by round in fresh processes, so
both see the same machine load; it prints a table and writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from _machine import LoadSampler, describe_machine, machine_facts

from xolver.tools.sandbox import PythonSandbox, SandboxLimits

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- sandbox:start -->", "<!-- sandbox:end -->"
SNIPPETS = {
    "one-liner": "x = sum(range(100))",
    "print 1 KB": "print('x' * 1024)",
    "sympy solve": "import sympy as sp\nx = sp.Symbol('x')\nsp.solve(x**2 - 2, x)",
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def _measure(fn: Callable[[], Awaitable[None]], runs: int, pause: float = 0.0) -> list[float]:
    await fn()  # warm-up: imports, page cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
        if pause:
            # Lets the pool refill between calls, as between an agent's tool calls.
            await asyncio.sleep(pause)
    return times


async def bench(runs: int) -> list[tuple[str, str, list[float]]]:
    rows: list[tuple[str, str, list[float]]] = []
    for label, code in SNIPPETS.items():
        n = max(5, runs // 4) if "sympy" in code else runs
        rows += await _bench_snippet(label, code, n)
    return rows


async def _bench_snippet(label: str, code: str, n: int) -> list[tuple[str, str, list[float]]]:
    rows: list[tuple[str, str, list[float]]] = []
    limits = SandboxLimits(timeout=30)
    sympy_heavy = "sympy" in code

    def exec_once(code: str = code) -> None:
        exec(compile(code, "<bench>", "exec"), {})

    async def in_process() -> None:
        exec_once()

    async def bare() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        await proc.wait()

    cold_box = PythonSandbox(limits, pool_size=0)

    async def cold() -> None:
        result = await cold_box.run(code)
        assert result.ok, result

    warm_box = PythonSandbox(limits, pool_size=2)
    await warm_box.start()

    async def warm() -> None:
        result = await warm_box.run(code)
        assert result.ok, result

    session = warm_box.session()
    if sympy_heavy:
        await session.run("import sympy as sp")

    async def in_session() -> None:
        result = await session.run(code)
        assert result.ok, result

    rows.append((label, "in-process exec (unsafe lower bound)", await _measure(in_process, n)))
    rows.append((label, "bare `python -c`", await _measure(bare, n)))
    rows.append((label, "sandbox cold (new worker)", await _measure(cold, n)))
    rows.append((label, "sandbox warm (pool)", await _measure(warm, n, pause=0.15)))
    rows.append((label, "sandbox session (same worker)", await _measure(in_session, n)))
    await session.close()
    await warm_box.aclose()
    await cold_box.aclose()
    return rows


_AB_CHILD = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
from xolver.tools.sandbox import PythonSandbox, SandboxLimits
async def go(n):
    limits = SandboxLimits(timeout=30)
    cold, warm = [], []
    cold_box, warm_box = PythonSandbox(limits, pool_size=0), PythonSandbox(limits, pool_size=1)
    await warm_box.start()
    await cold_box.run("x = 1")
    for _ in range(n):
        for box, times in ((cold_box, cold), (warm_box, warm)):
            t = time.perf_counter()
            assert (await box.run("x = sum(range(100))")).ok
            times.append(time.perf_counter() - t)
            await asyncio.sleep(0.6)  # the pool refills off the clock, as between an agent's calls
    await cold_box.aclose(); await warm_box.aclose()
    print(json.dumps({"cold": cold, "warm": warm}))
asyncio.run(go(int(sys.argv[2])))
"""


def compare(other: Path, rounds: int, per_round: int = 10) -> str:
    """Cold and warm one-liner latency here and in checkout `other`, interleaved by round."""
    trees = {"this checkout": ROOT, f"{other}": other}
    times: dict[str, dict[str, list[float]]] = {name: {"cold": [], "warm": []} for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            out = subprocess.run(
                [sys.executable, "-c", _AB_CHILD, str(tree), str(per_round)],
                capture_output=True,
                text=True,
                cwd="/",
                check=True,
            )
            for kind, values in json.loads(out.stdout.strip().splitlines()[-1]).items():
                times[name][kind] += values
    lines = [
        "| checkout | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | runs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, kinds in times.items():
        cold, warm = kinds["cold"], kinds["warm"]
        lines.append(
            f"| {name} | {_pct(cold, 0.5):.2f} | {_pct(cold, 0.95):.2f} | {_pct(warm, 0.5):.2f} | "
            f"{_pct(warm, 0.95):.2f} | {len(cold)} |"
        )
    return "\n".join(lines)


def render(rows: Sequence[tuple[str, str, list[float]]], isolation: str, command: str, load: str = "") -> str:
    lines = [
        "## Sandbox",
        "",
        f"Machine: {describe_machine(machine_facts())}{load}. Command: `{command}`.",
        f"Isolation on this machine: {isolation}.",
        "",
        "Per-snippet wall time in milliseconds, measured from our process (submit to result).",
        "'warm' takes a pre-started worker from the pool; 'session' reuses one stateful worker.",
        "The sympy row in a session imports sympy once beforehand, as a session would.",
        "",
        "| snippet | how | runs | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for label, how, times in rows:
        lines.append(f"| {label} | {how} | {len(times)} | {_pct(times, 0.5):.2f} | {_pct(times, 0.95):.2f} |")
    return "\n".join(lines)


def write_section(section: str) -> None:
    block = f"{START}\n{section}\n{END}"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40, help="timed runs per cell (sympy rows use a quarter)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--compare-with", type=Path, help="another checkout: interleaved cold/warm A/B, no write")
    parser.add_argument("--rounds", type=int, default=4, help="A/B rounds (10 cold and 10 warm runs each)")
    args = parser.parse_args(argv)
    if args.compare_with is not None:
        print(compare(args.compare_with.resolve(), args.rounds))
        return 0

    async def go() -> tuple[list[tuple[str, str, list[float]]], str]:
        async with PythonSandbox(pool_size=0) as probe:
            isolation = (await probe.isolation()).summary()
        return await bench(args.runs), isolation

    with LoadSampler(2.0) as load:
        rows, isolation = asyncio.run(go())
    summary = load.summary()
    command = "python benchmarks/sandbox_bench.py" + (f" --runs {args.runs}" if args.runs != 40 else "")
    section = render(rows, isolation, command, f"; while it ran, {summary.describe()}" if summary else "")
    print(section)
    if not args.no_write:
        write_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
