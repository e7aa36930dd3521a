"""`xolver batch` and `Xolver.solve_many` in one process: the output file, --resume, the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import respond_391
from tests.batch.conftest import problem_text, team_model
from xolver import Xolver
from xolver.batch import Problem, read_problems, run_batch
from xolver.batch.records import read_output
from xolver.cli import main
from xolver.errors import UserError
from xolver.models import allow_model_requests


def _write_problems(path: Path, n: int) -> list[Problem]:
    path.write_text("".join(json.dumps({"id": f"p{i}", "problem": problem_text(i)}) + "\n" for i in range(n)))
    return read_problems(path)


def test_read_problems_keys_ids_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text('{"question": "What is 2 * 3?"}\n\n{"id": 7, "text": "x", "tests": ["assert True"]}\n')
    problems = read_problems(f)
    assert [(p.id, p.text, p.tests) for p in problems] == [
        ("line-1", "What is 2 * 3?", ()),
        ("7", "x", ("assert True",)),
    ]
    f.write_text('{"id": 1, "problem": "a"}\n{"id": 1, "problem": "b"}\n')
    with pytest.raises(UserError, match="duplicate id '1'"):
        read_problems(f)
    f.write_text('{"id": 1}\n')
    with pytest.raises(UserError, match="no problem text"):
        read_problems(f)


async def test_run_batch_writes_each_solution_once_and_resumes(tmp_path: Path) -> None:
    problems = _write_problems(tmp_path / "in.jsonl", 5)
    out = tmp_path / "out.jsonl"
    with Xolver(team_model(), agents=2, rounds=1, memory_mode="off") as xo:
        first = await run_batch(problems[:3], xo, out=out, concurrency=2)
        assert [i.solution.answer for i in first if i.solution] == ["6", "12", "20"]
        with pytest.raises(UserError, match="--resume"):
            await run_batch(problems, xo, out=out)
        seen: list[str] = []
        items = await run_batch(problems, xo, out=out, resume=True, on_result=lambda i, p: seen.append(i.id))
    assert [i.id for i in items] == ["p0", "p1", "p2", "p3", "p4"]
    assert [i.solution.answer for i in items if i.solution] == ["6", "12", "20", "30", "42"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == ["p0", "p1", "p2", "p3", "p4"]  # each once
    assert set(read_output(out)) == {"p0", "p1", "p2", "p3", "p4"}
    assert sorted(seen) == ["p0", "p1", "p2", "p3", "p4"]  # resumed ones reported too


def test_solve_many_takes_plain_texts() -> None:
    with Xolver(team_model(), agents=2, rounds=0, memory_mode="off") as xo:
        items = xo.solve_many([problem_text(0), problem_text(1)], concurrency=2)
    assert [(i.id, i.solution.answer if i.solution else None) for i in items] == [("0", "6"), ("1", "12")]


def test_cli_batch_against_an_openai_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"q{i}", "problem": "What is 17 * 23?"}) + "\n" for i in range(3)))
    out = tmp_path / "out.jsonl"
    with fake_openai_server(respond_391, delay=0.01) as (base, requests), allow_model_requests():
        argv = ["batch", str(src), "--out", str(out), "--model", "openai/fake", "--api-base", base, "--api-key", "k"]
        code = main([*argv, "--max-concurrency", "0", "-c", "3", "--memory-mode", "off", "--agents", "2", "--json"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == 3 and summary["solved"] == 3 and summary["errors"] == 0
    assert summary["calls"] == len(requests) > 0
    assert {i.solution.answer for i in read_output(out).values() if i.solution} == {"391"}


def test_cli_ray_without_ray_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as without the extra
    src = tmp_path / "in.jsonl"
    src.write_text('{"problem": "What is 2 * 3?"}\n')
    assert main(["batch", str(src), "--out", str(tmp_path / "o.jsonl"), "--ray"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["xolver: error: --ray needs Ray, which is not installed: pip install 'xolver[ray]'"]


def test_the_batch_modules_and_the_cli_parser_import_neither_ray_nor_chromadb() -> None:
    import subprocess

    probe = (
        "import sys, xolver, xolver.batch.runner, xolver.batch.cli, xolver.eval.remote;"
        "from xolver.cli import build_parser; build_parser();"
        "print([m for m in ('ray', 'chromadb', 'litellm', 'langgraph') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
