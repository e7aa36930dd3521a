"""benchmarks/gameof24_bench.py: the three methods' eval commands and the docs section rebuilt from results."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LIMIT = 4
GOLD = ["24 from 2 5 8 11", "24 from 4 4 7 10", "24 from 1 2 3 4", "24 from 1 1 4 6"]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("gameof24_bench")


def _config(method: str, **extra: Any) -> dict[str, Any]:
    config = {
        "dataset": "gameof24",
        "data_path": "/data/gameof24/gameof24.jsonl",
        "dataset_sha256": "5e1d" * 16,
        "method": method,
        "model": "openai/qwen",
        "temperature": 0.0 if method == "single" else 0.2,
        "max_tokens": 512,
        "limit": LIMIT,
    }
    if method == "xolver":
        config.update(agents=3, rounds=2, memory_mode="off")
    return {**config, **extra}


def _write(path: Path, config: dict[str, Any], answers: list[tuple[str | None, bool, str]]) -> None:
    """One result per (answer, correct, check detail); there is no gold expression, only the puzzle."""
    lines = [json.dumps({"type": "config", "config": config})]
    for i, (answer, correct, detail) in enumerate(answers):
        row = {"type": "result", "id": str(i), "index": i, "correct": correct, "score": float(correct)}
        row.update(answer=answer, gold=GOLD[i], check="expression", check_detail=detail, calls=1, wall_seconds=2.0)
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """single and xolver: all 4 puzzles; xolver-unchecked: 3 (interrupted)."""
    out = tmp_path / "results"
    out.mkdir()
    misused = "(11 - 5) * 4 must use each of [2, 5, 8, 11] exactly once: it uses [4] not given and leaves out [2, 8]"
    _write(
        out / "gameof24-single.jsonl",
        _config("single"),
        [
            ("24", False, misused),
            ("(10 - 4) * (7 - 4)", False, "(10 - 4) * (7 - 4) = 18, not 24"),
            ("1*2*3*4", True, ""),
            (None, False, "no answer"),
        ],
    )
    _write(
        out / "gameof24-xolver.jsonl",
        _config("xolver"),
        [
            ("(11 - 5) * 8 / 2", True, ""),
            ("(10 - 4) * 4", False, "... must use each of ..."),
            ("1*2*3*4", True, ""),
            ("(6 - 1 - 1) * 4", True, ""),
        ],
    )
    _write(
        out / "gameof24-xolver-unchecked.jsonl",
        _config("xolver", exact_checks=False),
        [
            ("(11 - 5) * 4", False, misused),
            ("4 + 4 + 7 + 10 = 24", False, "4 + 4 + 7 + 10 = 25, not 24"),
            ("1*2*3*4", True, ""),
        ],
    )
    return out


def test_the_team_methods_differ_only_in_the_exact_check_switch(bench: ModuleType, tmp_path: Path) -> None:
    args = bench.build_parser().parse_args(["--data", "g24.jsonl", "--limit", "50", "--results-dir", str(tmp_path)])
    single, team, unchecked = (bench.method_argv(args, m) for m in bench.METHODS)
    assert single[single.index("--method") + 1] == "single" and "--no-exact-checks" not in single
    assert team[team.index("--dataset") + 1] == "gameof24" and team[team.index("--method") + 1] == "xolver"
    assert unchecked[unchecked.index("--out") + 1] == str(tmp_path / "gameof24-xolver-unchecked.jsonl")
    # Apart from its results file, the unchecked team is the team with the switch off.
    out = team.index("--out") + 1
    assert [*team[:out], *team[out + 1 :], "--no-exact-checks"] == [*unchecked[:out], *unchecked[out + 1 :]]
    assert "--memory-mode" in team and "--resume" in team


def test_section_from_three_runs_one_partial(bench: ModuleType, results_dir: Path) -> None:
    section = bench.render_section(
        limit=LIMIT, command="python benchmarks/gameof24_bench.py ...", results_dir=results_dir
    )
    start, end = "<!-- team-gameof24:start -->", "<!-- team-gameof24:end -->"
    assert section.startswith(start) and section.endswith(end)
    assert "    python benchmarks/gameof24_bench.py ..." in section
    assert "| single | temperature 0, max tokens 512 | 4 of 4 | 1/4 | **25.0%**" in section
    assert "| xolver | m = 3, I = 2, memory off, temperature 0.2, max tokens 512 | 4 of 4 | 3/4 | **75.0%**" in section
    assert "| xolver-unchecked | m = 3, I = 2, memory off, temperature 0.2, max tokens 512 | 3 of 4 | 1/3 |" in section
    assert "**Partial run**: single 4 of 4, xolver 4 of 4, xolver-unchecked 3 of 4 puzzles finished" in section
    # Answer kinds: no gold expression is needed to tell them apart.
    assert "| single | 1 | 0 | 1 | 1 | 0 | 1 |" in section
    assert "| xolver | 3 | 1 | 0 | 0 | 0 | 0 |" in section
    assert "| xolver-unchecked | 1 | 1 | 1 | 0 | 0 | 0 |" in section
    # Paired on the puzzles both finished: the check's gain on 3, the team's over one call on 4.
    assert "- xolver - xolver-unchecked (what the exact expression check adds): +33.3 points on 3 common" in section
    assert "- xolver - single (the team over one call): +50.0 points on 4 common puzzles." in section
    assert "| xolver vs xolver-unchecked | 3 | 1 | 0 | 1 | 1 | n < 10 |" in section
    assert "| xolver vs single | 4 | 2 | 0 | 1 | 1 | n < 10 |" in section
    assert "- xolver right, xolver-unchecked wrong: 0" in section
    assert "xolver-unchecked, on its 3 problems." in section
    assert "SHA-256 not recorded" in section and "Dataset SHA-256 `5e1d5e1d5e1d5e1d...`" in section


def test_nothing_run_yet(bench: ModuleType, tmp_path: Path) -> None:
    section = bench.render_section(limit=50, command="cmd", results_dir=tmp_path)
    assert "Not run yet: no results in" in section and "gameof24-<method>.jsonl" in section


def _twenty_four(request: ModelRequest) -> str:
    # Right on the first puzzle, a bare 24 on the second.
    right = "2 5 8 11" in request.messages[-1].content
    return "So \\boxed{(11 - 5) * 8 / 2}" if right else "So \\boxed{24}"


def test_a_run_records_its_session_writes_the_section_and_refuses_other_options(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "g24.jsonl"
    data.write_text('{"input": "2 5 8 11", "target": "24"}\n{"input": "4 4 7 10", "target": "24"}\n', encoding="utf-8")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: FunctionModel(_twenty_four))
    results, docs = tmp_path / "results", tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nBefore.\n", encoding="utf-8")
    argv = ["--data", str(data), "--limit", "2", "--model", "openai/qwen", "--results-dir", str(results)]
    argv += ["--load-interval", "0.05", "--quiet", "--docs", str(docs), "--methods", "single", "--write-docs"]
    assert bench.main(argv) == 0
    (session,) = json.loads((results / "gameof24-single.machine.json").read_text())["sessions"]
    assert session["written"] == 2 and "--method" in session["argv"] and session["load"]["samples"] >= 2
    result = [json.loads(line) for line in (results / "gameof24-single.jsonl").read_text().splitlines()][1:]
    assert [(r["correct"], r["gold"]) for r in result] == [(True, "24 from 2 5 8 11"), (False, "24 from 4 4 7 10")]
    text = docs.read_text()
    assert (
        text.startswith("# Benchmarks\n\nBefore.\n")
        and "| single | temperature 0, max tokens default | 2 of 2 |" in text
    )
    assert "--write-docs" in text and "--methods" not in text and "--docs" not in text
    # A team results file with the switch the other way round is not reported under this command.
    config = _config("xolver", model="openai/qwen", max_tokens=None, exact_checks=True)
    _write(results / "gameof24-xolver-unchecked.jsonl", config, [("1*2*3*4", True, "")])
    assert bench.main([*argv, "--report-only"]) == 1
