"""`AgentRunner`: the one ledger of calls, and what a spent budget or a failed provider means."""

from __future__ import annotations

from typing import Any

import pytest

from xolver.agents.runner import AgentRunner, Budget, Failed, Ledger, Spent
from xolver.errors import BudgetExceeded, TransientModelError
from xolver.events import ModelCalled
from xolver.models.base import CallTags, Message
from xolver.models.testing import ScriptedModel

ASK = [Message("user", "What is 2 + 2?")]


def _integer(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


async def test_every_call_goes_into_the_ledger_and_the_event_stream_failed_ones_too() -> None:
    events: list[Any] = []
    with ScriptedModel(["4", TransientModelError("down")]) as model:
        runner = AgentRunner(model, Budget(), emit=events.append)
        assert (await runner.call(ASK, CallTags(role="solver", agent=1, round=0))).text == "4"
        with pytest.raises(TransientModelError):
            await runner.call(ASK, CallTags(role="judge", purpose="blind_check"))
    assert [(c.role, c.agent, c.purpose, c.ok) for c in runner.ledger.calls] == [
        ("solver", 1, "answer", True),
        ("judge", None, "blind_check", False),
    ]
    assert [e.call for e in events if isinstance(e, ModelCalled)] == runner.ledger.calls
    assert runner.budget.calls == 2


async def test_runners_of_one_step_share_its_ledger() -> None:
    ledger, budget = Ledger(), Budget()
    with ScriptedModel(["a", "b"]) as model:
        await AgentRunner(model, budget, ledger=ledger).call(ASK, CallTags(role="retriever"))
        await AgentRunner(model, budget, ledger=ledger).call(ASK, CallTags(role="solver"))
    assert [c.role for c in ledger.calls] == ["retriever", "solver"]


async def test_a_spent_budget_raises_for_a_first_call_and_ends_a_follow_up() -> None:
    with ScriptedModel([]) as model:
        runner = AgentRunner(model, Budget(max_calls=0))
        with pytest.raises(BudgetExceeded) as raised:
            await runner.call(ASK, CallTags())
        assert raised.value.kind == "calls"
        assert await runner.follow_up(ASK, CallTags(purpose="repair1")) is None
    assert runner.ledger.calls == [] and runner.ledger.spent is None  # nothing was attempted as a role


async def test_a_repair_the_budget_stops_returns_the_failure_and_the_first_reply_stays_recorded() -> None:
    with ScriptedModel(["four"]) as model:
        runner = AgentRunner(model, Budget(max_calls=1))
        parsed = await runner.ask(ASK, CallTags(role="verifier"), _integer, repair_format="a number", repair_attempts=2)
    assert (parsed.value, parsed.text) == (None, "four")
    assert [c.purpose for c in runner.ledger.calls] == ["answer"]


async def test_a_repair_is_sent_when_the_reply_does_not_parse() -> None:
    with ScriptedModel(["four", "4"]) as model:
        runner = AgentRunner(model, Budget())
        parsed = await runner.ask(ASK, CallTags(role="verifier"), _integer, repair_format="a number", repair_attempts=1)
    assert parsed.value == 4
    assert [c.purpose for c in runner.ledger.calls] == ["answer", "repair1"]
    assert "a number" in model.requests[1].messages[-1].content


async def test_attempt_turns_a_spent_budget_into_spent_and_keeps_the_first_kind() -> None:
    with ScriptedModel([]) as model:
        runner = AgentRunner(model, Budget(max_calls=0))
        assert await runner.attempt(runner.call(ASK, CallTags()), where="planner") == Spent("calls")
        runner.budget.max_calls, runner.budget.max_tokens = None, 0
        assert await runner.attempt(runner.call(ASK, CallTags()), where="planner") == Spent("tokens")
    assert runner.ledger.spent == "calls" and runner.ledger.failures == []


async def test_attempt_records_ignores_or_raises_a_provider_failure() -> None:
    down = TransientModelError("provider down")
    with ScriptedModel([down, down, down]) as model:
        runner = AgentRunner(model, Budget())
        recorded = await runner.attempt(runner.call(ASK, CallTags()), where="agent 1 round 0")
        ignored = await runner.attempt(runner.call(ASK, CallTags()), where="distiller", errors="ignore")
        with pytest.raises(TransientModelError):
            await runner.attempt(runner.call(ASK, CallTags()), where="test writer", errors="raise")
    assert recorded == Failed(down) and ignored == Failed(down)
    assert runner.ledger.failures == ["agent 1 round 0: TransientModelError: provider down"]
    assert len(runner.ledger.calls) == 3 and runner.ledger.spent is None


async def test_attempt_passes_a_value_through() -> None:
    with ScriptedModel(["4"]) as model:
        runner = AgentRunner(model, Budget())
        response = await runner.attempt(runner.call(ASK, CallTags()), where="planner")
    assert not isinstance(response, Spent | Failed) and response.text == "4"
