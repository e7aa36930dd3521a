"""Loaders on the real benchmark files, and malformed input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from xolver.errors import UserError
from xolver.eval.datasets import NumberPuzzle, load_dataset
from xolver.tools.arithmetic import number_target

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")


@needs_data
@pytest.mark.parametrize(
    ("name", "path", "count", "first_answer"),
    [
        ("gsm8k", "gsm8k/test.jsonl", 1119, "18"),
        ("math500", "math/math500_test.jsonl", 400, "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("aime24", "aime/aime2024_qwen.jsonl", 30, "204"),
        ("aime24", "aime/aime2024_matharena.jsonl", 30, "204"),
        ("aime25", "aime/aime2025_matharena.jsonl", 30, "70"),
        ("aime25", "aime/aime_2025_dynamic_cheatsheet.jsonl", 30, "70"),
        ("amc23", "amc/amc23.jsonl", 40, "27"),
    ],
)
def test_math_loaders(name: str, path: str, count: int, first_answer: str) -> None:
    loaded = load_dataset(name, DATA / path)
    assert len(loaded.tasks) == count
    assert not loaded.skipped
    first = loaded.tasks[0]
    assert first.kind == "math" and first.answer == first_answer and first.problem
    assert len(loaded.sha256) == 64
    assert first.integer_answer == name.startswith("aime")


@needs_data
def test_code_loaders() -> None:
    humaneval = load_dataset("humaneval", DATA / "humaneval" / "HumanEval.jsonl.gz")
    assert len(humaneval.tasks) == 164
    first = humaneval.tasks[0]
    assert first.kind == "code" and first.tests is not None and first.tests.entry_point == "has_close_elements"
    mbpp = load_dataset("mbpp", DATA / "mbpp" / "MBPP.jsonl")
    assert len(mbpp.tasks) == 500  # the test split, task ids 11-510
    assert mbpp.tasks[0].id == "11" and mbpp.tasks[0].tests is not None and len(mbpp.tasks[0].tests.tests) == 3
    typed = load_dataset("mbpp", DATA / "mbpp" / "mbpp-py.jsonl")
    assert len(typed.tasks) == 397
    apps = load_dataset("apps", DATA / "apps" / "apps_selected150.jsonl")
    styles = {t.tests.style for t in apps.tasks if t.tests is not None}
    assert styles == {"call", "stdio"}
    # The selected-150 file repeats some problems; repeats are reported, not loaded twice.
    assert len(apps.tasks) + len(apps.skipped) == 150
    assert all("duplicate id" in s.reason for s in apps.skipped)


@needs_data
def test_gameof24_loader_on_the_real_file() -> None:
    loaded = load_dataset("gameof24", DATA / "gameof24" / "gameof24.jsonl")
    # 98 puzzles, 3 of them repeated: ids are line indexes, so the repeats load too.
    assert len(loaded.tasks) == 98 and not loaded.skipped
    first = loaded.tasks[0]
    assert (first.id, first.kind, first.answer, first.answer_format) == ("0", "expression", None, "text")
    assert first.puzzle == NumberPuzzle((2, 5, 8, 11), 24) and first.gold == "24 from 2 5 8 11"
    assert first.problem.startswith("Use the numbers 2 5 8 11, each exactly once, with + - * / and parentheses")
    assert "not its value" in first.problem
    # Every problem is one the team's exact expression check reads, with the file's numbers and target.
    for task in loaded.tasks:
        assert task.puzzle is not None
        assert number_target(task.problem) == (list(task.puzzle.numbers), task.puzzle.target)


def test_gameof24_records_the_exact_check_cannot_read_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "g24.jsonl"
    rows = [
        {"input": "1 2 3 4", "target": "24"},
        {"input": "1 2", "target": "24"},  # the check reads 3 to 8 numbers
        {"input": "1 two 3 4", "target": "24"},
        {"input": "1 -2 3 4", "target": "24"},  # unary minus is not an allowed operation
        {"input": "4 6 1 1", "target": 10},
        {"target": "24"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    loaded = load_dataset("gameof24", path)
    assert [(t.id, t.puzzle) for t in loaded.tasks] == [
        ("0", NumberPuzzle((1, 2, 3, 4), 24)),
        ("4", NumberPuzzle((4, 6, 1, 1), 10)),
    ]
    assert [s.line for s in loaded.skipped] == [2, 3, 4, 6]
    assert "cannot read '1 2'" in loaded.skipped[0].reason and "whole numbers" in loaded.skipped[1].reason
    assert "missing field 'input'" in loaded.skipped[3].reason


def test_malformed_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text(
        '{"question": "1+1?", "answer": "#### 2"}\n'
        "{not json\n"
        "\n"
        '{"question": "no gold", "answer": "2"}\n'
        "[1, 2]\n"
        '{"question": "2+2?", "answer": "so #### 4"}\n',
        encoding="utf-8",
    )
    loaded = load_dataset("gsm8k", path)
    assert [t.answer for t in loaded.tasks] == ["2", "4"]
    assert [s.line for s in loaded.skipped] == [2, 4, 5]
    assert "invalid JSON" in loaded.skipped[0].reason


def test_gzip_and_generic_field_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"idx": "a", "q": "What is 6*7?", "sol": 42.0}) + "\n")
    loaded = load_dataset("jsonl", path, fields={"problem": "q", "answer": "sol", "id": "idx", "format": "integer"})
    task = loaded.tasks[0]
    assert (task.id, task.problem, task.answer, task.answer_format, task.integer_answer) == (
        "a",
        "What is 6*7?",
        "42",
        "integer",
        True,
    )


def test_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown dataset"):
        load_dataset("nope", tmp_path / "x")
    with pytest.raises(UserError, match="not found"):
        load_dataset("gsm8k", tmp_path / "missing.jsonl")
    with pytest.raises(UserError, match="needs --data"):
        load_dataset("gsm8k")
    with pytest.raises(UserError, match="unknown --field"):
        load_dataset("jsonl", tmp_path / "x", fields={"question": "q"})
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{bad\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 1"):
        load_dataset("gsm8k", empty)
