"""The `xolver` command line.

    xolver solve "What is 17 * 23?"                 # the embedded local model, offline
    xolver solve --file problem.txt --json          # the Solution as JSON on stdout
    echo "..." | xolver solve -                      # the problem from stdin
    xolver solve "..." --model openai/gpt-4o-mini
    xolver solve "..." --model openai/qwen --api-base http://127.0.0.1:8000/v1

Exit codes: 0 success, 1 a user or provider error (one line on stderr, no traceback), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xolver._version import __version__
from xolver.argtypes import non_negative_int, positive_float, positive_int
from xolver.errors import UserError, XolverError
from xolver.tools.lean_cli import LEAN_EPILOG, add_lean_options

__all__ = ["add_model_options", "add_team_options", "build_parser", "config_from_args", "main"]

_DESCRIPTION = """\
xolver gives any LLM a team and a memory: a planner picks expert roles, several solver agents
answer in parallel, a judge scores them, they refine over rounds through a shared memory, and a
verifier extracts the final answer. Past solves are remembered and retrieved as experience.

The model is 'local' (SmolLM2-135M in-process, offline) unless --model, XOLVER_MODEL or the config
file (~/.xolver/config.toml, [xolver] table) says otherwise."""

_SOLVE_EPILOG = (
    """\
examples:
  xolver solve "What is 17 * 23?"
  xolver solve --file problem.txt --json > solution.json
  echo "Solve x^2 = 4 for x > 0" | xolver solve -
  xolver solve "..." --model openai/gpt-4o-mini --agents 3 --rounds 2
  xolver solve "..." --model openai/my-model --api-base http://127.0.0.1:8000/v1
  xolver solve "..." --model ollama_chat/qwen2.5 --api-base http://127.0.0.1:11434
  xolver solve "..." --checkpoint run.sqlite --thread-id t1   # resume later with --resume t1
  xolver solve --lean "theorem t (a b : Nat) : a + b = b + a" --lean-project ~/myproofs
  xolver solve --lean --file Swap.lean --lean-command /opt/lean/bin/lean

models: 'local', 'local/<file.gguf>', or any litellm model string (provider/name); API keys are
read from the provider's environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).

--lean: the problem is a Lean 4 theorem (a bare `theorem name binders : type`, or a whole file
whose last theorem is the goal and whose earlier lines are its header); it is proved, not answered,
exactly as `xolver prove` does, and the proved file is printed.
"""
    + LEAN_EPILOG
)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so `main` returns the exit code."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


class _UsageError(Exception):
    pass


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model options shared by every command that runs a solve."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", "-m", help="'local', 'local/<file.gguf>' or a litellm model (default: local)")
    group.add_argument("--api-base", help="base URL of an OpenAI-compatible or self-hosted server")
    group.add_argument("--api-key", help="API key (default: the provider's environment variable)")
    group.add_argument("--temperature", type=float, help="sampling temperature of solver calls (default 0.2)")
    group.add_argument("--max-tokens", type=positive_int, help="completion cap per model call")
    group.add_argument(
        "--reasoning-effort", choices=["low", "medium", "high"], help="reasoning effort of reasoning models"
    )
    group.add_argument(
        "--max-concurrency",
        type=non_negative_int,
        metavar="N",
        help="requests in flight to the model (default: 1 for a server on this machine, else no limit; 0: no limit)",
    )
    group.add_argument("--config", type=Path, help="config file (default: ~/.xolver/config.toml)")
    roles = parser.add_argument_group("cost levers")
    for role in ("judge", "solver"):
        roles.add_argument(f"--{role}-model", metavar="MODEL", help=f"the {role}s' model (default: --model)")
        roles.add_argument(
            f"--{role}-api-base", metavar="URL", help=f"server of --{role}-model (default: the provider's own)"
        )
    roles.add_argument(
        "--fallback-model",
        dest="fallback_models",
        action="append",
        metavar="MODEL",
        help="a model to try when a call's model fails with a provider error (repeatable, tried in order)",
    )
    roles.add_argument(
        "--cache",
        action="store_true",
        default=None,
        help="answer repeated temperature-0 model calls from the on-disk cache ($XOLVER_HOME/cache.sqlite)",
    )


def add_team_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("team")
    group.add_argument("--agents", "-a", type=positive_int, help="solver agents m (default 3)")
    group.add_argument(
        "--rounds",
        "-r",
        type=non_negative_int,
        help="rounds after the first, run only while agents disagree (default 2)",
    )
    group.add_argument(
        "--later-rounds",
        choices=["resample", "refine"],
        help="resample: fresh independent attempts (default); refine: the paper's refinement, where agents see the "
        "team's best attempts and the judge's critiques",
    )
    group.add_argument(
        "--judge-opinions",
        choices=["unchecked", "always", "never"],
        help="with --later-rounds refine: when the judge critiques and scores the leading answers; unchecked "
        "(default): only when its own program printed no answer",
    )
    group.add_argument(
        "--format",
        dest="answer_format",
        choices=["auto", "boxed", "integer", "choice", "code", "text"],
        help="answer format the verifier extracts (default auto)",
    )
    group.add_argument(
        "--memory-mode",
        choices=["off", "frozen", "learn"],
        help="episodic memory: off, frozen (retrieve only) or learn (default)",
    )
    group.add_argument(
        "--memory-url",
        metavar="URL",
        help="a Chroma server (http://HOST:PORT of 'chroma run') holding one memory shared by every process and host",
    )
    group.add_argument("--max-calls", type=positive_int, help="model-call budget per solve")
    group.add_argument("--max-total-tokens", type=positive_int, help="token budget per solve")
    group.add_argument("--max-seconds", type=positive_float, help="wall-time budget per solve")
    group.add_argument("--max-cost", type=positive_float, metavar="USD", help="dollar budget per solve")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xolver",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xolver {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    solve = sub.add_parser(
        "solve",
        help="solve one problem with the team",
        description="Solve one problem with a team of agents and print its answer.",
        epilog=_SOLVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    solve.set_defaults(handler=_run_solve)
    solve.add_argument("problem", nargs="?", help="the problem text, or '-' to read it from stdin")
    solve.add_argument("--file", "-f", type=Path, help="read the problem from a file")
    add_model_options(solve)
    add_team_options(solve)
    out = solve.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the Solution as JSON on stdout")
    out.add_argument("--quiet", "-q", action="store_true", help="no progress display; print only the answer")
    memory = solve.add_argument_group("memory")
    memory.add_argument(
        "--memory", dest="memory_path", type=Path, help="memory store folder (default ~/.xolver/memory)"
    )
    memory.add_argument("--namespace", help="memory namespace (tenant) to read and write (default 'default')")
    memory.add_argument("--embedder", help="sentence-transformers model for the store (default all-MiniLM-L6-v2)")
    state = solve.add_argument_group("checkpoints")
    state.add_argument("--checkpoint", type=Path, help="SQLite file for checkpoints, so a run can be resumed")
    state.add_argument("--thread-id", help="id of this run in the checkpoint file (default: random)")
    state.add_argument(
        "--resume", metavar="THREAD_ID", help="resume the interrupted run THREAD_ID (needs --checkpoint)"
    )
    solve.add_argument(
        "--lean",
        action="store_true",
        help="the problem is a Lean 4 theorem: prove it with the model and Lean (see below)",
    )
    add_lean_options(solve)

    _add_command_groups(sub)
    return parser


# Command groups defined next to the code they drive: module, function(subparsers). Each registers
# its parser with ``set_defaults(handler=fn)`` where ``fn(args) -> int``. Those modules must be
# cheap to import (heavy libraries load inside the handler).
_COMMAND_GROUPS = (
    ("xolver.memory.cli", "add_memory_parser"),
    ("xolver.eval.cli", "register"),
    ("xolver.batch.cli", "register"),
    ("xolver.ui.chat", "register"),
    ("xolver.server.cli", "register"),
    ("xolver.tools.lean_cli", "register"),
)


def _add_command_groups(sub: Any) -> None:
    import importlib

    for module_name, function in _COMMAND_GROUPS:
        getattr(importlib.import_module(module_name), function)(sub)


def _read_problem(args: argparse.Namespace) -> str:
    if args.file is not None and args.problem is not None:
        raise _UsageError("xolver solve: error: give the problem as an argument or with --file, not both")
    if args.file is not None:
        try:
            text = str(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            reason = (e.strerror if isinstance(e, OSError) else None) or str(e)
            raise UserError(f"cannot read problem file {str(args.file)!r}: {reason}") from e
    elif args.problem == "-" or (args.problem is None and not sys.stdin.isatty()):
        text = str(sys.stdin.read())
    elif args.problem is None:
        raise _UsageError("xolver solve: error: give a problem, --file PATH, or '-' to read stdin")
    else:
        text = str(args.problem)
    if not text.strip():
        raise UserError("the problem is empty")
    return text


def config_from_args(args: argparse.Namespace, **extra: Any) -> Any:
    """An `XolverConfig` from the config file, the environment and the parsed model/team options."""
    from xolver.config import XolverConfig

    values: dict[str, Any] = {
        "model": getattr(args, "model", None),
        "api_base": getattr(args, "api_base", None),
        "api_key": getattr(args, "api_key", None),
        "temperature": getattr(args, "temperature", None),
        "max_tokens": getattr(args, "max_tokens", None),
        "reasoning_effort": getattr(args, "reasoning_effort", None),
        "max_concurrency": getattr(args, "max_concurrency", None),
        "agents": getattr(args, "agents", None),
        "rounds": getattr(args, "rounds", None),
        "later_rounds": getattr(args, "later_rounds", None),
        "judge_opinions": getattr(args, "judge_opinions", None),
        "answer_format": getattr(args, "answer_format", None),
        "memory_mode": getattr(args, "memory_mode", None),
        "max_calls": getattr(args, "max_calls", None),
        "max_total_tokens": getattr(args, "max_total_tokens", None),
        "max_seconds": getattr(args, "max_seconds", None),
        "max_cost": getattr(args, "max_cost", None),
        "fallback_models": getattr(args, "fallback_models", None),
        "cache": getattr(args, "cache", None),
        "checkpoint_path": getattr(args, "checkpoint", None),
        "memory_path": getattr(args, "memory_path", None),
        "memory_url": getattr(args, "memory_url", None),
        "namespace": getattr(args, "namespace", None),
        "embedder": getattr(args, "embedder", None),
    }
    values.update(extra)  # the caller's values win over the parsed options of the same name
    config = XolverConfig.load(getattr(args, "config", None), **values)
    roles = _role_models(args)
    if not roles:
        return config
    # The flags name roles on top of the config file's [models] table.
    return XolverConfig.load(getattr(args, "config", None), **{**values, "models": {**config.models, **roles}})


def _role_models(args: argparse.Namespace) -> dict[str, Any]:
    """``--judge-model`` / ``--solver-model`` (with their ``--*-api-base``) as `XolverConfig.models` entries."""
    roles: dict[str, Any] = {}
    for role in ("judge", "solver"):
        model, api_base = getattr(args, f"{role}_model", None), getattr(args, f"{role}_api_base", None)
        if api_base and not model:
            raise _UsageError(f"xolver: error: --{role}-api-base needs --{role}-model")
        if model:
            roles[role] = {"model": model, "api_base": api_base} if api_base else model
    return roles


def _run_solve(args: argparse.Namespace) -> int:
    from rich.console import Console

    if args.resume and args.checkpoint is None:
        raise _UsageError("xolver solve: error: --resume needs --checkpoint FILE")
    if args.lean:
        if args.resume or args.checkpoint:
            raise _UsageError("xolver solve: error: --lean proofs have no checkpoints (drop --checkpoint/--resume)")
        from xolver.tools.lean_cli import prove_text

        return prove_text(args, _read_problem(args))
    problem = None if args.resume else _read_problem(args)
    config = config_from_args(args)
    out = Console(soft_wrap=True)
    err = Console(stderr=True)
    show_progress = not args.quiet and err.is_terminal

    from xolver.api import Xolver
    from xolver.ui.progress import SolutionPanel, SolveView

    with Xolver(config=config) as xo:
        view = SolveView()
        solution = asyncio.run(_drive(xo, problem, args, view, err if show_progress else None))
    if args.json:
        out.print_json(solution.model_dump_json(), highlight=False) if out.is_terminal else print(
            solution.model_dump_json(indent=2)
        )
    elif args.quiet or not out.is_terminal:
        print(solution.answer)
    else:
        out.print(SolutionPanel(solution))
    return 0


async def _drive(xo: Any, problem: str | None, args: argparse.Namespace, view: Any, console: Any) -> Any:
    from rich.live import Live

    events = xo.aresume_stream(args.resume) if args.resume else xo.astream(problem, thread_id=args.thread_id)
    solution = None
    if console is None:
        async for event in events:
            solution = view.consume(event) or solution
        return solution
    with Live(view, console=console, refresh_per_second=8, transient=False):
        async for event in events:
            solution = view.consume(event) or solution
    return solution


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default: sys.argv[1:]) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version exit 0 through argparse
        return int(e.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        if args.command == "memory" and not hasattr(args, "handler"):
            from rich.console import Console

            from xolver.memory.cli import run_memory_command

            return int(run_memory_command(args, Console(), Console(stderr=True)))
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(sys.stderr)
            return 2
        return int(handler(args))
    except _UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except XolverError as e:
        print(f"xolver: error: {e}", file=sys.stderr)
        hint = getattr(e, "hint", "")  # `LocalModelMissing`: what to run instead
        if hint:
            print(hint, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("xolver: interrupted", file=sys.stderr)
        return 130
