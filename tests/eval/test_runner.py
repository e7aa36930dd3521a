"""The eval loop with test models: the three methods, JSONL append and resume, the report table."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from tests._support.scripts import PLAN, by_role, solved, verdict
from tests.eval.helpers import doubler
from xolver.config import XolverConfig
from xolver.errors import UserError
from xolver.eval.datasets import NumberPuzzle, Task
from xolver.eval.report import ResultsTable, summarize, wilson_interval
from xolver.eval.runner import ProblemResult, RunConfig, read_results, run_eval, select_tasks
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel, ScriptedModel

TASKS = [
    Task(id=f"q{i}", problem=f"What is {i} + {i}?", kind="math", answer=str(2 * i), answer_format="auto")
    for i in range(1, 6)
]


def _config(method: str = "single", **extra: object) -> RunConfig:
    values: dict[str, object] = {
        "dataset": "toy",
        "data_path": "toy.jsonl",
        "dataset_sha256": "0" * 64,
        "method": method,
        "model": "test",
        **extra,
    }
    return RunConfig.model_validate(values)


async def test_single_call_grades_and_counts_usage() -> None:
    model = FunctionModel(doubler)
    results = await run_eval(TASKS, _config(), model=model)
    assert [r.correct for r in results] == [True, True, False, True, True]
    assert all(r.calls == 1 and r.prompt_tokens > 0 and r.completion_tokens > 0 for r in results)
    assert results[2].answer == "7" and results[2].gold == "6"
    assert len(model.requests) == 5
    assert model.requests[0].settings.temperature == 0.0


async def test_self_consistency_votes_with_the_checker() -> None:
    # Two samples say 1/2 in different notations, one says 3: the vote must group 0.5 with \frac12.
    replies = ["\\boxed{3}", "\\boxed{\\frac12}", "\\boxed{0.5}"]
    task = Task(id="h", problem="half?", kind="math", answer="1/2")
    with ScriptedModel(replies) as model:
        (result,) = await run_eval([task], _config("self-consistency", samples=3), model=model)
    assert result.correct and result.votes == 2 and result.calls == 3
    seeds = {r.settings.seed for r in model.requests}
    assert len(seeds) == 3  # distinct seeds, or a seeded backend repeats itself


async def test_self_consistency_on_an_expression_task_votes_expressions_not_values() -> None:
    # By value all five are 24, one cluster read from the first sample: "24", graded wrong.
    replies = [
        "\\boxed{24}",
        "\\boxed{(11 - 5) * 8 / 2}",
        "\\boxed{24}",
        "\\boxed{(11-5)*8/2}",
        "\\boxed{(11 - 5)*8/2}",
    ]
    puzzle = NumberPuzzle(numbers=(2, 5, 8, 11), target=24)
    problem = "Use the numbers 2 5 8 11, each exactly once, with + - * / and parentheses, to obtain 24."
    task = Task(id="g", problem=problem, kind="expression", puzzle=puzzle, answer_format="text")
    with ScriptedModel(replies) as model:
        (result,) = await run_eval([task], _config("self-consistency", samples=5), model=model)
    # As written, up to spacing: the right expression three times against the bare target twice.
    assert (result.answer, result.votes, result.correct) == ("(11 - 5) * 8 / 2", 3, True)


async def test_xolver_method_runs_the_team() -> None:
    def solver(request: ModelRequest) -> str:
        return solved("4")

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1.0), verifier="\\boxed{4}"))
    team = XolverConfig(model="test", agents=2, rounds=0, memory_mode="off")
    task = Task(id="t", problem="What is 2 + 2?", kind="math", answer="4")
    (result,) = await run_eval([task], _config("xolver", agents=2, rounds=0), model=model, xolver_config=team)
    assert result.correct and result.answer == "4"
    assert result.calls == len(model.requests) >= 3
    assert result.stop_reason is not None
    assert result.calls_by_role["planner"] == 1 and result.calls_by_role["solver"] == 2


async def test_xolver_results_grade_every_agents_answer() -> None:
    # The program seat (agent 0) is wrong, the reasoning seat right: the result says which seat was.
    def solver(request: ModelRequest) -> str:
        return solved("5" if request.tags.agent == 0 else "4")

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1.0)))
    team = XolverConfig(model="test", agents=2, rounds=0, blind_check=False, memory_mode="off")
    task = Task(id="t", problem="Ann has 2 pens and buys 2 more. How many pens?", kind="math", answer="4")
    (result,) = await run_eval([task], _config("xolver", agents=2, rounds=0), model=model, xolver_config=team)
    assert [(c.round, c.agent, c.method, c.answer, c.correct) for c in result.candidates] == [
        (0, 0, "program", "5", False),
        (0, 1, "reasoning", "4", True),
    ]
    assert not result.correct  # the executed program outweighs one unexecuted vote


async def test_model_errors_are_recorded_and_the_run_goes_on() -> None:
    from xolver.errors import PermanentModelError

    def flaky(request: ModelRequest) -> str:
        if "3 + 3" in request.messages[-1].content:
            raise PermanentModelError("context too long", model="test")
        return doubler(request)

    results = await run_eval(TASKS, _config(), model=FunctionModel(flaky))
    assert [r.error is not None for r in results] == [False, False, True, False, False]
    assert "context too long" in (results[2].error or "")


class _Interrupted(RuntimeError):
    pass


async def test_results_are_appended_and_an_interrupted_run_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    calls = 0

    def dies_after_two(request: ModelRequest) -> str:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise _Interrupted("power cut")
        return doubler(request)

    with pytest.raises(_Interrupted):
        await run_eval(TASKS, _config(), model=FunctionModel(dies_after_two), out=out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "config" and lines[0]["config"]["dataset_sha256"] == "0" * 64
    assert [line["id"] for line in lines[1:]] == ["q1", "q2"]

    # A kill mid-write leaves half a line; resuming must survive it and start on a fresh line.
    with out.open("a") as handle:
        handle.write('{"type": "result", "id": "q3", "ind')
    with pytest.raises(UserError, match="already exists"):
        await run_eval(TASKS, _config(), model=FunctionModel(doubler), out=out)
    with pytest.raises(UserError, match="seed=0"):
        await run_eval(TASKS, _config(seed=1), model=FunctionModel(doubler), out=out, resume=True)

    model = FunctionModel(doubler)
    seen: list[str] = []
    results = await run_eval(
        TASKS, _config(), model=model, out=out, resume=True, on_result=lambda r, p: seen.append(r.id)
    )
    assert len(model.requests) == 3  # q1 and q2 were not solved again
    assert [r.id for r in results] == ["q1", "q2", "q3", "q4", "q5"]
    assert sorted(seen) == ["q1", "q2", "q3", "q4", "q5"]
    saved = read_results(out)
    assert [r.id for r in saved.results] == ["q1", "q2", "q3", "q4", "q5"]
    assert len(saved.bad_lines) == 1
    assert summarize(saved.results).correct == 4


async def test_concurrency_keeps_task_order_in_results() -> None:
    import asyncio

    async def slow_first(request: ModelRequest) -> str:
        if "1 + 1" in request.messages[-1].content:
            await asyncio.sleep(0.05)
        return doubler(request)

    results = await run_eval(TASKS, _config(concurrency=3), model=FunctionModel(slow_first))
    assert [r.id for r in results] == [t.id for t in TASKS]


def test_select_tasks_is_seeded() -> None:
    assert [t.id for t in select_tasks(TASKS, limit=2, seed=0, shuffle=False)] == ["q1", "q2"]
    a = select_tasks(TASKS, limit=3, seed=7, shuffle=True)
    b = select_tasks(TASKS, limit=3, seed=7, shuffle=True)
    assert a == b


def test_wilson_interval() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 0.0)
    assert wilson_interval(0, 5)[0] == 0.0


def test_results_table_renders_runs_side_by_side() -> None:
    rows = [
        ProblemResult(id="a", index=0, correct=True, score=1, calls=3, prompt_tokens=10, completion_tokens=5),
        ProblemResult(id="b", index=1, correct=False, score=0, calls=5, prompt_tokens=20, completion_tokens=5),
    ]
    table = ResultsTable([("run-a", _config(), rows), ("run-b", _config("self-consistency", samples=4), rows[:1])])
    console = Console(file=io.StringIO(), width=160)
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "run-a" in text and "run-b" in text
    assert "50.0% (1/2)" in text and "100.0% (1/1)" in text
    assert "samples=4" in text and "4.00" in text


async def test_code_task_is_graded_by_its_tests() -> None:
    from xolver.eval.checking import public_test_snippets
    from xolver.eval.datasets import CodeTest, CodeTests

    tests = CodeTests(
        style="assert",
        tests=(
            CodeTest("assert add(1, 2) == 3"),
            CodeTest("assert add(-1, 1) == 0"),
            CodeTest("assert add(2, 2) == 5"),
        ),
        public=(CodeTest("assert add(1, 2) == 3"),),
        entry_point="add",
    )
    task = Task(id="c", problem="Write add(a, b).", kind="code", tests=tests, answer_format="code")
    model = FunctionModel(lambda r: "```python\ndef add(a, b):\n    return a + b\n```")
    (result,) = await run_eval([task], _config(), model=model)
    assert (result.tests_passed, result.tests_total, result.correct) == (2, 3, False)
    assert result.score == pytest.approx(2 / 3)
    assert public_test_snippets(tests) == ["assert add(1, 2) == 3"]
