"""The planner role: its call, its bounded repair, and the generic roles it falls back to."""

from __future__ import annotations

from xolver.agents.planner import GENERIC_ROLES, plan_roles
from xolver.agents.runner import AgentRunner, Budget
from xolver.models.base import ModelResponse
from xolver.models.testing import ScriptedModel

PROBLEM = "What is 17 * 23?"
RAMBLE = "Let me think about which experts would be useful for this problem. " * 20


async def test_a_reply_in_the_format_names_the_team() -> None:
    plan = "Roles:\n1. Arithmetician: multiplies\n2. Checker: checks\n3. Estimator: rounds\nSelected: 2, 1"
    with ScriptedModel([plan]) as model:
        roles = await plan_roles(AgentRunner(model, Budget()), PROBLEM, agents=2, drafts=3, repair_attempts=1)
    assert [r.name for r in roles] == ["Checker", "Arithmetician"]


async def test_an_unparsed_reply_is_repaired_once() -> None:
    with ScriptedModel([RAMBLE, "Roles:\n1. Arithmetician: multiplies\nSelected: 1"]) as model:
        runner = AgentRunner(model, Budget())
        roles = await plan_roles(runner, PROBLEM, agents=1, drafts=2, repair_attempts=1)
    assert [r.name for r in roles] == ["Arithmetician"] and len(runner.ledger.calls) == 2


async def test_a_reply_cut_at_the_cap_before_any_role_gets_generic_roles_without_a_repair() -> None:
    with ScriptedModel([ModelResponse(text=RAMBLE, finish_reason="length")]) as model:
        runner = AgentRunner(model, Budget())
        roles = await plan_roles(runner, PROBLEM, agents=3, drafts=5, repair_attempts=1)
    assert [r.name for r in roles] == [name for name, _ in GENERIC_ROLES[:3]] and all(r.padded for r in roles)
    assert len(runner.ledger.calls) == 1
