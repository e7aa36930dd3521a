"""Reading back a team benchmark's results and rendering its docs section (`team_bench.py` runs it).

The section is built only from files: the ``<dataset>-<method>.jsonl`` results (read with
`read_results`) and the ``.machine.json`` sidecars that `team_bench.py` writes while each method runs.
Methods with fewer finished problems than the limit are shown with their own N, and every paired
figure (the per-problem table, the sign test, the target gaps) uses only the problems both methods
finished.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _machine import LoadSummary, describe_machine

from xolver.eval.report import summarize, wilson_interval
from xolver.eval.runner import ProblemResult, RunConfig, read_results

__all__ = [
    "METHODS",
    "MethodRun",
    "Paired",
    "load_run",
    "machine_path",
    "markers",
    "paired",
    "render_section",
    "results_path",
    "sign_test_p",
    "write_docs",
]

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("single", "xolver", "self-consistency")
TITLES = {"gsm8k": "GSM8K", "math500": "MATH-500", "aime24": "AIME 2024", "aime25": "AIME 2025", "amc23": "AMC 2023"}
TARGET_POINTS = 10.0


def markers(dataset: str) -> tuple[str, str]:
    return f"<!-- team-{dataset}:start -->", f"<!-- team-{dataset}:end -->"


def results_path(results_dir: Path, dataset: str, method: str) -> Path:
    return results_dir / f"{dataset}-{method}.jsonl"


def machine_path(results: Path) -> Path:
    return results.with_suffix(".machine.json")


# ----------------------------------------------------------------------------- statistics


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided sign test (McNemar's exact test) on the discordant pairs: P(as extreme | p = 1/2)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / (1 << n)
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Paired:
    """Per-problem outcomes of two runs on the problems both finished."""

    common: int
    both_right: int
    both_wrong: int
    only_first: list[str] = field(default_factory=list)  # ids the first run got right and the second wrong
    only_second: list[str] = field(default_factory=list)

    @property
    def gap_points(self) -> float:
        """First minus second accuracy on the common problems, in percentage points."""
        return 100.0 * (len(self.only_first) - len(self.only_second)) / self.common if self.common else 0.0

    @property
    def p_value(self) -> float:
        return sign_test_p(len(self.only_first), len(self.only_second))


def paired(first: Sequence[ProblemResult], second: Sequence[ProblemResult]) -> Paired:
    """Compare two runs problem by problem, on the ids both recorded (in the first run's order)."""
    theirs = {r.id: r for r in second}
    both_right = both_wrong = 0
    only_first: list[str] = []
    only_second: list[str] = []
    common = 0
    for mine in first:
        other = theirs.get(mine.id)
        if other is None:
            continue
        common += 1
        if mine.correct and other.correct:
            both_right += 1
        elif mine.correct:
            only_first.append(mine.id)
        elif other.correct:
            only_second.append(mine.id)
        else:
            both_wrong += 1
    return Paired(common, both_right, both_wrong, only_first, only_second)


def compact_ids(ids: Sequence[str]) -> tuple[str, str]:
    """The prefix ending in '/' and the suffix starting with '.' that every id shares (e.g. 'test/', '.json')."""
    if not ids:
        return "", ""

    def shared_start(texts: Sequence[str]) -> str:
        first, last = min(texts), max(texts)  # the lexicographic extremes bound every common prefix
        size = next(
            (i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last))
        )
        return first[:size]

    prefix = shared_start(ids)
    prefix = prefix[: prefix.rfind("/") + 1]
    suffix = shared_start([i[::-1] for i in ids])[::-1]
    suffix = suffix[suffix.find(".") :] if "." in suffix else ""
    if any(len(i) <= len(prefix) + len(suffix) for i in ids):
        return "", ""
    return prefix, suffix


# ----------------------------------------------------------------------------- reading runs back


@dataclass
class MethodRun:
    """One method's results (restricted to the first `limit` problems) and its recorded sessions."""

    method: str
    path: Path
    config: RunConfig | None = None
    results: list[ProblemResult] = field(default_factory=list)
    beyond_limit: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    first_of: int | None = None
    """Self-consistency read from a larger pool: the vote over the first k samples of `first_of`."""


def read_sessions(results: Path) -> list[dict[str, Any]]:
    path = machine_path(results)
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("sessions", []))


def load_run(results_dir: Path, dataset: str, method: str, limit: int) -> MethodRun:
    path = results_path(results_dir, dataset, method)
    run = MethodRun(method, path, sessions=read_sessions(path))
    if not path.is_file():
        return run
    saved = read_results(path)
    run.config = saved.config
    run.results = [r for r in saved.results if r.index < limit]
    run.beyond_limit = len(saved.results) - len(run.results)
    return run


# ----------------------------------------------------------------------------- rendering


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _settings(config: RunConfig, first_of: int | None = None) -> str:
    parts = [f"temperature {config.temperature:g}", f"max tokens {config.max_tokens or 'default'}"]
    if config.method == "xolver":
        parts.insert(0, f"m = {config.agents}, I = {config.rounds}, memory {config.memory_mode}")
    elif config.method == "self-consistency":
        parts.insert(0, f"{config.samples} samples")
        if first_of is not None:
            parts[0] = f"vote over the first {config.samples} of {first_of} samples"
    if config.concurrency > 1:
        parts.append(f"concurrency {config.concurrency}")
    return ", ".join(parts)


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _model_lines(runs: Sequence[MethodRun]) -> list[str]:
    specs = sorted({r.config.model for r in runs if r.config is not None})
    shas = sorted({s["model"]["sha256"] for r in runs for s in r.sessions if s.get("model", {}).get("sha256")})
    expected = {s["model"].get("expected_sha256") for r in runs for s in r.sessions if s.get("model")}
    model = ", ".join(f"`{s}`" for s in specs) or "none yet"
    if len(shas) == 1:
        checked = " (equal to `--expect-sha256`)" if shas[0] in expected else ""
        digest = f"file SHA-256 `{shas[0]}`{checked}, computed when the runs started"
    elif shas:
        digest = "**the model file changed between sessions**: SHA-256 " + ", ".join(f"`{s}`" for s in shas)
    elif any(r.sessions for r in runs):
        digest = "not a local file, so no SHA-256"
    else:
        digest = "SHA-256 not recorded (no .machine.json next to the results)"
    return [f"Model: {model}; {digest}."]


def _machine_text(session: dict[str, Any]) -> str:
    text = describe_machine(session["machine"])
    threads = (session.get("env") or {}).get("XOLVER_LLAMA_THREADS")
    return text + (f"; XOLVER_LLAMA_THREADS={threads}" if threads else "")


def _machine_lines(runs: Sequence[MethodRun]) -> list[str]:
    sessions = [(r.method, s) for r in runs for s in r.sessions]
    if not sessions:
        return ["Machine: not recorded (no `.machine.json` next to the results files)."]
    machines: list[str] = []
    for _, session in sessions:
        if _machine_text(session) not in machines:
            machines.append(_machine_text(session))
    unrecorded = [r.method for r in runs if r.results and not r.sessions]
    if len(machines) == 1:
        lines = [f"Machine, as measured while the results were produced: {machines[0]}."]
        if unrecorded:
            lines[0] += f" Not recorded for {', '.join(unrecorded)} (no `.machine.json`)."
    else:
        lines = ["Machines, as measured while the results were produced (the sessions say which):", ""]
        lines += [f"- M{i}: {m}" for i, m in enumerate(machines, start=1)]
        if unrecorded:
            lines.append(f"- not recorded for {', '.join(unrecorded)} (no `.machine.json`)")
    many = len(machines) > 1
    lines += [
        "",
        "Sessions that produced these results, with the 1-minute load average sampled by a background thread "
        "while the method ran (this benchmark's own threads included):",
        "",
        "| method | started (UTC) | results written | wall | load min / mean / max | samples |"
        + (" machine |" if many else ""),
        "|---|---|---:|---:|---|---:|" + ("---|" if many else ""),
    ]
    for method, session in sessions:
        load = LoadSummary.from_json(session["load"]) if session.get("load") else None
        measured = (
            f"{load.minimum:.1f} / {load.mean:.1f} / {load.maximum:.1f} on {load.cores} cores | {load.samples} |"
            if load
            else "not available | 0 |"
        )
        row = f"| {method} | {session['started']} | {session['written']} | {_duration(session['wall_seconds'])} | "
        row += measured + (f" M{machines.index(_machine_text(session)) + 1} |" if many else "")
        lines.append(row)
    loads = [LoadSummary.from_json(s["load"]) for _, s in sessions if s.get("load")]
    if loads:
        busy = sum(load.mean > load.cores for load in loads)
        lines += [
            "",
            f"The mean load exceeded the core count in {busy} of {len(loads)} sessions"
            + (": more runnable threads than cores, so those wall times include waiting for a core." if busy else "."),
        ]
    return lines


def _results_table(runs: Sequence[MethodRun], limit: int) -> list[str]:
    lines = [
        "| method | settings | problems | correct | accuracy [95% CI] | calls / problem, mean (median) | "
        "tokens / problem | wall s / problem | wall, all problems |",
        "|---|---|---:|---:|---|---|---:|---:|---:|",
    ]
    for run in runs:
        if run.config is None or not run.results:
            settings = _settings(run.config, run.first_of) if run.config else "not run"
            lines.append(f"| {run.method} | {settings} | 0 of {limit} | | | | | | |")
            continue
        s = summarize(run.results)
        low, high = wilson_interval(s.correct, s.n)
        errors = f" ({s.errors} errors)" if s.errors else ""
        wall = sum(r.wall_seconds for r in run.results)
        median_calls = statistics.median(r.calls for r in run.results)
        lines.append(
            f"| {run.method} | {_settings(run.config, run.first_of)} | {s.n} of {limit}{errors} | {s.correct}/{s.n} | "
            f"**{s.accuracy:.1%}** [{low:.1%}, {high:.1%}] | {s.mean_calls:.2f} ({median_calls:g}) | "
            f"{s.mean_tokens:,.0f} | {s.mean_seconds:.1f} | {_duration(wall)} |"
        )
    return lines


def _target_lines(by_method: dict[str, MethodRun], pairs: dict[str, Paired], limit: int | None = None) -> list[str]:
    xolver = by_method["xolver"]
    lines = [f"Target: xolver >= single + {TARGET_POINTS:g} points and >= self-consistency at matched calls."]
    for other, need in (("single", TARGET_POINTS), ("self-consistency", 0.0)):
        pair = pairs.get(other)
        if pair is None or pair.common == 0:
            lines.append(f"- xolver - {other}: not measured (no problem finished by both).")
            continue
        matched = ""
        sc = by_method["self-consistency"]
        if other == "self-consistency" and sc.config is not None and xolver.results:
            matched = (
                f" ({sc.config.samples} samples per problem; xolver made "
                f"{summarize(xolver.results).mean_calls:.2f} calls per problem)"
            )
        verdict = "met" if pair.gap_points >= need else "missed"
        if limit is not None and pair.common < limit:
            verdict += f" so far; not judged until all {limit} are done"
        lines.append(
            f"- xolver - {other}{matched}: {pair.gap_points:+.1f} points on {pair.common} common problems "
            f"(needs >= {need:+g} points): **{verdict}**."
        )
    return lines


def _paired_lines(pairs: dict[str, Paired], all_ids: Sequence[str]) -> list[str]:
    if not pairs:
        return []
    prefix, suffix = compact_ids(all_ids)
    strip = len(suffix)

    def short(ids: Sequence[str]) -> str:
        if not ids:
            return "none"
        return ", ".join(i[len(prefix) : len(i) - strip] for i in ids)

    lines = [
        "Paired, problem by problem, on the problems both methods finished. p is the exact two-sided sign "
        "test (McNemar's exact test) on the discordant problems, given from 10 common problems on:",
        "",
        "| pair | common problems | xolver right, other wrong | xolver wrong, other right | both right | "
        "both wrong | sign test p |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for other, pair in pairs.items():
        p = _p(pair.p_value) if pair.common >= 10 else "n < 10"
        lines.append(
            f"| xolver vs {other} | {pair.common} | {len(pair.only_first)} | {len(pair.only_second)} | "
            f"{pair.both_right} | {pair.both_wrong} | {p} |"
        )
    where = f" (ids without the shared `{prefix}` ... `{suffix}`)" if prefix or suffix else ""
    lines += ["", f"Discordant problems{where}:", ""]
    for other, pair in pairs.items():
        lines.append(f"- xolver right, {other} wrong: {short(pair.only_first)}")
        lines.append(f"- xolver wrong, {other} right: {short(pair.only_second)}")
    return lines


def _xolver_lines(run: MethodRun) -> list[str]:
    if not run.results:
        return []
    n = len(run.results)
    stops: Counter[str] = Counter()
    stop_correct: Counter[str] = Counter()
    for r in run.results:
        reason = r.stop_reason or "none"
        stops[reason] += 1
        stop_correct[reason] += int(r.correct)
    stop_text = ", ".join(f"`{k}` {v} ({stop_correct[k]} correct)" for k, v in stops.most_common())
    checked = [r for r in run.results if r.verifier_checked]
    how = Counter(_check_kind(r.verifier_check) for r in checked)
    how_text = " (" + ", ".join(f"{k}: {v}" for k, v in how.most_common()) + ")" if how else ""
    roles: Counter[str] = Counter()
    for r in run.results:
        roles.update(r.calls_by_role)
    order = {role: i for i, role in enumerate(("planner", "solver", "judge", "verifier"))}
    ranked = sorted(roles, key=lambda role: (order.get(role, len(order)), role))
    role_text = ", ".join(f"{role} {roles[role] / n:.2f}" for role in ranked) or "not recorded"
    return [
        f"{run.method}, on its {n} problems. Stop reasons (problems, of which correct): {stop_text}. "
        f"An executed check agreed with the final answer on {len(checked)} of {n}{how_text}, "
        f"{sum(r.correct for r in checked)} of them correct. Calls per problem by role: {role_text}.",
        *_seat_lines(run),
    ]


def _check_kind(how: str | None) -> str:
    """The kind of executed check a result's `verifier_check` sentence describes."""
    text = (how or "").lower()
    if text.startswith("its program"):
        return "a program seat's program"
    if text.startswith("the judge's own program"):
        return "the judge's blind check"
    if text.startswith("sympy"):
        return "a SymPy substitution"
    if text.startswith("exact check"):
        return "the exact expression check"
    if text.startswith("exact arithmetic"):
        return "an exact evaluation of the problem"
    if "test" in text:
        return "tests"
    return "unspecified"


def _seat_lines(run: MethodRun) -> list[str]:
    """How often each kind of seat was right, from the graded candidates (results that record them)."""
    recorded = [r for r in run.results if r.candidates]
    if not recorded:
        return []
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for r in recorded:
        for c in r.candidates:
            kind = f"{c.method}, {'greedy' if c.round == 0 and c.temperature == 0.0 else 'sampled'}"
            total[kind] += 1
            right[kind] += int(bool(c.correct))
    kinds = ", ".join(f"{kind} {right[kind]}/{total[kind]} ({right[kind] / total[kind]:.0%})" for kind in sorted(total))
    reachable = sum(any(c.correct for c in r.candidates) for r in recorded)
    won = sum(r.correct for r in recorded if any(c.correct for c in r.candidates))
    return [
        "",
        f"Candidates (every agent's answer of every round, graded; a failed attempt counts as wrong): {kinds}. "
        f"Some candidate was right on {reachable} of {len(recorded)} problems (the ceiling of any choice "
        f"among them); the team chose a right one on {won} of those.",
    ]


def first_samples(run: MethodRun, k: int) -> MethodRun | None:
    """Self-consistency with `k` samples read from a run that drew more: each problem's vote over its
    first `k` samples (the seeds a `k`-sample run would have drawn), graded by the grades recorded
    for those samples. None when some problem lacks `k` recorded samples.

    Answers are grouped by `same_answer` (the team's rule); calls are `k` and the tokens and wall
    time of the whole draw are scaled by `k / N`.
    """
    from xolver.graph.aggregation import same_answer

    if run.config is None or not run.config.samples or run.config.samples <= k:
        return None
    if any(len(r.candidates) < k for r in run.results):
        return None
    share = k / run.config.samples
    results = []
    for r in run.results:
        groups: list[list[Any]] = []  # [answer, votes, correct]
        for c in r.candidates[:k]:
            if not c.answer:
                continue
            group = next((g for g in groups if same_answer(g[0], c.answer)), None)
            if group is None:
                groups.append([c.answer, 1, bool(c.correct)])
            else:
                group[1] += 1
        best = max(groups, key=lambda g: g[1]) if groups else None  # max keeps the earliest on ties
        results.append(
            r.model_copy(
                update={
                    "answer": best[0] if best else None,
                    "correct": bool(best and best[2]),
                    "score": 1.0 if best and best[2] else 0.0,
                    "votes": best[1] if best else 0,
                    "calls": k,
                    "prompt_tokens": round(r.prompt_tokens * share),
                    "completion_tokens": round(r.completion_tokens * share),
                    "wall_seconds": r.wall_seconds * share,
                    "candidates": r.candidates[:k],
                }
            )
        )
    config = run.config.model_copy(update={"samples": k})
    return MethodRun(run.method, run.path, config, results, run.beyond_limit, run.sessions, first_of=run.config.samples)


def render_section(dataset: str, *, limit: int, command: str, results_dir: Path = RESULTS, root: Path = ROOT) -> str:
    """The docs section for `dataset`, rebuilt from the results files and their machine sidecars."""
    start, end = markers(dataset)
    runs = [load_run(results_dir, dataset, method, limit) for method in METHODS]
    xolver_run, sc_run = runs[METHODS.index("xolver")], runs[METHODS.index("self-consistency")]
    if len(xolver_run.results) >= limit and sc_run.results:
        # A self-consistency pool larger than xolver's mean calls is read at matched calls.
        matched = first_samples(sc_run, max(1, round(summarize(xolver_run.results).mean_calls)))
        if matched is not None:
            runs[METHODS.index("self-consistency")] = matched
    by_method = {r.method: r for r in runs}
    try:
        shown_dir = results_dir.resolve().relative_to(root.resolve())
    except ValueError:
        shown_dir = results_dir
    title = TITLES.get(dataset, dataset)
    lines = [
        start,
        f"## One call vs the team vs self-consistency: {title}, first {limit} problems",
        "",
        "Command (from the repository root; it resumes every method, so with the results complete it only "
        "rebuilds this section):",
        "",
        f"    {command}",
        "",
    ]
    if not any(r.config for r in runs):
        where = f"`{shown_dir}/{dataset}-<method>.jsonl`"
        return "\n".join([*lines, f"Not run yet: no results in {where}.", "", end])
    lines += _model_lines(runs)
    configs = [r.config for r in runs if r.config is not None]
    if configs:
        digests = sorted({c.dataset_sha256 for c in configs})
        if len(digests) == 1:
            lines[-1] += f" Dataset SHA-256 `{digests[0][:16]}...`."
        else:
            lines[-1] += (
                " **The methods ran on different data files**: SHA-256 "
                + ", ".join(f"`{d[:16]}...`" for d in digests)
                + "."
            )
    lines.append(f"Results: `{shown_dir}/{dataset}-<method>.jsonl`, machine records beside them in `.machine.json`.")
    lines += ["", *_machine_lines(runs), ""]
    lines += _results_table(runs, limit)
    short = [r for r in runs if len(r.results) < limit]
    if short:
        done = ", ".join(f"{r.method} {len(r.results)} of {limit}" for r in runs)
        lines += [
            "",
            f"**Partial run**: {done} problems finished. Each row counts its own problems; the paired "
            "counts and the target gaps below use only the problems both methods finished.",
        ]
    extra = [r for r in runs if r.beyond_limit]
    if extra:
        lines += [
            "",
            "Not counted: "
            + ", ".join(f"{r.beyond_limit} {r.method} result(s) beyond the first {limit} problems" for r in extra)
            + ".",
        ]
    errors = sum(sum(x.error is not None for x in r.results) for r in runs)
    if errors:
        lines += [
            "",
            f"{errors} problem(s) ended in a provider error; they count as wrong and `--resume` retries them.",
        ]
    xolver = by_method["xolver"]
    pairs: dict[str, Paired] = {}
    if xolver.results:
        for other in ("single", "self-consistency"):
            if by_method[other].results:
                pairs[other] = paired(xolver.results, by_method[other].results)
    lines += ["", *_target_lines(by_method, pairs, limit)]
    all_ids = [r.id for run in runs for r in run.results]
    paired_text = _paired_lines(pairs, all_ids)
    if paired_text:
        lines += ["", *paired_text]
    xolver_text = _xolver_lines(xolver)
    if xolver_text:
        lines += ["", *xolver_text]
    lines += ["", end]
    return "\n".join(lines)


def write_docs(section: str, dataset: str, docs: Path = DOCS) -> None:
    start, end = markers(dataset)
    text = docs.read_text(encoding="utf-8") if docs.is_file() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    docs.write_text(text, encoding="utf-8")
