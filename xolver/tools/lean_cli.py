"""``xolver prove FILE.lean``: prove the file's last theorem with a model and Lean.

    xolver prove Example.lean --model openai/gpt-4o-mini --lean-project ~/myproofs
    xolver prove Example.lean --lean-command /opt/lean/bin/lean --json

Everything before the theorem is its header (imports, opens, definitions); the proof after ``:=``
(``by sorry``) is ignored. Exit 0 with the proved file on stdout; 1 when it was not proved (or no
Lean toolchain is there), with the reason on stderr. Imported by every CLI start: heavy imports
happen inside the handler.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from xolver.argtypes import positive_int
from xolver.errors import UserError

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``prove`` command to the CLI's subparsers."""
    from xolver.cli import add_model_options

    parser = sub.add_parser(
        "prove",
        help="prove a Lean 4 theorem with the model and Lean",
        description="Prove the last theorem of a Lean 4 file: automation first, then proofs repaired from Lean's "
        "errors; every candidate is checked soundly (no sorry/axiom escapes, the given statement, standard axioms).",
    )
    parser.set_defaults(handler=_run_prove)
    parser.add_argument("file", type=Path, help="a .lean file whose last theorem is to be proved")
    add_model_options(parser)
    lean = parser.add_argument_group("lean")
    lean.add_argument("--lean-project", help="a Lake project (with Mathlib) to run `lake env lean` in")
    lean.add_argument("--lean-command", help="the command that runs Lean (default: `lean` on PATH)")
    lean.add_argument("--max-attempts", type=positive_int, default=4, help="model proposals and repairs (default 4)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def _run_prove(args: argparse.Namespace) -> int:
    from xolver.api import Xolver
    from xolver.cli import config_from_args
    from xolver.tools.lean import task_from_file

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read Lean file {str(args.file)!r}: {e}") from e
    task = task_from_file(text)
    extra: dict[str, Any] = {"memory_mode": "off"}
    if args.lean_project:
        extra["lean_project"] = args.lean_project
    if args.lean_command:
        extra["lean_command"] = shlex.split(args.lean_command)
    with Xolver(config=config_from_args(args, **extra), memory=None) as xo:
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
