"""``xolver prove FILE.lean`` and ``xolver solve --lean``: prove a Lean 4 theorem with a model and Lean.

    xolver prove Example.lean --model openai/gpt-4o-mini --lean-project ~/myproofs
    xolver prove Example.lean --lean-command /opt/lean/bin/lean --json
    xolver solve --lean "theorem t (a b : Nat) : a + b = b + a" --lean-project ~/myproofs

Everything before the theorem is its header (imports, opens, definitions); the proof after ``:=``
(``by sorry``) is ignored. Exit 0 with the proved file on stdout; 1 when it was not proved (or no
Lean toolchain is there), with the reason on stderr. Imported by every CLI start: heavy imports
happen inside the handlers.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from xolver.argtypes import positive_int
from xolver.errors import UserError

__all__ = ["LEAN_EPILOG", "add_lean_options", "prove_text", "register"]

LEAN_EPILOG = """\
Lean toolchain (checked before any model call; without one the command stops with one line
saying what to install):
  --lean-project DIR    a Lake project with Mathlib: files are checked with `lake env lean` there
  --lean-command CMD    any command that runs Lean 4 (`--json FILE` is appended)
  neither               `lean` on PATH (install it with elan)

What is accepted: Lean reports no error, the proof uses no sorry/admit/axiom/opaque/native_decide
or checking-weakening set_option, the theorem proved has exactly the given statement (compared as
elaborated by Lean), and `#print axioms` lists only propext, Classical.choice and Quot.sound.

The search: automation (rfl, decide, simp, omega, norm_num, linarith) on the goal first, then model
proofs repaired from Lean's errors; a failing step is isolated as a `have` sub-goal and repaired on
its own. With --memory-mode learn (the default) a proved theorem and its repaired sub-goals are
stored in the memory, and a later prove of the same statement tries the stored proof first."""


def add_lean_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose the Lean toolchain and bound the proof search."""
    lean = parser.add_argument_group("lean")
    lean.add_argument("--lean-project", help="a Lake project (with Mathlib) to run `lake env lean` in")
    lean.add_argument("--lean-command", help="the command that runs Lean (default: `lean` on PATH)")
    lean.add_argument(
        "--max-attempts", type=positive_int, default=4, help="model proposals and repairs per theorem (default 4)"
    )


def register(sub: Any) -> None:
    """Add the ``prove`` command to the CLI's subparsers."""
    from xolver.cli import add_model_options

    parser = sub.add_parser(
        "prove",
        help="prove a Lean 4 theorem with the model and Lean",
        description="Prove the last theorem of a Lean 4 file: automation first, then proofs repaired from Lean's "
        "errors; every candidate is checked soundly (no sorry/axiom escapes, the given statement, standard axioms).",
        epilog="examples:\n  xolver prove Swap.lean --model openai/gpt-4o-mini --lean-project ~/myproofs\n"
        "  xolver prove Swap.lean --lean-command /opt/lean/bin/lean --json\n\n" + LEAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=_run_prove)
    parser.add_argument("file", type=Path, help="a .lean file whose last theorem is to be proved")
    add_model_options(parser)
    add_lean_options(parser)
    memory = parser.add_argument_group("memory")
    memory.add_argument(
        "--memory-mode",
        choices=["off", "frozen", "learn"],
        help="off; frozen: reuse stored proofs; learn (default): also store the proof when it is found",
    )
    memory.add_argument(
        "--memory", dest="memory_path", type=Path, help="memory store folder (default ~/.xolver/memory)"
    )
    memory.add_argument("--namespace", help="memory namespace (tenant) to read and write (default 'default')")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def _run_prove(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read Lean file {str(args.file)!r}: {e}") from e
    return prove_text(args, text)


def prove_text(args: argparse.Namespace, text: str) -> int:
    """Prove the last theorem of `text` (a Lean file, or a bare statement) with the parsed options.

    The toolchain is looked for before the model or the memory is opened, so a missing Lean costs
    one line and no wait.

    Raises:
        UserError: no toolchain (the message says what to install), or no theorem in `text`.
    """
    from xolver.api import Xolver
    from xolver.cli import config_from_args
    from xolver.tools.lean import LeanChecker, task_from_file

    task = task_from_file(text)
    extra: dict[str, Any] = {}
    if args.lean_project:
        extra["lean_project"] = args.lean_project
    if args.lean_command:
        extra["lean_command"] = shlex.split(args.lean_command)
    config = config_from_args(args, **extra)
    lean = LeanChecker(command=config.lean_command, project=config.lean_project, timeout=config.lean_timeout)
    if not lean.available:
        raise UserError(lean.missing)
    with Xolver(config=config) as xo:
        outcome = xo.prove(task.statement, header=task.header, max_attempts=args.max_attempts)
    if args.json:
        print(outcome.model_dump_json(indent=2))
    elif outcome.proved:
        print(outcome.proof, end="")
    if not outcome.proved:
        last = outcome.attempts[-1].reason if outcome.attempts else "no candidate"
        print(f"xolver: not proved after {len(outcome.attempts)} checked candidate(s): {last}", file=sys.stderr)
        return 1
    return 0
