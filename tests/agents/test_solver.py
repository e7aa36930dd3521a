"""The solver role from a typed `SolverInput`: its prompts, its calls and the trajectory it returns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from xolver.agents.runner import AgentRunner, Budget
from xolver.agents.solver import Seat, SolverInput, SolverOptions, solve
from xolver.errors import BudgetExceeded
from xolver.models.base import ModelSettings
from xolver.models.testing import ScriptedModel
from xolver.solution import Check, Exemplar, Trajectory
from xolver.tools.toolbox import ToolBox

PROBLEM = "What is 17 * 23?"
SOLVED = "Thought: 17 * 23 = 391\nResponse: the product is 391\nFinal answer: \\boxed{391}"
REASONING = Seat(method="reasoning", temperature=0.0)
PROGRAM = Seat(method="program", temperature=0.0)


TASK = SolverInput(problem=PROBLEM, agent=1, role="Calculator", round=0, seat=REASONING)


def _task(**fields: Any) -> SolverInput:
    return replace(TASK, **fields)


async def test_a_reasoning_seat_answers_in_one_call_with_its_role_and_the_experience() -> None:
    exemplar = Exemplar(id="e1", kind="strategy", text="Multiply the tens first, then the units.")
    with ScriptedModel([SOLVED]) as model:
        runner = AgentRunner(model, Budget(), settings=ModelSettings(temperature=0.7, seed=5))
        got = await solve(runner, _task(reason="computes.", exemplars=(exemplar,)), SolverOptions())
    assert (got.agent, got.role, got.round, got.method, got.answer) == (1, "Calculator", 0, "reasoning", "391")
    system, user = model.requests[0].messages
    assert "the Calculator on a problem-solving team. (computes)" in system.content
    assert "Multiply the tens first" in user.content
    # The seat's temperature, and a seed that differs per agent and round.
    settings = model.requests[0].settings
    assert (settings.temperature, settings.seed) == (0.0, 5 + 1)
    assert [c.purpose for c in runner.ledger.calls] == ["answer"]


async def test_an_unparseable_reply_is_repaired_within_the_options_bound() -> None:
    with ScriptedModel(["I think it is big.", "Still thinking."]) as model:
        runner = AgentRunner(model, Budget())
        got = await solve(runner, _task(), SolverOptions(repair_attempts=1))
    assert got.answer is None and not got.parse_ok and got.error == "no final answer found"
    assert [c.purpose for c in runner.ledger.calls] == ["answer", "repair1"]


async def test_a_refining_round_shows_the_previous_attempt_and_the_shared_memory() -> None:
    previous = Trajectory(agent=1, role="Calculator", round=0, response="17 * 23 = 381", answer="381")
    other = Trajectory(agent=0, role="Checker", round=0, response="17 * 23 = 391", answer="391", critique="right")
    with ScriptedModel([SOLVED]) as model:
        await solve(
            AgentRunner(model, Budget()),
            _task(round=1, previous=previous, shared=(other,)),
            SolverOptions(share_critique=True),
        )
    prompt = model.requests[0].messages[-1].content
    assert "17 * 23 = 381" in prompt and "[Checker: reasoning, round 0" in prompt and "Judge: right" in prompt


async def test_a_spent_budget_before_the_first_call_raises() -> None:
    with ScriptedModel([]) as model, pytest.raises(BudgetExceeded):
        await solve(AgentRunner(model, Budget(max_calls=0)), _task())


async def test_a_program_seat_answers_with_what_its_program_printed(toolbox: ToolBox) -> None:
    with ScriptedModel(["Thought: multiply\n```python\nprint(17 * 23)\n```"]) as model:
        runner = AgentRunner(model, Budget())
        got = await solve(runner, _task(seat=PROGRAM), SolverOptions(), toolbox=toolbox)
    assert (got.method, got.answer) == ("program", "391")
    assert got.checks == [Check(kind="program", agrees=True, detail="its program printed 391")]


async def test_a_program_that_restates_its_answer_is_asked_again_and_counts_without_a_check(toolbox: ToolBox) -> None:
    restating = "```python\nanswer = 381\nprint(answer)\n```"
    with ScriptedModel([restating, "```python\nprint(17 * 23)\n```"]) as model:
        got = await solve(AgentRunner(model, Budget()), _task(seat=PROGRAM), SolverOptions(), toolbox=toolbox)
    assert got.answer == "391" and [c.kind for c in got.checks] == ["program"]
    assert "a number written into the program" in model.requests[1].messages[-1].content
    with ScriptedModel([restating, "no program this time"]) as model:
        runner = AgentRunner(model, Budget())
        got = await solve(runner, _task(seat=PROGRAM), SolverOptions(repair_attempts=1), toolbox=toolbox)
    # Still a vote for 381, but not an executed result.
    assert (got.answer, got.checks, len(got.tool_calls)) == ("381", [], 1)


async def test_a_failing_program_keeps_its_error_when_the_budget_stops_the_repair(toolbox: ToolBox) -> None:
    with ScriptedModel(["```python\nprint(1 / 0)\n```"]) as model:
        runner = AgentRunner(model, Budget(max_calls=1))
        got = await solve(runner, _task(seat=PROGRAM), SolverOptions(repair_attempts=1), toolbox=toolbox)
    assert got.answer is None and got.error is not None and got.error.startswith("the program failed")
    assert len(got.tool_calls) == 1 and [c.purpose for c in runner.ledger.calls] == ["answer"]


async def test_worked_examples_end_with_a_line_that_marks_where_the_problem_starts() -> None:
    exemplar = Exemplar(
        id="e1", kind="problem", text="What is 12 * 11?", solution="12 * 11 = 132", answer="132", verified=True
    )
    with ScriptedModel([SOLVED, SOLVED]) as model:
        runner = AgentRunner(model, Budget())
        await solve(runner, _task(exemplars=(exemplar,)), SolverOptions())
        await solve(runner, _task(), SolverOptions())
    with_examples, without = (request.messages[1].content for request in model.requests)
    # The example, then the lead-in, then this problem: a small model must not answer the example.
    example_at, lead_at = with_examples.index("What is 12 * 11?"), with_examples.index("Now solve this problem:\n")
    assert example_at < lead_at < with_examples.index(PROBLEM)
    # Without experience the prompt is the memory-off prompt, with no lead-in.
    assert "Now solve this problem" not in without and without.startswith(PROBLEM)
