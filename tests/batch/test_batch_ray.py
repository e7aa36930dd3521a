"""Batch solving and eval on a real local Ray (2 CPUs, started once for the session)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from tests.batch.conftest import problem_text, team_model, team_reply
from xolver import Xolver
from xolver.batch import Problem, RayOptions, run_batch
from xolver.batch.records import BatchItem, read_output
from xolver.eval.datasets import Task
from xolver.eval.records import RunConfig
from xolver.eval.remote import RemoteEval
from xolver.eval.runner import run_eval
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel


def _problems(n: int) -> list[Problem]:
    return [Problem(id=f"p{i}", text=problem_text(i)) for i in range(n)]


def _outcome(items: list[BatchItem]) -> list[tuple[str, str | None, str | None, int | None]]:
    return [
        (
            i.id,
            i.solution.answer if i.solution else None,
            i.solution.stop_reason if i.solution else None,
            i.solution.usage.totals.calls if i.solution else None,
        )
        for i in items
    ]


async def test_a_batch_on_ray_equals_the_same_batch_run_locally(ray_cluster: Any, tmp_path: Path) -> None:
    problems = _problems(6)
    with Xolver(team_model(), agents=2, rounds=1, memory_mode="off") as xo:
        local = await run_batch(problems, xo, out=tmp_path / "local.jsonl", concurrency=3)
        remote = await run_batch(
            problems, xo, out=tmp_path / "ray.jsonl", executor="ray", ray=RayOptions(max_in_flight=3)
        )
    assert _outcome(remote) == _outcome(local)
    assert [i.error for i in remote] == [None] * 6
    lines = [json.loads(line)["id"] for line in (tmp_path / "ray.jsonl").read_text().splitlines()]
    assert sorted(lines) == sorted(p.id for p in problems)  # each problem exactly once


def _dies_once(marker: str, request: ModelRequest) -> Any:
    """The stand-in team, except that the first worker to solve problem 2 dies mid-solve."""
    if request.tags.role == "solver" and problem_text(2) in request.messages[-1].content:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os._exit(1)  # the worker process dies, as on an OOM kill or a lost node
    return team_reply(request)


async def test_a_worker_killed_mid_solve_is_retried_and_its_problem_appears_once(
    ray_cluster: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    model = FunctionModel(functools.partial(_dies_once, str(marker)), name="stand-in")
    out = tmp_path / "out.jsonl"
    with Xolver(model, agents=2, rounds=0, memory_mode="off") as xo:
        items = await run_batch(
            _problems(4), xo, out=out, executor="ray", ray=RayOptions(max_in_flight=2, max_retries=2)
        )
    assert marker.is_file(), "the worker never died: the test proved nothing"
    assert [(i.id, i.solution.answer if i.solution else i.error) for i in items] == [
        ("p0", "6"),
        ("p1", "12"),
        ("p2", "20"),
        ("p3", "30"),
    ]
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["p0", "p1", "p2", "p3"]
    assert set(read_output(out)) == {"p0", "p1", "p2", "p3"}


async def test_eval_on_ray_grades_like_a_local_eval(ray_cluster: Any, tmp_path: Path) -> None:
    tasks = [Task(id=f"t{i}", problem=problem_text(i), kind="math", answer=str((i + 2) * (i + 3))) for i in range(4)]
    tasks[3] = Task(id="t3", problem=problem_text(3), kind="math", answer="31")  # the team answers 30: wrong
    config = RunConfig(
        dataset="jsonl", data_path="-", dataset_sha256="0", method="single", model="stand-in", concurrency=2
    )
    local = await run_eval(tasks, config, model=team_model(), out=tmp_path / "local.jsonl")
    remote = await run_eval(
        tasks,
        config,
        model=team_model(),
        out=tmp_path / "ray.jsonl",
        remote=RemoteEval(options=RayOptions(max_in_flight=2)),
    )
    assert [r.error for r in remote] == [None] * 4
    assert [(r.id, r.answer, r.correct) for r in remote] == [(r.id, r.answer, r.correct) for r in local]
    assert [r.correct for r in remote] == [True, True, True, False]
    lines = (tmp_path / "ray.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["type"] == "config" and len(lines) == 5
