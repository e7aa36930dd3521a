"""Solve rate of one model three ways on one benchmark: one call, the xolver team, and self-consistency.

Runs three ``xolver eval run`` invocations through `xolver.cli.main`, in this order and each with
``--resume`` into ``benchmarks/results/<dataset>-<method>.jsonl`` (so a later session continues):

    single            one greedy chain-of-thought call
    xolver            the default team, ``--memory-mode off``
    self-consistency  a majority vote with ``--match-budget <the xolver results>``, or over the
                      first k of ``--sc-samples N`` samples per problem (k = xolver's mean calls)

While each method runs, a background thread samples the load average; the machine (cores, CPU, RAM,
versions), the load (min / mean / max), the session's wall time and the model file's SHA-256 are
appended to ``<results>.machine.json`` and read back when rendering, so the section describes the
machine as it was while the results were produced. With ``--write-docs`` the section between
``<!-- team-<dataset>:start -->`` and ``<!-- team-<dataset>:end -->`` in docs/benchmarks.md is
rebuilt from the results files. When every results file is complete the runs are no-ops (they
resume with nothing left) and the section is rebuilt as it was: the command printed above the table
is the command that regenerates it.

    python benchmarks/team_bench.py --dataset gsm8k --data ../shared/data/gsm8k/test.jsonl --limit 50 \\
        --model local//work/qwen/qwen2.5-coder-0.5b.gguf --write-docs
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _machine import LoadSampler, machine_facts
from _team_report import DOCS, METHODS, RESULTS, load_run, machine_path, render_section, results_path, write_docs

from xolver.cli import main as xolver_main
from xolver.errors import UserError
from xolver.eval.report import summarize
from xolver.eval.runner import read_results

DATASETS = ("gsm8k", "math500", "aime24", "aime25", "amc23")
PACKAGES = ("xolver", "llama-cpp-python", "langgraph")


def recorded(path: Path) -> int:
    """Result lines in a results file (0 if it does not exist)."""
    if not path.is_file():
        return 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        return sum('"type": "result"' in line for line in handle)


def check_runs_match(args: argparse.Namespace, results_dir: Path) -> None:
    """Refuse to print a command that would not reproduce the saved runs (their config lines disagree).

    Raises:
        UserError: a results file was written with another model, dataset, token cap or team.
    """
    from xolver.config import XolverConfig

    defaults = XolverConfig.model_fields
    for method in METHODS:
        run = load_run(results_dir, args.dataset, method, args.limit)
        if run.config is None:
            continue
        wanted: dict[str, Any] = {"dataset": args.dataset, "model": args.model, "max_tokens": args.max_tokens}
        if method == "xolver":
            wanted["agents"] = args.agents if args.agents is not None else defaults["agents"].default
            wanted["rounds"] = args.rounds if args.rounds is not None else defaults["rounds"].default
            wanted["memory_mode"] = "off"
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


def model_file(spec: str) -> Path | None:
    """The GGUF file a `local` model string names (the default SmolLM2 file for bare 'local'); else None."""
    if spec == "local":
        from xolver.models.local import default_gguf_path

        return default_gguf_path()
    if spec.startswith("local/"):
        return Path(spec[len("local/") :]).expanduser()
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_command(args: argparse.Namespace) -> str:
    """The command that regenerates the section: every method, the run's options, ``--write-docs``."""
    words = ["python", "benchmarks/team_bench.py", "--dataset", args.dataset, "--data", args.data]
    words += ["--limit", str(args.limit), "--model", args.model]
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
        "sc_samples",
    ):
        value = getattr(args, option)
        if value is not None:
            words += ["--" + option.replace("_", "-"), str(value)]
    if args.results_dir != RESULTS:
        words += ["--results-dir", str(args.results_dir)]
    if args.load_interval != 5.0:
        words += ["--load-interval", f"{args.load_interval:g}"]
    return shlex.join([*words, "--write-docs"])


def _common_argv(args: argparse.Namespace, method: str, out: Path) -> list[str]:
    argv = ["eval", "run", "--dataset", args.dataset, "--data", args.data, "--limit", str(args.limit)]
    argv += ["--seed", "0", "--method", method, "--model", args.model, "--out", str(out), "--resume"]
    for option in ("max_tokens", "concurrency", "api_base", "max_concurrency"):
        value = getattr(args, option)
        if value is not None:
            argv += ["--" + option.replace("_", "-"), str(value)]
    if args.quiet:
        argv.append("--quiet")
    return argv


def _budget(args: argparse.Namespace) -> list[str]:
    """Self-consistency's sample count: xolver's mean calls (``--match-budget``), or what a saved run used."""
    xolver_out = results_path(args.results_dir, args.dataset, "xolver")
    sc_out = results_path(args.results_dir, args.dataset, "self-consistency")
    saved = read_results(sc_out).config.samples if sc_out.is_file() and sc_out.stat().st_size else None
    if args.sc_samples is not None:
        if saved is not None and saved != args.sc_samples:
            raise UserError(f"{str(sc_out)!r} was started with {saved} samples, not --sc-samples {args.sc_samples}")
        return ["--samples", str(args.sc_samples)]
    if not xolver_out.is_file():
        if saved:
            return ["--samples", str(saved)]
        raise UserError(f"self-consistency matches xolver's calls, but {str(xolver_out)!r} does not exist yet")
    xolver = read_results(xolver_out)
    match = max(1, round(summarize(xolver.results).mean_calls))
    if saved is not None and saved != match:
        print(
            f"team_bench: {sc_out} was started with {saved} samples; xolver's mean is now {match} calls. "
            f"Continuing with {saved} (the section reports both).",
            file=sys.stderr,
        )
        return ["--samples", str(saved)]
    finished = sum(r.index < args.limit for r in xolver.results)  # provider errors included, as --match-budget does
    if saved is None and finished < args.limit:
        raise UserError(
            f"xolver has recorded {finished} of {args.limit} problems in {str(xolver_out)!r}; finish it first, "
            "since self-consistency takes its mean calls per problem"
        )
    return ["--match-budget", str(xolver_out)]


def method_argv(args: argparse.Namespace, method: str) -> list[str]:
    out = results_path(args.results_dir, args.dataset, method)
    argv = _common_argv(args, method, out)
    if method == "xolver":
        for option in ("agents", "rounds"):
            value = getattr(args, option)
            if value is not None:
                argv += ["--" + option, str(value)]
        argv += ["--memory-mode", "off"]
    elif method == "self-consistency":
        argv += _budget(args)
    return argv


def _append_session(results: Path, session: dict[str, Any]) -> None:
    path = machine_path(results)
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"sessions": []}
    data["sessions"].append(session)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    scratch.replace(path)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM ends the run like Ctrl-C, so the session is still recorded."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_session(out: Path, argv: list[str], *, label: str, model: dict[str, Any], load_interval: float) -> int:
    """Run ``xolver <argv>`` (an eval appending to `out`) in-process, with the machine and the load
    recorded beside its results; `label` starts the progress lines (``team_bench: single``)."""
    before = recorded(out)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print("$ xolver " + shlex.join(argv), file=sys.stderr, flush=True)
    sampler = LoadSampler(load_interval)
    code = 130
    try:
        with sampler, _sigterm_as_interrupt():
            code = xolver_main(argv)
    finally:
        written = recorded(out) - before
        summary = sampler.summary()
        print(
            f"{label}: exit {code}, {written} results written in {sampler.seconds:.0f} s"
            + (f"; {summary.describe()}" if summary else ""),
            file=sys.stderr,
            flush=True,
        )
        if written > 0:  # a session that ran nothing leaves the record (and the section) unchanged
            _append_session(
                out,
                {
                    "started": started,
                    "wall_seconds": round(sampler.seconds, 1),
                    "written": written,
                    "exit_code": code,
                    "argv": argv,
                    "model": model,
                    "machine": machine_facts(*PACKAGES),
                    "env": {"XOLVER_LLAMA_THREADS": os.environ.get("XOLVER_LLAMA_THREADS")},
                    "load": summary.to_json() if summary else None,
                },
            )
    return code


def run_method(args: argparse.Namespace, method: str, model: dict[str, Any]) -> int:
    """One ``xolver eval run`` of `method`, with the machine and the load recorded beside its results."""
    out = results_path(args.results_dir, args.dataset, method)
    return run_session(
        out, method_argv(args, method), label=f"team_bench: {method}", model=model, load_interval=args.load_interval
    )


def _model_record(args: argparse.Namespace) -> dict[str, Any]:
    path = args.model_file or model_file(args.model)
    record: dict[str, Any] = {"spec": args.model, "expected_sha256": args.expect_sha256, "server": args.server}
    if path is None:
        if args.expect_sha256:
            raise UserError(f"--expect-sha256 needs a local model file, and {args.model!r} is not one")
        return record
    if not path.is_file():
        raise UserError(f"model file not found: {str(path)!r}")
    print(f"team_bench: SHA-256 of {path} ...", file=sys.stderr, flush=True)
    digest = sha256_of(path)
    if args.expect_sha256 and digest != args.expect_sha256.lower():
        raise UserError(f"{str(path)!r} has SHA-256 {digest}, not the expected {args.expect_sha256}")
    return {**record, "path": str(path), "sha256": digest, "bytes": path.stat().st_size}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model under test and how its file is checked (shared with gameof24_bench.py)."""
    parser.add_argument("--model", default="local", help="as for xolver eval (default: local)")
    parser.add_argument("--expect-sha256", help="refuse to run unless the local model file has this SHA-256")
    parser.add_argument(
        "--model-file",
        type=Path,
        help="the GGUF a server behind --api-base was started with (its SHA-256 is recorded and checked)",
    )
    parser.add_argument(
        "--server", help="how the model server was started, recorded verbatim with the results (documentation only)"
    )


def add_eval_arguments(parser: argparse.ArgumentParser, *, team_only: str) -> None:
    """Options passed through to `xolver eval run`; `team_only` is the help of the team-only ones."""
    passed = parser.add_argument_group("passed to xolver eval run (left to its defaults when not given)")
    passed.add_argument("--max-tokens", type=int)
    passed.add_argument("--agents", type=int, help=team_only)
    passed.add_argument("--rounds", type=int, help=team_only)
    passed.add_argument("--concurrency", type=int)
    passed.add_argument("--api-base")
    passed.add_argument("--max-concurrency", type=int, help="requests in flight to the model")
    passed.add_argument("--quiet", action="store_true", help="no per-problem progress")


def add_output_arguments(parser: argparse.ArgumentParser, *, methods: Sequence[str], results: Path, docs: Path) -> None:
    """Which methods run, where their results go, and the docs section (shared with gameof24_bench.py)."""
    parser.add_argument("--methods", default=",".join(methods), help="a subset to run, e.g. single,xolver")
    parser.add_argument("--results-dir", type=Path, default=results)
    parser.add_argument("--load-interval", type=float, default=5.0, help="seconds between load-average samples")
    parser.add_argument("--docs", type=Path, default=docs, help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="run nothing; rebuild the section from results")
    parser.add_argument("--write-docs", action="store_true", help="write the section into docs/benchmarks.md")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--data", required=True, help="the benchmark file (printed as given)")
    parser.add_argument("--limit", required=True, type=int, help="the first N problems")
    add_model_arguments(parser)
    add_eval_arguments(parser, team_only="xolver only")
    parser.add_argument(
        "--sc-samples",
        type=int,
        help="self-consistency draws this many samples per problem (a pool, runnable before xolver); the section "
        "reports the vote over each problem's first k samples, k = xolver's mean calls (default: k samples, "
        "after xolver)",
    )
    add_output_arguments(parser, methods=METHODS, results=RESULTS, docs=DOCS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)} (choose from {', '.join(METHODS)})")
    try:
        check_runs_match(args, args.results_dir)
        if not args.report_only:
            args.results_dir.mkdir(parents=True, exist_ok=True)
            model = _model_record(args)
            for method in (m for m in METHODS if m in methods):
                code = run_method(args, method, model)
                if code != 0:
                    print(f"team_bench: {method} ended with exit {code}; docs left as they were", file=sys.stderr)
                    return code
        check_runs_match(args, args.results_dir)  # e.g. a config file changed the team: name it in the command
        section = render_section(
            args.dataset, limit=args.limit, command=canonical_command(args), results_dir=args.results_dir
        )
    except UserError as e:
        print(f"team_bench: error: {e}", file=sys.stderr)
        return 1
    print(section)
    if args.write_docs:
        write_docs(section, args.dataset, args.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
