"""Start-up cost: the first solve in a fresh process against a steady-state solve in the same process.

A tiny OpenAI-compatible server on 127.0.0.1 answers every chat request after a fixed delay
(default 0.5 s), so each solve makes the same model calls and spends the same time waiting for them.
Each repeat starts a fresh Python process that imports xolver, builds a `Xolver` on
``openai/bench`` at that server, and runs ``--solves`` solves of one problem. The start-up cost is

    first solve - median of the later solves           (the solve alone)
    process start to first answer - median later solve  (what ``xolver solve`` pays, imports included)

    python benchmarks/startup_bench.py                      # 3 fresh processes, BM25 memory
    python benchmarks/startup_bench.py --memory chroma      # the persistent store (hash embedder)
    python benchmarks/startup_bench.py --memory chroma-minilm   # ... with the default embedder, as `xolver solve`
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _machine import LoadSampler, describe_machine, machine_facts

PLAN = (
    "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\n4. Estimator: estimates\n"
    "Selected: 1, 2, 3"
)
PROBLEM = "What is 17 * 23?"


def _reply(body: dict[str, Any]) -> str:
    """Planner, program and reasoning replies that agree on 391 (so the team stops after one round)."""
    prompt = body["messages"][-1]["content"]
    system = body["messages"][0]["content"]
    if "expert roles" in prompt:
        return PLAN
    if "```python\n<the program" in prompt or "Python program" in system:
        return "Thought: compute it\n```python\nprint(17 * 23)\n```"
    if "Score:" in prompt or "score" in system.lower():
        return "Critique: checked\nScore: 1"
    return "Thought: 17 * 23 = 391\nResponse: the product is 391\nFinal answer: \\boxed{391}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def fake_openai_server(delay: float) -> Iterator[str]:
    """An OpenAI-compatible chat endpoint answering each request after `delay` seconds."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            time.sleep(delay)
            payload = {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "bench"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": _reply(body)}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def child(args: argparse.Namespace) -> None:
    """One fresh process: import, build, solve `--solves` times; print the timings as JSON."""
    started = time.perf_counter()
    from xolver import Xolver

    imported = time.perf_counter()
    options: dict[str, Any] = {"memory_store": "memory"} if args.memory == "memory" else {}
    if args.memory.startswith("chroma"):
        embedder = "hash" if args.memory == "chroma" else None  # None: all-MiniLM-L6-v2, the default
        options = {"memory_store": "chroma", "memory_path": args.memory_path, "embedder": embedder}
    if args.memory == "off":
        options = {"memory_mode": "off"}
    walls, calls = [], []
    with Xolver("openai/bench", api_base=args.api_base, agents=args.agents, rounds=args.rounds, **options) as xo:
        built = time.perf_counter()
        first_answer = 0.0
        for i in range(args.solves):
            t = time.perf_counter()
            solution = xo.solve(PROBLEM)
            walls.append(time.perf_counter() - t)
            calls.append(solution.usage.totals.calls)
            if i == 0:
                first_answer = time.perf_counter() - started
                if solution.answer != "391":
                    raise SystemExit(f"unexpected answer {solution.answer!r}")
    print(
        json.dumps(
            {
                "import": imported - started,
                "build": built - imported,
                "first_answer": first_answer,
                "walls": walls,
                "calls": calls,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model call (default 0.5)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes (default 3)")
    parser.add_argument("--solves", type=int, default=3, help="solves per process (default 3)")
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory", choices=["memory", "chroma", "chroma-minilm", "off"], default="memory")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--memory-path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.solves < 2:
        parser.error("--solves must be at least 2 (the first and a steady-state one)")
    rows = []
    sampler = LoadSampler(interval=2.0).start()
    with fake_openai_server(args.delay) as api_base, tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "XOLVER_HOME": home,
            "XOLVER_ALLOW_MODEL_REQUESTS": "1",
            "HF_HUB_OFFLINE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("XOLVER_CONFIG", None)
        env.pop("XOLVER_MODEL", None)
        env.pop("XOLVER_MEMORY_STORE", None)
        for repeat in range(args.repeats):
            command = [
                sys.executable,
                __file__,
                "--child",
                f"--api-base={api_base}",
                f"--memory={args.memory}",
                f"--memory-path={Path(home) / f'memory-{repeat}'}",
                f"--agents={args.agents}",
                f"--rounds={args.rounds}",
                f"--solves={args.solves}",
            ]
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    sampler.stop()
    load = sampler.summary()
    print(describe_machine(machine_facts("litellm", "langgraph", "httpx")))
    if load is not None:
        print(load.describe())
    print(f"delay {args.delay:g} s per call, m={args.agents}, I={args.rounds}, memory {args.memory}")
    header = ("run", 3), ("import", 7), ("build", 6), ("first", 6), ("steady", 6), ("calls", 9), ("+solve", 7)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'+process':>8}")
    extra_solve, extra_process = [], []
    for i, row in enumerate(rows):
        first, steady = row["walls"][0], statistics.median(row["walls"][1:])
        extra_solve.append(first - steady)
        extra_process.append(row["first_answer"] - steady)
        calls = "/".join(str(c) for c in row["calls"])
        print(
            f"{i:>3} {row['import']:>7.2f} {row['build']:>6.2f} {first:>6.2f} {steady:>6.2f} {calls:>9} "
            f"{first - steady:>+7.2f} {row['first_answer'] - steady:>+8.2f}"
        )
    if any(len(set(row["calls"])) > 1 for row in rows):
        print("warning: the solves of a process made different numbers of calls; compare with care")
    print(
        f"start-up (median of {len(rows)}): first solve {statistics.median(extra_solve):+.2f} s, "
        f"process start to first answer {statistics.median(extra_process):+.2f} s over a steady-state solve"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
