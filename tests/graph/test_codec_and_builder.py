"""The state codec, checkpoint serialisation of what nodes write, and one compiled graph for every
config (routing reads the config from the runtime context)."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.runtime import Runtime
from langgraph.types import Send

from xolver.agents.judge import BlindCheck
from xolver.agents.runner import Budget
from xolver.config import XolverConfig
from xolver.graph import build_graph, codec
from xolver.graph.builder import _after_update, _dispatch_solvers
from xolver.graph.routing import budget_stop_reason, candidates
from xolver.graph.state import AgentTask, JudgeTask, SolveContext, SolveState, Verdict
from xolver.models.testing import ScriptedModel
from xolver.solution import Exemplar, PlannedRole, Trajectory
from xolver.solution import TestOutcome as Outcome


def _runtime(**config: Any) -> Runtime[SolveContext]:
    cfg = XolverConfig(**config)
    return Runtime(context=SolveContext(model=ScriptedModel([]), config=cfg, budget=Budget()))


def _state() -> SolveState:
    roles = [PlannedRole(name=f"R{i}") for i in range(4)]
    t = Trajectory(agent=0, role="R0", round=0, response="x", answer="391")
    return {"problem": "p", "round": 0, "roles": codec.dump_all(roles), "trajectories": [codec.dump(t)]}


def test_one_compiled_graph_serves_every_config() -> None:
    assert build_graph() is build_graph()
    saver = InMemorySaver()
    with_saver = build_graph(checkpointer=saver)
    assert with_saver.checkpointer is saver and build_graph().checkpointer is None

    # The routing reads the seats and the rounds from the run's context, not from the build.
    def methods(**config: Any) -> list[str]:
        return [s.arg["method"] for s in asyncio.run(_dispatch_solvers(_state(), _runtime(**config)))]

    assert methods() == ["program", "reasoning", "reasoning", "program"]
    assert methods(methods=["reasoning"]) == methods(python_tool=False) == ["reasoning"] * 4
    assert asyncio.run(_after_update(_state(), _runtime(rounds=0, early_stop=False))) == "verify"
    next_round = asyncio.run(_after_update(_state(), _runtime(agents=3, rounds=1, early_stop=False)))
    assert isinstance(next_round, list) and {s.arg["round"] for s in next_round} == {1}


def test_verdicts_join_their_trajectories_through_the_codec() -> None:
    state = _state()
    outcome = Outcome(test="assert f() == 1", passed=True)
    state["verdicts"] = [codec.dump(Verdict(agent=0, round=0, score=0.5, critique="ok", tests=[outcome]))]
    (joined,) = candidates(state)
    assert (joined.score, joined.critique, joined.tests) == (0.5, "ok", [outcome])


def test_send_payloads_decode_into_the_roles_inputs() -> None:
    previous = Trajectory(agent=1, role="R1", round=0, answer="7")
    exemplar = Exemplar(id="e", kind="problem", text="t")
    task: AgentTask = {
        "problem": "p",
        "agent": 1,
        "role": "R1",
        "reason": "why",
        "method": "program",
        "temperature": 0.7,
        "round": 1,
        "exemplars": [codec.dump(exemplar)],
        "previous": codec.dump(previous),
        "shared": [codec.dump(previous)],
    }
    given = codec.solver_input(task, temperature=0.2)
    assert given.seat is not None and (given.seat.method, given.seat.temperature) == ("program", 0.7)
    assert given.previous == previous and given.shared == (previous,) and given.exemplars == (exemplar,)
    check = BlindCheck(answer="7", code="print(7)", output="7\n")
    payload: JudgeTask = {
        "problem": "p",
        "trajectory": codec.dump(previous),
        "tests": [],
        "synthesized": 0,
        "checker": codec.dump_checker(check),
    }
    judged = codec.judge_input(payload)
    assert judged.candidate == previous and judged.check == check


def test_what_nodes_write_survives_a_checkpoint() -> None:
    serde = JsonPlusSerializer()
    state = _state()
    state["verdicts"] = [codec.dump(Verdict(agent=0, round=0, score=None))]
    state["checker"] = codec.dump_checker(BlindCheck(answer="1", code="print(1)", output="1"))
    state["budget_stop"] = "tokens"
    restored = serde.loads_typed(serde.dumps_typed(state))
    assert restored == state and codec.verdicts(restored)[0].score is None
    send = Send("solve", {"problem": "p", "shared": state["trajectories"]})
    assert serde.loads_typed(serde.dumps_typed(send)) == send


def test_each_spent_budget_has_its_stop_reason() -> None:
    assert [budget_stop_reason(k) for k in ("calls", "tokens", "seconds")] == [
        "budget_calls",
        "budget_tokens",
        "budget_seconds",
    ]
