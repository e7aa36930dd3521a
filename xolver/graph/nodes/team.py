"""Before the rounds: the planner picks the team's roles; for code tasks, tests are written."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from xolver.agents.coder import write_tests as write_tests_for
from xolver.agents.planner import pad_roles, plan_roles
from xolver.agents.runner import Failed, Spent
from xolver.events import RolesPlanned
from xolver.graph import codec
from xolver.graph.state import SolveContext, SolveState
from xolver.graph.step import Step

__all__ = ["plan", "write_tests"]


async def plan(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """The planner's roles, one per agent."""
    step = Step(runtime)
    cfg = step.config
    runner = step.runner(cap=cfg.planner_max_tokens)
    planned = await runner.attempt(
        plan_roles(
            runner, state["problem"], agents=cfg.agents, drafts=cfg.drafted_roles, repair_attempts=cfg.repair_attempts
        ),
        where="planner",
    )
    match planned:
        case Spent() | Failed():
            # The team can work without the planner's picks: generic roles (a failure is recorded).
            roles = pad_roles([], cfg.agents)
        case _:
            roles = planned
    step.emit(RolesPlanned(roles=roles))
    return step.update(roles=codec.dump_all(roles), round=0)


async def write_tests(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Code tasks: tests synthesised from the statement, added to the given ones for judging."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    if cfg.answer_format != "code" or cfg.synthesize_tests == 0 or cfg.code_judge != "execute" or ctx.tools is None:
        return {}
    runner = step.runner(cap=cfg.judge_max_tokens)
    written = await runner.attempt(
        write_tests_for(runner, state["problem"], count=cfg.synthesize_tests), where="test writer", errors="raise"
    )
    tests = written if isinstance(written, list) else []
    given = set(state.get("tests") or [])
    return step.update(synthesized_tests=[t for t in tests if t not in given])
