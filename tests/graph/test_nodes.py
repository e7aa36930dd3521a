"""Nodes one at a time, with scripted models and hand-built state: what a spent budget, a failed
provider or a normal reply becomes in the state update (no whole solve)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.runtime import Runtime

from xolver.agents.runner import Budget
from xolver.config import XolverConfig
from xolver.errors import TransientModelError
from xolver.events import AgentAnswered, AgentJudged, RolesPlanned, Verified
from xolver.graph import codec, nodes
from xolver.graph.state import AgentTask, JudgeTask, SolveContext, SolveState, Verdict
from xolver.memory.testing import ScriptedStore
from xolver.models.base import Model
from xolver.models.testing import ScriptedModel
from xolver.solution import Trajectory

PROBLEM = "What is 17 * 23?"
PLAN = "Roles:\n1. Calculator: computes\n2. Checker: checks\nSelected: 1, 2"
SOLVED = "Thought: multiply\nResponse: 391\nFinal answer: \\boxed{391}"
DOWN = TransientModelError("provider down")


def _runtime(model: Model, events: list[Any], *, budget: Budget | None = None, **config: Any) -> Runtime[SolveContext]:
    cfg = XolverConfig(**{"agents": 2, "rounds": 1, "python_tool": False, "memory_mode": "off", **config})
    context = SolveContext(model=model, config=cfg, budget=budget or Budget())
    return Runtime(context=context, stream_writer=events.append)


def _task(agent: int = 1, round_index: int = 0) -> AgentTask:
    return {
        "problem": PROBLEM,
        "agent": agent,
        "role": "Checker",
        "reason": "checks",
        "method": "reasoning",
        "temperature": 0.0,
        "round": round_index,
        "exemplars": [],
        "previous": None,
        "shared": [],
    }


def _judge_task(answer: str = "391") -> JudgeTask:
    candidate = Trajectory(agent=1, role="Checker", round=0, response=f"it is {answer}", answer=answer)
    return {"problem": PROBLEM, "trajectory": codec.dump(candidate), "tests": [], "synthesized": 0, "checker": None}


def test_plan_dumps_the_roles_and_its_calls() -> None:
    events: list[Any] = []
    with ScriptedModel({"planner": [PLAN]}) as model:
        update = asyncio.run(nodes.plan({"problem": PROBLEM}, _runtime(model, events)))
    assert [r["name"] for r in update["roles"]] == ["Calculator", "Checker"]
    assert [c["role"] for c in update["calls"]] == ["planner"] and update["round"] == 0
    assert "budget_stop" not in update and "failures" not in update
    assert [type(e).__name__ for e in events] == ["ModelCalled", "RolesPlanned"]


def test_a_spent_budget_at_the_planner_pads_the_roles_and_stops_the_solve() -> None:
    events: list[Any] = []
    with ScriptedModel([]) as model:
        update = asyncio.run(nodes.plan({"problem": PROBLEM}, _runtime(model, events, budget=Budget(max_calls=0))))
    assert update["budget_stop"] == "calls" and update["calls"] == []
    assert all(r["padded"] for r in update["roles"]) and isinstance(events[-1], RolesPlanned)


def test_a_failed_planner_is_recorded_with_its_call_and_the_team_goes_on() -> None:
    with ScriptedModel({"planner": [DOWN]}) as model:
        update = asyncio.run(nodes.plan({"problem": PROBLEM}, _runtime(model, [])))
    assert update["failures"] == ["planner: TransientModelError: provider down"]
    assert [(c["role"], c["ok"]) for c in update["calls"]] == [("planner", False)]
    assert len(update["roles"]) == 2 and "budget_stop" not in update


def test_solve_answers_from_its_send_payload() -> None:
    events: list[Any] = []
    with ScriptedModel({"solver": [SOLVED]}) as model:
        update = asyncio.run(nodes.solve(_task(), _runtime(model, events)))
    (trajectory,) = codec.trajectories(update)
    assert (trajectory.agent, trajectory.role, trajectory.answer) == (1, "Checker", "391")
    assert update["round"] == 0 and len(update["calls"]) == 1
    assert [type(e).__name__ for e in events] == ["AgentStarted", "ModelCalled", "AgentAnswered"]


def test_an_agent_stopped_by_the_budget_is_not_an_answer_and_stops_the_loop() -> None:
    events: list[Any] = []
    with ScriptedModel([]) as model:
        update = asyncio.run(nodes.solve(_task(), _runtime(model, events, budget=Budget(max_calls=0))))
    (trajectory,) = codec.trajectories(update)
    assert trajectory.error == codec.BUDGET_SPENT and update["budget_stop"] == "calls"
    assert [type(e).__name__ for e in events] == ["AgentStarted"]  # nothing answered


def test_a_repair_cut_by_the_budget_keeps_the_reply_and_does_not_stop_the_loop() -> None:
    # The agent had its answer call; only the repair was cut, so the round's answers stand.
    with ScriptedModel({"solver": ["I am not sure."]}) as model:
        update = asyncio.run(nodes.solve(_task(), _runtime(model, [], budget=Budget(max_calls=1))))
    (trajectory,) = codec.trajectories(update)
    assert trajectory.error == "no final answer found" and trajectory.response == "I am not sure."
    assert "budget_stop" not in update and len(update["calls"]) == 1


def test_one_agents_provider_failure_is_its_own() -> None:
    events: list[Any] = []
    with ScriptedModel({"solver": [DOWN]}) as model:
        update = asyncio.run(nodes.solve(_task(agent=1, round_index=1), _runtime(model, events)))
    (trajectory,) = codec.trajectories(update)
    assert trajectory.error == "model error: provider down" and update["round"] == 1
    assert update["failures"] == ["agent 1 round 1: TransientModelError: provider down"]
    assert isinstance(events[-1], AgentAnswered)


GAME_OF_24 = "Use the numbers 2 5 8 11, each exactly once, with + - * / and parentheses, to obtain 24."


@pytest.mark.parametrize(
    ("problem", "answer", "check"),
    [
        (PROBLEM, "391", "exact arithmetic: 17 * 23 = 391 exactly"),
        (
            GAME_OF_24,
            "(11 - 5) * 8 / 2",
            "exact check: (11 - 5) * 8 / 2 = 24 exactly, using each of [2, 5, 8, 11] once",
        ),
        (GAME_OF_24, "(11 - 5) * 4", "exact check: (11 - 5) * 4 must use each of [2, 5, 8, 11] exactly once"),
        (
            GAME_OF_24,
            "24",
            "exact check: 24 is a number, not an expression: the answer must combine each of [2, 5, 8, 11] once",
        ),
    ],
)
@pytest.mark.parametrize("exact_checks", [True, False])
def test_the_exact_checks_of_an_answer_run_only_when_switched_on(
    problem: str, answer: str, check: str, exact_checks: bool
) -> None:
    reply = f"Thought: combine them\nFinal answer: \\boxed{{{answer}}}"
    with ScriptedModel({"solver": [reply]}) as model:
        update = asyncio.run(
            nodes.solve({**_task(), "problem": problem}, _runtime(model, [], exact_checks=exact_checks))
        )
    (trajectory,) = codec.trajectories(update)
    assert trajectory.answer == answer
    if not exact_checks:
        assert trajectory.checks == []
        return
    (found,) = trajectory.checks
    assert found.kind == "substitution" and found.detail.startswith(check)
    assert found.agrees is ("must use" not in check and "not an expression" not in check)
    # An exact check that holds settles the answer (the value of a problem that is nothing but
    # arithmetic, a Game-of-24 expression that uses each number once); a failed expression does not.
    assert found.settles is found.agrees


def test_a_failed_per_agent_recall_is_in_the_ledger_and_the_agent_still_answers() -> None:
    with ScriptedModel({"retriever": [DOWN], "solver": [SOLVED]}) as model:
        runtime = _runtime(model, [], self_retrieval="always", self_retrieval_per_agent=True)
        update = asyncio.run(nodes.solve(_task(), runtime))
    assert [(c["role"], c["ok"]) for c in update["calls"]] == [("retriever", False), ("solver", True)]
    assert codec.trajectories(update)[0].answer == "391" and "failures" not in update


def test_judge_writes_a_verdict_record() -> None:
    events: list[Any] = []
    with ScriptedModel({"judge": ["Critique: right\nScore: 1"]}) as model:
        update = asyncio.run(nodes.judge(_judge_task(), _runtime(model, events)))
    (verdict,) = codec.verdicts(update)
    assert verdict == Verdict(agent=1, round=0, score=1.0, critique="right")
    assert isinstance(events[-1], AgentJudged) and len(update["calls"]) == 1


def test_a_judge_stopped_by_the_budget_gives_no_verdict_and_a_failed_one_is_unjudged() -> None:
    with ScriptedModel([]) as model:
        spent = asyncio.run(nodes.judge(_judge_task(), _runtime(model, [], budget=Budget(max_calls=0))))
    assert spent == {"calls": [], "budget_stop": "calls"}
    with ScriptedModel({"judge": [DOWN]}) as model:
        failed = asyncio.run(nodes.judge(_judge_task(), _runtime(model, [])))
    (verdict,) = codec.verdicts(failed)
    assert verdict.score is None and verdict.critique.startswith("Unjudged: the judge's call failed")
    assert failed["failures"] == ["judge of agent 1 round 0: TransientModelError: provider down"]


def test_check_without_a_sandbox_is_done_without_a_call() -> None:
    with ScriptedModel([]) as model:
        assert asyncio.run(nodes.check({"problem": PROBLEM}, _runtime(model, []))) == {"checker_done": True}


def _answered(*answers: str) -> SolveState:
    trajectories = [
        Trajectory(agent=i, role=f"R{i}", round=0, response=f"so \\boxed{{{a}}}", answer=a)
        for i, a in enumerate(answers)
    ]
    return {"problem": PROBLEM, "round": 0, "trajectories": codec.dump_all(trajectories)}


def test_verify_reads_the_winning_groups_answer_without_a_call() -> None:
    events: list[Any] = []
    with ScriptedModel([]) as model:
        state: SolveState = {**_answered("391", "391"), "stop_reason": "agreement"}
        update = asyncio.run(nodes.verify(state, _runtime(model, events)))
    assert (update["answer"], update["answer_source"], update["stop_reason"]) == ("391", "boxed", "agreement")
    assert update["calls"] == [] and [t["answer"] for t in update["tally"]] == ["391"]
    assert events == [Verified(answer="391", source="boxed")]


def test_verify_with_a_spent_budget_and_nothing_parseable_has_no_answer() -> None:
    state: SolveState = {
        "problem": PROBLEM,
        "round": 0,
        "trajectories": [codec.dump(Trajectory(agent=0, role="R", round=0, response="many", parse_ok=False))],
        "budget_stop": "calls",
    }
    with ScriptedModel([]) as model:
        update = asyncio.run(nodes.verify(state, _runtime(model, [], budget=Budget(max_calls=0))))
    assert (update["answer"], update["answer_source"], update["stop_reason"]) == ("", "none", "budget_calls")


def test_write_back_distils_and_a_failed_distillation_is_no_failure() -> None:
    best = Trajectory(agent=0, role="Calculator", round=0, response="17 * 23 = 391", answer="391", score=1.0)
    state: SolveState = {"problem": PROBLEM, "answer": "391", "checked": True, "shared": [codec.dump(best)]}
    learned = "STRATEGY: Split a two-digit factor into tens and units, multiply each, then add."
    with ScriptedModel({"learner": [learned]}) as model, ScriptedStore() as store:
        runtime = _runtime(model, [], memory_mode="learn", distill_from="success")
        runtime.context.memory = store
        update = asyncio.run(nodes.write_back(state, runtime))
    assert [r.kind for r in store.added] == ["problem", "strategy"] and len(update["memory_written"]) == 2
    with ScriptedModel({"learner": [DOWN]}) as model, ScriptedStore() as store:
        runtime = _runtime(model, [], memory_mode="learn", distill_from="success")
        runtime.context.memory = store
        update = asyncio.run(nodes.write_back(state, runtime))
    # Learning is a bonus: the problem is filed, the failed call is in the ledger, no failure is reported.
    assert [r.kind for r in store.added] == ["problem"] and "failures" not in update
    assert [(c["purpose"], c["ok"]) for c in update["calls"]] == [("distill", False)]
