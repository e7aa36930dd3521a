"""benchmarks/team_bench.py: the docs section rebuilt from results files (paired counts, sign test, partial runs)."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LIMIT = 12


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_team_report")


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("team_bench")


def _config(method: str, **extra: Any) -> dict[str, Any]:
    config = {
        "dataset": "gsm8k",
        "data_path": "/data/gsm8k/test.jsonl",
        "dataset_sha256": "43c686e26e4890cb" * 4,
        "method": method,
        "model": "local//models/qwen.gguf",
        "seed": 0,
        "temperature": {"single": 0.0, "xolver": 0.2, "self-consistency": 0.7}[method],
        "max_tokens": 256,
        "limit": LIMIT,
    }
    return {**config, **extra}


def _write_results(path: Path, config: dict[str, Any], rows: list[dict[str, Any]], *, torn: bool = False) -> None:
    lines = [json.dumps({"type": "config", "config": config})]
    for row in rows:
        result = {"type": "result", "score": float(row["correct"]), "prompt_tokens": 90, "completion_tokens": 30}
        lines.append(json.dumps({**result, "wall_seconds": 10.0, **row}))
    text = "\n".join(lines) + "\n"
    if torn:  # a run killed mid-write leaves half a line
        text += '{"type": "result", "id": "zz", "ind'
    path.write_text(text, encoding="utf-8")


def _rows(right: set[int], count: int, *, calls: int = 1, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": str(i), "index": i, "correct": i in right, "calls": calls, **extra} for i in range(count)]


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """single: 12 problems (+1 beyond the limit); xolver: 12; self-consistency: 8 (interrupted)."""
    out = tmp_path / "results"
    out.mkdir()
    single = [*_rows({0, 1, 2, 9}, LIMIT), {"id": "12", "index": 12, "correct": True, "calls": 1}]
    _write_results(out / "gsm8k-single.jsonl", _config("single"), single)
    xolver = _rows({0, 1, 3, 4, 5, 6, 7, 8, 10, 11}, LIMIT, calls=18)
    for row in xolver:
        i = row["index"]
        row.update(
            stop_reason="agreement" if i % 2 else "max_rounds",
            verifier_checked=i < 4,
            verifier_check="sympy" if i < 4 else None,
            calls_by_role={"planner": 1, "solver": 12, "judge": 4, "verifier": 1},
        )
    # Two problems record their graded candidates: a greedy program seat (right once) and a
    # sampled reasoning seat (never right, once no answer).
    xolver[0]["candidates"] = [
        {"round": 0, "agent": 0, "method": "program", "temperature": 0.0, "answer": "5", "correct": True},
        {"round": 0, "agent": 1, "method": "reasoning", "temperature": 0.7, "answer": "6", "correct": False},
    ]
    xolver[2]["candidates"] = [
        {"round": 0, "agent": 0, "method": "program", "temperature": 0.0, "answer": "7", "correct": False},
        {"round": 1, "agent": 1, "method": "reasoning", "temperature": 0.7, "answer": None, "correct": None},
    ]
    xolver[11]["calls"] = 17  # mean 17.92, median 18
    team = _config("xolver", agents=3, rounds=2, memory_mode="off")
    _write_results(out / "gsm8k-xolver.jsonl", team, xolver)
    sc = _rows({0, 1, 2, 3, 4}, 8, calls=18)
    _write_results(out / "gsm8k-self-consistency.jsonl", _config("self-consistency", samples=18), sc, torn=True)
    session = {
        "started": "2026-01-02T03:04:05+00:00",
        "wall_seconds": 3723.0,
        "written": 12,
        "exit_code": 0,
        "model": {"spec": "local//models/qwen.gguf", "sha256": "1d96" + "0" * 60, "expected_sha256": "1d96" + "0" * 60},
        "machine": {
            "nproc": 2,
            "cpu_count": 2,
            "cpu_model": "Test CPU 9000",
            "ram_gib": 7.5,
            "os": "Linux 6.0 x86_64",
            "python": "3.11.7",
            "packages": {"llama-cpp-python": "0.3.36"},
        },
        "env": {"XOLVER_LLAMA_THREADS": None},
        "load": {"interval_s": 5.0, "samples": 745, "minimum": 1.2, "mean": 2.5, "maximum": 6.3, "cores": 2},
    }
    (out / "gsm8k-xolver.machine.json").write_text(json.dumps({"sessions": [session]}), encoding="utf-8")
    return out


def test_sign_test_matches_the_binomial(report: ModuleType) -> None:
    sign_test_p = report.sign_test_p
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 5) == 1.0
    assert sign_test_p(10, 0) == pytest.approx(2 / 1024)
    assert sign_test_p(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert sign_test_p(8, 2) == sign_test_p(2, 8)
    assert sign_test_p(7, 1) == pytest.approx(2 * (math.comb(8, 0) + math.comb(8, 1)) / 256)


def test_section_from_partial_runs(report: ModuleType, results_dir: Path) -> None:
    section = report.render_section(
        "gsm8k", limit=LIMIT, command="python benchmarks/team_bench.py ...", results_dir=results_dir
    )
    start, end = report.markers("gsm8k")
    assert section.startswith(start) and section.endswith(end)
    assert "    python benchmarks/team_bench.py ..." in section
    # Each method shows its own N; the torn last line and the result beyond the limit are not counted.
    assert (
        "| single | temperature 0, max tokens 256 | 12 of 12 | 4/12 | **33.3%** [13.8%, 60.9%] | 1.00 (1) |" in section
    )
    assert "| xolver | m = 3, I = 2, memory off, temperature 0.2, max tokens 256 | 12 of 12 | 10/12 |" in section
    assert "17.92 (18)" in section
    assert "program, greedy 1/2 (50%), reasoning, sampled 0/2 (0%)" in section
    assert "Some candidate was right on 1 of 2 problems" in section and "chose a right one on 1 of those" in section
    assert "| self-consistency | 18 samples, temperature 0.7, max tokens 256 | 8 of 12 | 5/8 |" in section
    assert "**Partial run**: single 12 of 12, xolver 12 of 12, self-consistency 8 of 12" in section
    assert "1 single result(s) beyond the first 12 problems" in section
    # Paired on the common ids: vs single all 12, vs self-consistency only the 8 it finished.
    assert "| xolver vs single | 12 | 8 | 2 | 2 | 0 | 0.109 |" in section
    assert "- xolver right, single wrong: 3, 4, 5, 6, 7, 8, 10, 11" in section
    assert "- xolver wrong, single right: 2, 9" in section
    assert "| xolver vs self-consistency | 8 | 3 | 1 | 4 | 0 | n < 10 |" in section
    assert "- xolver wrong, self-consistency right: 2" in section
    # Target gaps on the common problems.
    assert "- xolver - single: +50.0 points on 12 common problems (needs >= +10 points): **met**." in section
    assert "(18 samples per problem; xolver made 17.92 calls per problem): +25.0 points on 8 common" in section
    # The machine comes from the sidecar, not from the machine rendering it.
    machine = "2 cores (nproc), Test CPU 9000, 7.5 GiB RAM; Linux 6.0 x86_64, Python 3.11.7, llama-cpp-python 0.3.36."
    assert machine + " Not recorded for single, self-consistency" in section
    assert "| xolver | 2026-01-02T03:04:05+00:00 | 12 | 1:02:03 | 1.2 / 2.5 / 6.3 on 2 cores | 745 |" in section
    assert "exceeded the core count in 1 of 1 sessions" in section
    assert "SHA-256 `1d96" in section and "(equal to `--expect-sha256`)" in section
    # xolver's own ledger.
    assert "`max_rounds` 6 (5 correct), `agreement` 6 (5 correct)" in section
    assert "agreed with the final answer on 4 of 12 (a SymPy substitution: 4), 3 of them correct" in section
    assert "planner 1.00, solver 12.00, judge 4.00, verifier 1.00" in section


def test_a_larger_self_consistency_pool_is_read_at_xolver_s_mean_calls(report: ModuleType, tmp_path: Path) -> None:
    def samples(*answers: str) -> list[dict[str, Any]]:
        return [
            {"round": 0, "agent": i, "method": "reasoning", "answer": a, "correct": a == "7"}
            for i, a in enumerate(answers)
        ]

    _write_results(tmp_path / "gsm8k-xolver.jsonl", _config("xolver"), _rows({0}, 2, calls=3))
    pool = [
        # First 3 vote 7 (right); all 5 would vote 8.
        {"id": "0", "index": 0, "correct": False, "calls": 5, "candidates": samples("7", "8", "7", "8", "8")},
        # First 3: a tie between 9 and 7 goes to the earlier 9 (wrong); all 5 vote 7.
        {"id": "1", "index": 1, "correct": True, "calls": 5, "candidates": samples("9", "7", "", "7", "7")},
    ]
    _write_results(tmp_path / "gsm8k-self-consistency.jsonl", _config("self-consistency", samples=5), pool)
    section = report.render_section("gsm8k", limit=2, command="cmd", results_dir=tmp_path)
    assert (
        "| self-consistency | vote over the first 3 of 5 samples, temperature 0.7, max tokens 256 | 2 of 2 | 1/2 |"
        in (section)
    )
    assert "(3 samples per problem; xolver made 3.00 calls per problem)" in section
    # Without a complete xolver run there is nothing to match: the pool is shown as drawn.
    (tmp_path / "gsm8k-xolver.jsonl").unlink()
    section = report.render_section("gsm8k", limit=2, command="cmd", results_dir=tmp_path)
    assert "| self-consistency | 5 samples, temperature 0.7, max tokens 256 | 2 of 2 | 1/2 |" in section


def test_missing_methods_and_no_sidecars(report: ModuleType, tmp_path: Path) -> None:
    _write_results(tmp_path / "gsm8k-single.jsonl", _config("single"), _rows({0}, 3))
    section = report.render_section("gsm8k", limit=3, command="cmd", results_dir=tmp_path)
    assert "| xolver | not run | 0 of 3 |" in section
    assert "- xolver - single: not measured" in section
    assert "Machine: not recorded" in section
    assert "Paired" not in section


def test_nothing_run_yet(report: ModuleType, tmp_path: Path) -> None:
    section = report.render_section("math500", limit=30, command="cmd", results_dir=tmp_path)
    assert "MATH-500, first 30 problems" in section and "Not run yet" in section and "| method |" not in section


def test_math500_ids_are_shortened(report: ModuleType) -> None:
    ids = ["test/precalculus/807.json", "test/algebra/12.json", "test/number_theory/1.json"]
    assert report.compact_ids(ids) == ("test/", ".json")
    assert report.compact_ids(["10", "11", "12"]) == ("", "")


def test_write_docs_replaces_only_its_section(report: ModuleType, tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    start, end = report.markers("math500")
    docs.write_text(f"# Benchmarks\n\n<!-- other:start -->\nkeep\n<!-- other:end -->\n\n{start}\nold\n{end}\n")
    report.write_docs(f"{start}\nnew\n{end}", "math500", docs)
    assert (
        docs.read_text() == f"# Benchmarks\n\n<!-- other:start -->\nkeep\n<!-- other:end -->\n\n{start}\nnew\n{end}\n"
    )
    report.write_docs(f"{report.markers('gsm8k')[0]}\nx\n{report.markers('gsm8k')[1]}", "gsm8k", docs)
    assert docs.read_text().endswith("<!-- team-gsm8k:end -->\n") and "new" in docs.read_text()


def _doubler(request: ModelRequest) -> str:
    i = int(request.messages[-1].content.split("What is ")[1].split(" ")[0])
    return f"Adding gives \\boxed{{{7 if i == 3 else 2 * i}}}"


def test_runs_record_the_machine_and_rerun_is_a_no_op(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "gsm.jsonl"
    rows = [{"question": f"What is {i} + {i}?", "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"} for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"not really weights")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: FunctionModel(_doubler))
    results = tmp_path / "results"
    results.mkdir()
    # A saved xolver run (3 calls per problem), so self-consistency has a budget to match without a team solve.
    team = _config("xolver", agents=3, rounds=2, memory_mode="off", model=f"local/{weights}", max_tokens=None)
    docs = tmp_path / "benchmarks.md"
    argv = ["--dataset", "gsm8k", "--data", str(data), "--limit", "4", "--model", f"local/{weights}"]
    argv += ["--results-dir", str(results), "--load-interval", "0.05", "--quiet", "--docs", str(docs)]
    # Self-consistency will not match the calls of an unfinished xolver run.
    _write_results(results / "gsm8k-xolver.jsonl", team, _rows({0, 1}, 3, calls=3))
    assert bench.main([*argv, "--methods", "self-consistency"]) == 1
    assert not (results / "gsm8k-self-consistency.jsonl").exists()
    _write_results(results / "gsm8k-xolver.jsonl", team, _rows({0, 1}, 4, calls=3))
    argv += ["--methods", "single,self-consistency", "--expect-sha256", bench.sha256_of(weights), "--write-docs"]
    assert bench.main(argv) == 0
    single = json.loads((results / "gsm8k-single.machine.json").read_text())["sessions"]
    assert len(single) == 1 and single[0]["written"] == 4 and single[0]["load"]["samples"] >= 2
    assert single[0]["model"]["sha256"] == bench.sha256_of(weights) and single[0]["machine"]["nproc"] >= 1
    section = docs.read_text()
    assert "| single | temperature 0, max tokens default | 4 of 4 | 3/4 |" in section
    assert "| self-consistency | 3 samples," in section
    assert "--write-docs" in section and "--methods" not in section and "--docs" not in section
    # The printed command, run again, resumes nothing, records nothing and rebuilds the same section.
    sidecar = (results / "gsm8k-single.machine.json").read_text()
    assert bench.main(argv) == 0
    assert docs.read_text() == section and (results / "gsm8k-single.machine.json").read_text() == sidecar
    # A wrong checksum stops before any run; a report for other options is refused.
    assert bench.main([*argv, "--expect-sha256", "0" * 64]) == 1
    assert bench.main([*argv, "--report-only", "--max-tokens", "99"]) == 1
