"""Accuracy of single, self-consistency and xolver on the first N GSM8K test problems with one model.

Runs three `xolver eval` runs through the CLI (results in --work-dir, resumable), self-consistency at
the mean number of calls the xolver run made, then optionally writes the table into
``docs/benchmarks.md`` between ``<!-- eval:start -->`` and ``<!-- eval:end -->``.

    nice python benchmarks/eval_bench.py --limit 10 --model local --write-docs
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from xolver.cli import main as xolver_main
from xolver.eval.report import ResultsTable
from xolver.eval.runner import read_results

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- eval:start -->", "<!-- eval:end -->"


def _eval(args: argparse.Namespace, method: str, out: Path, *extra: str) -> None:
    argv = [
        "eval",
        "run",
        "--dataset",
        "gsm8k",
        "--data",
        str(args.data),
        "--limit",
        str(args.limit),
        "--seed",
        "0",
        "--method",
        method,
        "--model",
        args.model,
        "--max-tokens",
        str(args.max_tokens),
        "--out",
        str(out),
        "--resume",
        "--quiet",
        *extra,
    ]
    print("$ xolver " + " ".join(argv), file=sys.stderr, flush=True)
    started = time.monotonic()
    code = xolver_main(argv)
    print(f"  exit {code} after {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if code != 0:
        raise SystemExit(code)


def _markdown(paths: list[Path], args: argparse.Namespace, seconds: float) -> str:
    runs = []
    for path in paths:
        saved = read_results(path)
        model = Path(saved.config.model).name if "/" in saved.config.model else saved.config.model
        runs.append((f"{saved.config.method} ({model})", saved.config, saved.results))
    table = ResultsTable(runs)
    lines = [
        START,
        "## Eval: single vs self-consistency vs xolver (GSM8K)",
        "",
        f"Machine: {platform.machine()}, Linux {platform.release()}, Python {platform.python_version()}; "
        "2 CPUs shared with other jobs while this ran (load average 5-8), so wall times are inflated.",
        f"Command: `nice python benchmarks/eval_bench.py --limit {args.limit} --model {args.model} "
        f"--max-tokens {args.max_tokens} --agents {args.agents} --rounds {args.rounds} --write-docs`"
        + ("" if args.skip_run else f" (about {seconds / 60:.0f} min)")
        + ".",
        "",
        "| measure | " + " | ".join(label for label, _, _ in table.runs) + " |",
        "|---|" + "---|" * len(table.runs),
    ]
    for name, values in table.rows():
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    if args.notes:
        lines += ["", args.notes]
    lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _write_docs(section: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.is_file() else "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--model", default="local")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--memory-mode", default="off")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--methods", default="single,xolver,self-consistency")
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more results files for the table")
    parser.add_argument("--notes", default="", help="a paragraph to put under the table")
    parser.add_argument("--skip-run", action="store_true", help="only rebuild the table from the results files")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    paths: list[Path] = []
    tag = f"gsm8k{args.limit}_{args.model.replace('/', '_')}"
    for method in args.methods.split(","):
        out = args.work_dir / f"{tag}_{method}.jsonl"
        paths.append(out)
        if args.skip_run:
            continue
        if method == "xolver":
            team = ["--agents", str(args.agents), "--rounds", str(args.rounds), "--memory-mode", args.memory_mode]
            _eval(args, "xolver", out, *team)
        elif method == "self-consistency":
            xolver_out = args.work_dir / f"{tag}_xolver.jsonl"
            budget = ["--match-budget", str(xolver_out)] if xolver_out.is_file() else ["--samples", "5"]
            _eval(args, "self-consistency", out, *budget)
        else:
            _eval(args, method, out)
    section = _markdown([*paths, *args.extra], args, time.monotonic() - started)
    print(section)
    if args.write_docs:
        _write_docs(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
