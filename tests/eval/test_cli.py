"""`xolver eval` through `xolver.cli.main`: run, resume, report, exit codes, and one real local run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.eval.helpers import doubler
from xolver.cli import main
from xolver.models.testing import FunctionModel

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def toy_data(tmp_path: Path) -> Path:
    path = tmp_path / "toy.jsonl"
    rows = [{"n": f"p{i}", "q": f"What is {i} + {i}?", "a": 2 * i} for i in range(1, 5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n", encoding="utf-8")
    return path


@pytest.fixture
def test_model(monkeypatch: pytest.MonkeyPatch) -> FunctionModel:
    model = FunctionModel(doubler, name="doubler")
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    return model


def _run(toy: Path, out: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "--dataset",
        "jsonl",
        "--data",
        str(toy),
        "--field",
        "problem=q",
        "--field",
        "answer=a",
        "--field",
        "id=n",
        "--out",
        str(out),
        *extra,
    ]


def test_run_resume_and_report(
    toy_data: Path, test_model: FunctionModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = tmp_path / "single.jsonl"
    assert main([*_run(toy_data, single, "--method", "single", "--limit", "2")]) == 0
    captured = capsys.readouterr()
    assert "line 5: invalid JSON" in captured.err
    assert "100.0% (2/2)" in captured.out and "dataset sha256" in captured.out
    # A larger limit with --resume adds only the missing problems.
    assert main([*_run(toy_data, single, "--method", "single", "--resume")]) == 0
    assert len(test_model.requests) == 2 + 2
    assert "75.0% (3/4)" in capsys.readouterr().out

    sc = tmp_path / "sc.jsonl"
    # 'run' is the explicit form of the default mode (its options come after it).
    argv = ["eval", "run", *_run(toy_data, sc)[1:], "--method", "self-consistency", "--match-budget", str(single)]
    assert main(argv) == 0
    config = json.loads(sc.read_text().splitlines()[0])["config"]
    assert config["samples"] == 1 and config["temperature"] == 0.7

    assert main(["eval", "report", str(single), str(sc)]) == 0
    out = capsys.readouterr().out
    assert str(single) in out.replace("\n", "") or "single.jsonl" in out
    assert "self-consistency" in out and "samples=1" in out


def test_exit_codes(
    toy_data: Path, test_model: FunctionModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--limit", "2"]) == 2
    assert "--dataset is required" in capsys.readouterr().err
    assert main(["eval", "--dataset", "gsm8k", "--data", str(toy_data), "--resume"]) == 2
    assert main(["eval", "--dataset", "nope"]) == 2
    assert main(["eval", "--dataset", "gsm8k", "--data", str(tmp_path / "missing.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("xolver: error: data file not found")
    assert main(["eval", "--dataset", "gsm8k", "--data", str(toy_data), "--samples", "3"]) == 2
    assert main(["eval", "report", str(toy_data)]) == 1
    out = tmp_path / "x.jsonl"
    assert main([*_run(toy_data, out, "--method", "single", "--limit", "1")]) == 0
    assert main([*_run(toy_data, out, "--method", "single", "--limit", "1")]) == 1  # exists, no --resume


def test_memory_mode_on_means_frozen(toy_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests._support.scripts import PLAN, by_role, solved, verdict

    model = FunctionModel(by_role(planner=PLAN, solver=solved("2"), judge=verdict(1.0), verifier="\\boxed{2}"))
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    out = tmp_path / "x.jsonl"
    argv = [*_run(toy_data, out, "--limit", "1", "--agents", "2", "--rounds", "0", "--memory-mode", "on")]
    assert main(argv) == 0
    config = json.loads(out.read_text().splitlines()[0])["config"]
    assert config["method"] == "xolver" and config["memory_mode"] == "frozen" and config["agents"] == 2
    result = json.loads(out.read_text().splitlines()[1])
    assert result["correct"] is True


def test_no_exact_checks_is_recorded_and_resume_refuses_to_mix_the_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests._support.scripts import PLAN, by_role, solved, verdict

    data = tmp_path / "g24.jsonl"
    data.write_text('{"input": "2 5 8 11", "target": "24"}\n{"input": "4 4 7 10", "target": "24"}\n', encoding="utf-8")
    model = FunctionModel(by_role(planner=PLAN, solver=solved("(11 - 5) * 8 / 2"), judge=verdict(1.0)))
    monkeypatch.setattr("xolver.models.resolve_model", lambda *a, **k: model)
    base = ["eval", "run", "--dataset", "gameof24", "--data", str(data), "--agents", "2", "--rounds", "0"]
    base += ["--memory-mode", "off", "--quiet"]
    runs = {}
    for name, extra in (("checked", []), ("unchecked", ["--no-exact-checks"])):
        out = tmp_path / f"{name}.jsonl"
        assert main([*base, "--limit", "1", "--out", str(out), *extra]) == 0
        config, result = (json.loads(line) for line in out.read_text().splitlines())
        runs[name] = (out, config["config"], result)
    for name, exact in (("checked", True), ("unchecked", False)):
        _, config, result = runs[name]
        assert config["method"] == "xolver" and config["exact_checks"] is exact
        assert result["correct"] is True and result["gold"] == "24 from 2 5 8 11"
        assert result["answer"] == "(11 - 5) * 8 / 2"
        exact_checks = [k for c in result["candidates"] for k in c["checks"] if k.startswith("substitution")]
        assert exact_checks == (["substitution:agrees"] * 2 if exact else [])
    # A resumed run keeps its switch: the other setting is refused before any model call.
    calls = len(model.requests)
    assert main([*base, "--out", str(runs["checked"][0]), "--resume", "--no-exact-checks"]) == 1
    assert main([*base, "--out", str(runs["unchecked"][0]), "--resume"]) == 1
    assert "exact_checks=False (now True)" in capsys.readouterr().err
    assert len(model.requests) == calls
    # The switch is the team's: the baselines have no exact checks to turn off.
    assert main([*base, "--method", "single", "--no-exact-checks"]) == 2
    assert "--no-exact-checks applies to --method xolver" in capsys.readouterr().err


@pytest.mark.local_model
def test_end_to_end_with_the_local_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not DATA.is_dir():
        pytest.skip("../shared/data is not present")
    # Small per-role caps keep this to a few short generations on a slow shared CPU.
    config = tmp_path / "config.toml"
    config.write_text("[xolver]\nplanner_max_tokens = 24\njudge_max_tokens = 16\nverifier_max_tokens = 16\n")
    out = tmp_path / "local.jsonl"
    argv = ["eval", "--dataset", "gsm8k", "--data", str(DATA / "gsm8k" / "test.jsonl"), "--limit", "1"]
    argv += ["--model", "local", "--agents", "1", "--rounds", "0", "--max-tokens", "32", "--memory-mode", "off"]
    argv += ["--max-calls", "5"]
    argv += ["--config", str(config), "--out", str(out)]
    assert main(argv) == 0
    assert "accuracy [95% CI]" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["config"]["model"] == "local" and len(lines) == 2
    result = lines[1]
    assert result["id"] == "0" and result["gold"] == "18" and 2 <= result["calls"] <= 5 and result["error"] is None
    assert isinstance(result["correct"], bool)


def test_cli_module_import_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, xolver.eval.cli, xolver.eval\n"
        "heavy = [m for m in ('math_verify', 'sympy', 'litellm', 'xolver.agents', 'xolver.tools.sandbox') "
        "if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
