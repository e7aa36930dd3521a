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


def _hold_for_a_peer(marker_dir: str, item: int) -> tuple[int, float, float]:
    """(pid, start, end): holds its slot until a second item has started in the same process, or
    2 s pass (a worker that runs one item at a time only ever times out)."""
    import time

    begin = time.time()
    Path(marker_dir, f"{os.getpid()}-{item}").touch()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and len(list(Path(marker_dir).glob(f"{os.getpid()}-*"))) < 2:
        time.sleep(0.05)
    return os.getpid(), begin, time.time()


async def test_a_ray_worker_solves_several_problems_at_once_and_reports_each_once(
    ray_cluster: Any, tmp_path: Path
) -> None:
    from xolver.batch.ray_executor import map_on_ray

    results: dict[int, tuple[int, float, float]] = {}
    failures: list[int] = []

    def done(key: int, value: tuple[int, float, float]) -> None:
        assert key not in results
        results[key] = value

    options = RayOptions(max_in_flight=4, solves_per_worker=2)
    assert options.pool() == (2, 2)
    await map_on_ray(
        _hold_for_a_peer,
        str(tmp_path),
        [(i, i) for i in range(6)],
        options,
        on_done=done,
        on_failed=lambda key, _e: failures.append(key),
    )
    assert failures == [] and sorted(results) == list(range(6))
    assert 1 <= len({pid for pid, _, _ in results.values()}) <= 2  # two workers at most
    # Two items ran at the same time in one process: the worker's threads are really used.
    runs = sorted(results.values())
    assert any(a[0] == b[0] and b[1] < a[2] for i, a in enumerate(runs) for b in runs[i + 1 :]), runs


def test_the_pool_shares_in_flight_items_evenly_among_as_few_workers_as_allowed() -> None:
    assert RayOptions(max_in_flight=8).pool() == (2, 4)
    assert RayOptions(max_in_flight=6).pool() == (2, 3)
    assert RayOptions(max_in_flight=1).pool() == (1, 1)
    assert RayOptions(max_in_flight=3).pool() == (1, 3)
    assert RayOptions(max_in_flight=8, solves_per_worker=1).pool() == (8, 1)
