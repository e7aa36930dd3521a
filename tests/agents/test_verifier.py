"""The verifier: deterministic extraction first, the model only when nothing parses."""

from __future__ import annotations

from typing import get_args

import pytest

from xolver.agents.runner import AgentRunner, Budget
from xolver.agents.verifier import format_instruction, verify
from xolver.config import AnswerFormat
from xolver.errors import BudgetExceeded
from xolver.models.base import ModelSettings
from xolver.models.testing import ScriptedModel
from xolver.solution import Trajectory

UNCLEAR = Trajectory(agent=0, role="Calculator", round=0, response="It is seventeen times twenty-three.")


@pytest.mark.parametrize("fmt", get_args(AnswerFormat))
def test_every_answer_format_has_an_instruction(fmt: AnswerFormat) -> None:
    assert format_instruction(fmt).startswith("Reply with")


async def test_a_parsed_answer_needs_no_call() -> None:
    best = UNCLEAR.model_copy(update={"response": "so \\boxed{391}", "answer": "391"})
    with ScriptedModel([]) as model:
        assert await verify(AgentRunner(model, Budget()), "p", best, answer_format="auto", repair_attempts=1) == (
            "391",
            "boxed",
        )


async def test_the_model_is_asked_greedily_when_nothing_parses() -> None:
    with ScriptedModel(["\\boxed{391}"]) as model:
        runner = AgentRunner(model, Budget(), settings=ModelSettings(temperature=0.7, max_tokens=50, timeout=9.0))
        assert await verify(runner, "p", UNCLEAR, answer_format="integer", repair_attempts=1) == ("391", "model")
    settings = model.requests[0].settings
    assert (settings.temperature, settings.max_tokens, settings.timeout) == (0.0, 50, 9.0)


async def test_a_spent_budget_raises_when_the_model_is_needed() -> None:
    with ScriptedModel([]) as model, pytest.raises(BudgetExceeded):
        await verify(AgentRunner(model, Budget(max_calls=0)), "p", UNCLEAR, answer_format="auto", repair_attempts=1)
