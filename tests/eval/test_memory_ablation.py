"""benchmarks/memory_ablation.py: the GSM8K team run stands in for the memory-off arm only when it is that arm."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MODEL = "openai/qwen2.5-coder-0.5b-instruct"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("memory_ablation")


def _args(results: Path, **overrides: Any) -> argparse.Namespace:
    values: dict[str, Any] = {"results_dir": results, "model": MODEL, "max_tokens": 512, "agents": None, "rounds": None}
    return argparse.Namespace(**(values | overrides))


def _team_run(results: Path, *, problems: int = 50, error_at: int | None = None, **config: Any) -> Path:
    settings: dict[str, Any] = {"method": "xolver", "model": MODEL, "memory_mode": "off", "seed": 0, "shuffle": False}
    settings |= {"max_tokens": 512, "agents": 3, "rounds": 2} | config
    lines: list[dict[str, Any]] = [{"type": "config", "config": settings}]
    for i in range(problems):
        error = "TransientModelError: timed out" if i == error_at else None
        lines.append({"type": "result", "id": str(i), "index": i, "correct": i % 3 == 0, "error": error})
    path = results / "gsm8k-xolver.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_team_run_with_the_arms_settings_is_copied_and_noted(bench: ModuleType, tmp_path: Path) -> None:
    source = _team_run(tmp_path)
    sessions = '{"sessions": [{"wall_seconds": 4282.0, "model": {"sha256": "1d96"}}]}\n'
    source.with_suffix(".machine.json").write_text(sessions, encoding="utf-8")

    assert bench.reuse_off_arm(_args(tmp_path)) is True

    assert (tmp_path / "memory-gsm8k-off.jsonl").read_bytes() == source.read_bytes()
    assert (tmp_path / "memory-gsm8k-off.machine.json").read_text(encoding="utf-8") == sessions
    note = json.loads((tmp_path / "memory-gsm8k-off.reused.json").read_text(encoding="utf-8"))
    assert note["copied_from"] == "gsm8k-xolver.jsonl" and note["sha256"] == bench.sha256_of(source)
    # Never twice: an off arm that exists (copied or run) is left alone.
    assert bench.reuse_off_arm(_args(tmp_path)) is False


@pytest.mark.parametrize(
    ("config", "args"),
    [
        ({"memory_mode": "learn"}, {}),
        ({"max_tokens": 1024}, {}),
        ({"rounds": 1}, {}),
        ({}, {"agents": 5}),
        ({}, {"model": "openai/another-model"}),
        ({"exact_checks": False}, {}),
    ],
)
def test_a_team_run_with_other_settings_is_not_the_off_arm(
    bench: ModuleType, tmp_path: Path, config: dict[str, Any], args: dict[str, Any]
) -> None:
    _team_run(tmp_path, **config)

    assert bench.reuse_off_arm(_args(tmp_path, **args)) is False
    assert not (tmp_path / "memory-gsm8k-off.jsonl").exists()


@pytest.mark.parametrize(("problems", "error_at"), [(49, None), (50, 7)])
def test_an_unfinished_team_run_is_not_copied(
    bench: ModuleType, tmp_path: Path, problems: int, error_at: int | None
) -> None:
    _team_run(tmp_path, problems=problems, error_at=error_at)

    assert bench.reuse_off_arm(_args(tmp_path)) is False


def test_an_arm_is_compared_with_off_on_the_problems_both_finished(bench: ModuleType, tmp_path: Path) -> None:
    # The seeded arm has finished 4 problems (2 right); off has all 6.
    off = {"0": True, "1": False, "2": True, "3": False, "4": True, "5": True}
    seeded = {"0": False, "1": True, "2": True, "3": False}

    assert bench.paired(seeded, off) == (4, 2, 2, 1, 1)

    for name, flags in (("memory-gsm8k-off", off), ("memory-gsm8k-seeded", seeded)):
        config = {"dataset": "gsm8k", "data_path": "t", "dataset_sha256": "x", "method": "xolver", "model": MODEL}
        lines: list[dict[str, Any]] = [{"type": "config", "config": config}]
        for i, (pid, right) in enumerate(flags.items()):
            lines.append({"type": "result", "id": pid, "index": i, "correct": right, "score": float(right)})
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")

    text = "\n".join(bench._paired_lines(tmp_path))
    assert "seeded vs off on the 4 problems both finished: 2 against 2 (+0, +0.0 points)" in text
    assert "right where off was wrong on 1, the reverse on 1" in text


def test_the_report_lines_are_empty_when_nothing_can_be_compared(bench: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "experience-format.jsonl").write_text("", encoding="utf-8")
    assert bench._probe_lines(tmp_path / "experience-format.jsonl") == []
    assert bench._paired_lines(tmp_path) == []
