"""``xolver batch``: solve every problem of a JSONL file, one `Solution` per output line.

    xolver batch problems.jsonl --out solutions.jsonl --model openai/gpt-4o-mini -c 8
    xolver batch problems.jsonl --out solutions.jsonl --resume          # skip the ids already solved
    xolver batch problems.jsonl --out solutions.jsonl --ray             # a local Ray on this machine
    xolver batch problems.jsonl --out solutions.jsonl --ray ray://head:10001 --memory-url http://mem:8000

This module is imported by every CLI start: heavy imports happen inside the handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from xolver.argtypes import non_negative_int, positive_float, positive_int
from xolver.errors import UserError

__all__ = ["add_ray_options", "ray_options_from_args", "register"]

_EPILOG = """\
examples:
  xolver batch problems.jsonl --out solutions.jsonl --model openai/gpt-4o-mini --concurrency 8
  xolver batch problems.jsonl --out solutions.jsonl --resume
  xolver batch problems.jsonl --out solutions.jsonl --ray                      # local Ray
  xolver batch problems.jsonl --out solutions.jsonl --ray ray://head:10001 --memory-url http://mem:8000

Each input line is a JSON object with the problem under "problem" (or "question", "text", "prompt";
--key names another) and an optional "id". Each output line is {"id", "index", "solution", "error"},
appended and flushed as the problem finishes. Ray is an extra: pip install 'xolver[ray]'."""


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    """The Ray options of batch and eval: ``--ray [ADDRESS]``, retries, CPUs and solves per worker."""
    group = parser.add_argument_group("ray (pip install 'xolver[ray]')")
    group.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="solve the problems on a pool of Ray workers; ADDRESS: ray://HEAD:10001, HOST:6379 or auto "
        "(default: RAY_ADDRESS, else a local Ray on this machine)",
    )
    group.add_argument(
        "--max-retries", type=non_negative_int, help="times a problem is rerun when its Ray worker dies (default 3)"
    )
    group.add_argument(
        "--ray-cpus-per-task",
        type=positive_float,
        metavar="CPUS",
        help="CPU share each problem reserves (default 0.25: solves wait on the model)",
    )
    group.add_argument(
        "--ray-solves-per-worker",
        type=positive_int,
        metavar="N",
        help="problems one Ray worker process solves at once (default 4; 1: a process per problem)",
    )


def ray_options_from_args(args: argparse.Namespace, *, in_flight: int) -> Any:
    """The `RayOptions` of ``--ray``, ``--max-retries``, ``--ray-cpus-per-task``; None without ``--ray``."""
    from xolver.batch.ray_executor import RayOptions, require_ray

    address = getattr(args, "ray", None)
    if address is None:
        return None
    require_ray()
    if address and not (":" in address or address == "auto"):
        raise UserError(f"--ray {address!r} is not a Ray address (ray://HEAD:10001, HOST:6379 or auto)")
    retries = getattr(args, "max_retries", None)
    cpus = getattr(args, "ray_cpus_per_task", None)
    per_worker = getattr(args, "ray_solves_per_worker", None)
    return RayOptions(
        address=address or None,
        max_in_flight=in_flight,
        max_retries=3 if retries is None else int(retries),
        cpus_per_task=0.25 if cpus is None else float(cpus),
        solves_per_worker=4 if per_worker is None else int(per_worker),
    )


def register(subparsers: Any) -> None:
    """Add ``xolver batch`` to the CLI."""
    from xolver.cli import add_model_options, add_team_options

    batch = subparsers.add_parser(
        "batch",
        help="solve every problem of a JSONL file (locally or on Ray)",
        description="Solve every problem of a JSONL file and append one Solution per line to --out.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("problems", type=Path, help="the JSONL file of problems")
    batch.add_argument("--out", "-o", type=Path, required=True, help="append solutions to this JSONL file")
    batch.add_argument("--resume", action="store_true", help="skip the ids --out already holds a solution for")
    batch.add_argument("--key", help="the input key holding the problem (default: problem/question/text/prompt)")
    batch.add_argument("--concurrency", "-c", type=positive_int, help="problems at once, locally or on Ray (default 4)")
    batch.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    add_ray_options(batch)
    add_model_options(batch)
    add_team_options(batch)
    memory = batch.add_argument_group("memory")
    memory.add_argument(
        "--memory", dest="memory_path", type=Path, help="memory store folder (default ~/.xolver/memory)"
    )
    memory.add_argument("--namespace", help="memory namespace (tenant) to read and write (default 'default')")
    memory.add_argument("--embedder", help="sentence-transformers model for the store (default all-MiniLM-L6-v2)")
    batch.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from rich.console import Console

    from xolver.api import Xolver
    from xolver.batch.problems import read_problems
    from xolver.batch.progress import BatchProgressLine
    from xolver.batch.records import BatchItem, BatchProgress
    from xolver.batch.runner import run_batch
    from xolver.cli import config_from_args
    from xolver.memory.chroma._server import MemoryServerUnavailable

    concurrency = int(args.concurrency or 4)
    ray = ray_options_from_args(args, in_flight=concurrency)
    problems = read_problems(args.problems, key=args.key)
    config = config_from_args(args)
    err = Console(stderr=True)
    live_display = not args.quiet and err.is_terminal
    label = f"batch · {'ray' if ray is not None else 'local'}"
    line = BatchProgressLine(BatchProgress(total=len(problems)), label=label)
    final: list[BatchProgress] = [line.progress]

    def on_result(item: BatchItem, progress: BatchProgress) -> None:
        line.progress, line.last = progress, item
        final[0] = progress
        if not live_display and not args.quiet:
            answer = item.solution.answer if item.solution else ""
            shown = f"answer {answer[:30]!r}" if item.error is None else item.error
            eta = f"{progress.eta:.0f}s" if progress.eta is not None else "?"
            print(
                f"[{progress.done}/{progress.total}] {item.id}: {shown} · calls {progress.calls} "
                f"tokens {progress.tokens} ${progress.cost:.4f} ETA {eta}",
                file=sys.stderr,
                flush=True,
            )

    async def go() -> list[BatchItem]:
        return await run_batch(
            problems,
            xo,
            out=args.out,
            resume=bool(args.resume),
            executor="ray" if ray is not None else "local",
            concurrency=concurrency,
            ray=ray,
            on_result=on_result,
        )

    with Xolver(config=config) as xo:
        try:
            if live_display:
                from rich.live import Live

                with Live(line, console=err, refresh_per_second=4, transient=False):
                    asyncio.run(go())
            else:
                asyncio.run(go())
        except MemoryServerUnavailable as e:
            done = final[0].done
            raise MemoryServerUnavailable(
                f"{e} ({done} of {len(problems)} recorded in {str(args.out)!r}; rerun with --resume)"
            ) from e
    summary = {**final[0].summary(), "out": str(args.out), "executor": "ray" if ray is not None else "local"}
    if args.json:
        print(json.dumps(summary))
    elif not args.quiet:
        err.print(
            f"{summary['solved']} solved, {summary['errors']} errors of {summary['total']} "
            f"in {summary['seconds']:.1f} s · {summary['calls']} calls · ${summary['cost']:.4f} → {args.out}",
            highlight=False,
        )
    return 1 if summary["errors"] and summary["solved"] == 0 else 0
