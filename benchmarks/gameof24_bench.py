"""Game of 24, the first N puzzles, one model three ways: one call, the team, and the team without its
exact expression check (issue 11).

Runs three ``xolver eval run --dataset gameof24`` invocations through `xolver.cli.main`, in this
order and each with ``--resume`` into ``benchmarks/results/gameof24-<method>.jsonl``:

    single            one greedy chain-of-thought call
    xolver            the default team, ``--memory-mode off``: a candidate's expression is evaluated
                      exactly and its use of the numbers checked (`XolverConfig.exact_checks`)
    xolver-unchecked  the same team with ``--no-exact-checks``: no expression is checked, so what the
                      check adds is the difference between the two team rows

A puzzle is solved when the final answer is an expression that uses each given number exactly once
and is exactly 24 (`xolver.eval.checking.check_expression_answer`); a bare "24" is wrong. The
sessions are recorded as `team_bench.py` records them (`team_bench.run_session`: the load average
sampled while each method runs, the machine, the model file's SHA-256, in ``<results>.machine.json``),
and ``--write-docs`` rebuilds the section between ``<!-- team-gameof24:start -->`` and
``<!-- team-gameof24:end -->`` in docs/benchmarks.md from those files only. With every results file
complete the runs are no-ops, so the command printed above the table is the one that regenerates it.

    python benchmarks/gameof24_bench.py --data ../shared/data/gameof24/gameof24.jsonl --limit 50 \\
        --model openai/qwen2.5-coder-0.5b-instruct --api-base http://127.0.0.1:8089/v1 \\
        --model-file /work/qwen/qwen2.5-coder-0.5b.gguf --expect-sha256 1d96... --max-tokens 512 --write-docs
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _team_report import (
    DOCS,
    RESULTS,
    ROOT,
    MethodRun,
    Paired,
    _machine_lines,
    _model_lines,
    _paired_lines,
    _results_table,
    _xolver_lines,
    load_run,
    markers,
    paired,
    results_path,
    write_docs,
)
from team_bench import (
    _common_argv,
    _model_record,
    add_eval_arguments,
    add_model_arguments,
    add_output_arguments,
    run_session,
)

from xolver.errors import UserError
from xolver.eval.records import ProblemResult

__all__ = ["METHODS", "build_parser", "canonical_command", "check_runs_match", "main", "method_argv", "render_section"]

DATASET = "gameof24"
METHODS = ("single", "xolver", "xolver-unchecked")
_TEAMS = {"xolver": True, "xolver-unchecked": False}  # team method -> exact_checks


def method_argv(args: argparse.Namespace, method: str) -> list[str]:
    """The ``xolver eval run`` arguments of one method (both team methods are ``--method xolver``)."""
    out = results_path(args.results_dir, DATASET, method)
    if method not in _TEAMS:
        return _common_argv(args, method, out)
    argv = _common_argv(args, "xolver", out)
    for option in ("agents", "rounds"):
        value = getattr(args, option)
        if value is not None:
            argv += ["--" + option, str(value)]
    argv += ["--memory-mode", "off"]
    if not _TEAMS[method]:
        argv.append("--no-exact-checks")
    return argv


def check_runs_match(args: argparse.Namespace) -> None:
    """Refuse to print a command that would not reproduce the saved runs (their config lines disagree).

    Raises:
        UserError: a results file was written with another model, token cap, team or exact-check setting.
    """
    from xolver.config import XolverConfig

    defaults = XolverConfig.model_fields
    for method in METHODS:
        run = load_run(args.results_dir, DATASET, method, args.limit)
        if run.config is None:
            continue
        wanted: dict[str, Any] = {
            "dataset": DATASET,
            "method": "xolver" if method in _TEAMS else method,
            "model": args.model,
            "max_tokens": args.max_tokens,
        }
        if method in _TEAMS:
            wanted["agents"] = args.agents if args.agents is not None else defaults["agents"].default
            wanted["rounds"] = args.rounds if args.rounds is not None else defaults["rounds"].default
            wanted["memory_mode"] = "off"
            wanted["exact_checks"] = _TEAMS[method]
        differ = [
            f"{k} {getattr(run.config, k)!r} (this command: {v!r})"
            for k, v in wanted.items()
            if getattr(run.config, k) != v
        ]
        if differ:
            raise UserError(
                f"{str(run.path)!r} was run with {', '.join(differ)}; pass the options it was run with, "
                "so that the command printed above the table is the one that produced it"
            )


def canonical_command(args: argparse.Namespace) -> str:
    """The command that regenerates the section: every method, the run's options, ``--write-docs``."""
    words = ["python", "benchmarks/gameof24_bench.py", "--data", args.data, "--limit", str(args.limit)]
    words += ["--model", args.model]
    for option in (
        "model_file",
        "expect_sha256",
        "server",
        "max_tokens",
        "agents",
        "rounds",
        "concurrency",
        "api_base",
        "max_concurrency",
    ):
        value = getattr(args, option)
        if value is not None:
            words += ["--" + option.replace("_", "-"), str(value)]
    if args.results_dir != RESULTS:
        words += ["--results-dir", str(args.results_dir)]
    if args.load_interval != 5.0:
        words += ["--load-interval", f"{args.load_interval:g}"]
    return shlex.join([*words, "--write-docs"])


# ----------------------------------------------------------------------------- rendering

_OPERATOR = re.compile(r"\d\s*\)*\s*[-+*/×÷]|\\(?:times|div|cdot|frac)")


def answer_kind(result: ProblemResult) -> str:
    """What a final answer was: right, no answer, a bare number, or an expression that is not a
    solution (misusing the numbers, reaching another value, or not an expression at all)."""
    if result.correct:
        return "right"
    answer = (result.answer or "").strip()
    if not answer:
        return "no answer"
    if not _OPERATOR.search(answer):
        return "a bare number" if re.fullmatch(r"-?\d+(?:[.,/]\d+)*", answer.strip("$ .")) else "not an expression"
    if "must use each of" in result.check_detail:
        return "misused numbers"
    if "is not an arithmetic expression" in result.check_detail:
        return "not an expression"
    return "wrong value"


_KINDS = ("right", "misused numbers", "wrong value", "a bare number", "not an expression", "no answer")


def _answer_lines(runs: Sequence[MethodRun]) -> list[str]:
    lines = [
        "Final answers by kind (misused numbers: an expression that leaves a number out, uses one twice or "
        "brings its own; a bare number: the value, often 24 itself, instead of an expression):",
        "",
        "| method | " + " | ".join(_KINDS) + " |",
        "|---|" + "---:|" * len(_KINDS),
    ]
    for run in runs:
        if not run.results:
            continue
        counts = Counter(answer_kind(r) for r in run.results)
        lines.append(f"| {run.method} | " + " | ".join(str(counts[k]) for k in _KINDS) + " |")
    return lines


def _gap_lines(pairs: dict[str, Paired], limit: int) -> list[str]:
    names = {"xolver-unchecked": "what the exact expression check adds", "single": "the team over one call"}
    lines = []
    for other, pair in pairs.items():
        if pair.common == 0:
            continue
        partial = f" (so far; {limit} when complete)" if pair.common < limit else ""
        lines.append(
            f"- xolver - {other} ({names[other]}): {pair.gap_points:+.1f} points on {pair.common} common "
            f"puzzles{partial}."
        )
    return lines


def render_section(*, limit: int, command: str, results_dir: Path = RESULTS, root: Path = ROOT) -> str:
    """The docs section, rebuilt from the results files and their machine sidecars."""
    start, end = markers(DATASET)
    runs = [load_run(results_dir, DATASET, method, limit) for method in METHODS]
    by_method = {r.method: r for r in runs}
    try:
        shown_dir = results_dir.resolve().relative_to(root.resolve())
    except ValueError:
        shown_dir = results_dir
    lines = [
        start,
        f"## Game of 24: one call vs the team with and without its exact expression check, first {limit} puzzles",
        "",
        "Command (from the repository root; it resumes every method, so with the results complete it only "
        "rebuilds this section):",
        "",
        f"    {command}",
        "",
        "A puzzle is solved when the final answer is an expression that uses each of its four numbers exactly "
        "once and is exactly 24 (a bare 24 is wrong). `xolver-unchecked` is the same team run with "
        "`--no-exact-checks` (`XolverConfig.exact_checks=False`): no candidate's expression is evaluated, so "
        "no right one gains an executed check and no wrong one is refuted.",
        "",
    ]
    if not any(r.config for r in runs):
        where = f"`{shown_dir}/{DATASET}-<method>.jsonl`"
        return "\n".join([*lines, f"Not run yet: no results in {where}.", "", end])
    lines += _model_lines(runs)
    digests = sorted({r.config.dataset_sha256 for r in runs if r.config is not None})
    if len(digests) == 1:
        lines[-1] += f" Dataset SHA-256 `{digests[0][:16]}...`."
    else:
        lines[-1] += " **The methods ran on different data files**: SHA-256 " + ", ".join(
            f"`{d[:16]}...`" for d in digests
        )
        lines[-1] += "."
    lines.append(f"Results: `{shown_dir}/{DATASET}-<method>.jsonl`, machine records beside them in `.machine.json`.")
    lines += ["", *_machine_lines(runs), ""]
    lines += _results_table(runs, limit)
    short = [r for r in runs if len(r.results) < limit]
    if short:
        done = ", ".join(f"{r.method} {len(r.results)} of {limit}" for r in runs)
        lines += [
            "",
            f"**Partial run**: {done} puzzles finished. Each row counts its own puzzles; the paired counts "
            "below use only the puzzles both methods finished.",
        ]
    errors = sum(sum(x.error is not None for x in r.results) for r in runs)
    if errors:
        lines += ["", f"{errors} puzzle(s) ended in a provider error; they count as wrong and `--resume` retries them."]
    lines += ["", *_answer_lines(runs)]
    xolver = by_method["xolver"]
    pairs: dict[str, Paired] = {}
    if xolver.results:
        for other in ("xolver-unchecked", "single"):
            if by_method[other].results:
                pairs[other] = paired(xolver.results, by_method[other].results)
    gaps = _gap_lines(pairs, limit)
    if gaps:
        lines += ["", *gaps]
    paired_text = _paired_lines(pairs, [r.id for run in runs for r in run.results])
    if paired_text:
        lines += ["", *paired_text]
    for team in ("xolver", "xolver-unchecked"):
        team_text = _xolver_lines(by_method[team])
        if team_text:
            lines += ["", *team_text]
    lines += ["", end]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the Game of 24 file (printed as given)")
    parser.add_argument("--limit", required=True, type=int, help="the first N puzzles")
    add_model_arguments(parser)
    add_eval_arguments(parser, team_only="the team methods only")
    add_output_arguments(parser, methods=METHODS, results=RESULTS, docs=DOCS)
    # team_bench's argument helpers read the dataset from the namespace.
    parser.set_defaults(dataset=DATASET)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)} (choose from {', '.join(METHODS)})")
    try:
        check_runs_match(args)
        if not args.report_only:
            args.results_dir.mkdir(parents=True, exist_ok=True)
            model = _model_record(args)
            for method in (m for m in METHODS if m in methods):
                out = results_path(args.results_dir, DATASET, method)
                label = f"gameof24_bench: {method}"
                code = run_session(
                    out, method_argv(args, method), label=label, model=model, load_interval=args.load_interval
                )
                if code != 0:
                    print(f"{label} ended with exit {code}; docs left as they were", file=sys.stderr)
                    return code
        check_runs_match(args)  # e.g. a config file changed the team: name it in the command
        section = render_section(limit=args.limit, command=canonical_command(args), results_dir=args.results_dir)
    except UserError as e:
        print(f"gameof24_bench: error: {e}", file=sys.stderr)
        return 1
    print(section)
    if args.write_docs:
        write_docs(section, DATASET, args.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
