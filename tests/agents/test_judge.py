"""The judge role: its opinion from a `JudgeInput`, and the blind check's budget policy."""

from __future__ import annotations

import pytest

from xolver.agents.judge import BlindCheck, JudgeInput, blind_check, judge
from xolver.agents.runner import AgentRunner, Budget
from xolver.errors import BudgetExceeded
from xolver.models.testing import ScriptedModel
from xolver.solution import Trajectory
from xolver.tools.toolbox import ToolBox

PROBLEM = "What is 17 * 23?"
CANDIDATE = Trajectory(agent=2, role="Checker", round=1, response="17 * 23 = 391", answer="391")


async def test_the_opinion_is_asked_greedily_with_the_blind_checks_answer_in_front_of_it() -> None:
    check = BlindCheck(answer="391", code="print(17 * 23)", output="391\n")
    with ScriptedModel(["Critique: matches\nScore: 1"]) as model:
        runner = AgentRunner(model, Budget())
        verdict = await judge(runner, JudgeInput(PROBLEM, CANDIDATE, check=check), repair_attempts=1)
    assert (verdict.score, verdict.critique) == (1.0, "matches")
    request = model.requests[0]
    assert "your own program, which printed 391 (the same as" in request.messages[-1].content
    assert request.settings.temperature == 0.0
    assert (runner.ledger.calls[0].agent, runner.ledger.calls[0].round) == (2, 1)


async def test_no_score_after_the_repair_is_unjudged_and_no_answer_is_not_judged() -> None:
    with ScriptedModel(["looks fine", "really fine"]) as model:
        unjudged = await judge(AgentRunner(model, Budget()), JudgeInput(PROBLEM, CANDIDATE), repair_attempts=1)
    assert unjudged.score is None and unjudged.critique.startswith("Unjudged")
    blank = CANDIDATE.model_copy(update={"answer": None, "error": "no final answer found"})
    with ScriptedModel([]) as model:
        skipped = await judge(AgentRunner(model, Budget()), JudgeInput(PROBLEM, blank), repair_attempts=1)
    assert (skipped.score, skipped.critique) == (None, "Not judged: no final answer found.")


async def test_the_blind_check_raises_on_a_spent_budget_and_a_spent_repair_finds_nothing(toolbox: ToolBox) -> None:
    with ScriptedModel([]) as model, pytest.raises(BudgetExceeded):
        spent = AgentRunner(model, Budget(max_calls=0))
        await blind_check(spent, toolbox, PROBLEM, answer_format="auto", repair_attempts=1)
    with ScriptedModel(["Thought: no code here"]) as model:
        runner = AgentRunner(model, Budget(max_calls=1))
        found = await blind_check(runner, toolbox, PROBLEM, answer_format="auto", repair_attempts=1)
    assert found is None and [c.purpose for c in runner.ledger.calls] == ["blind_check"]


async def test_the_blind_check_runs_its_program(toolbox: ToolBox) -> None:
    with ScriptedModel(["no program", "```python\nprint(17 * 23)\n```"]) as model:
        runner = AgentRunner(model, Budget())
        found = await blind_check(runner, toolbox, PROBLEM, answer_format="integer", repair_attempts=1)
    assert found is not None and found.answer == "391"
    assert [c.purpose for c in runner.ledger.calls] == ["blind_check", "blind_check_repair1"]
    assert "Print the exact value" in model.requests[0].messages[-1].content


async def test_a_blind_check_that_prints_a_number_it_was_written_with_checks_nothing(toolbox: ToolBox) -> None:
    # SmolLM2-135M's blind check for this problem, as it wrote it: the "result" is text.
    restating = '```python\nprint("17 * 23 = 381")\n```'
    with ScriptedModel([restating, restating]) as model:
        runner = AgentRunner(model, Budget())
        found = await blind_check(runner, toolbox, PROBLEM, answer_format="auto", repair_attempts=1)
    assert found is None and [c.purpose for c in runner.ledger.calls] == ["blind_check", "blind_check_repair1"]
    assert "a number written into the program" in model.requests[1].messages[-1].content
    with ScriptedModel([restating, "```python\nprint(17 * 23)\n```"]) as model:
        found = await blind_check(
            AgentRunner(model, Budget()), toolbox, PROBLEM, answer_format="auto", repair_attempts=1
        )
    assert found is not None and found.answer == "391"
