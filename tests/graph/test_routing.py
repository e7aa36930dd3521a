"""Routing decisions from hand-built state: no model, no graph, no whole solve."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from langgraph.types import Send

from xolver.config import XolverConfig
from xolver.graph.routing import dispatch_judges, route_after_collect, solver_tasks
from xolver.graph.state import SolveState
from xolver.solution import Check, PlannedRole, SolveMethod, Trajectory


def _candidate(agent: int, answer: str, method: SolveMethod = "reasoning") -> dict[str, Any]:
    checks = [Check(kind="program", agrees=True, detail=f"its program printed {answer}")] if method == "program" else []
    t = Trajectory(agent=agent, role=f"R{agent}", round=0, method=method, answer=answer, checks=checks)
    return t.model_dump(mode="json")


def _disagreeing(checker: str | None) -> SolveState:
    return {
        "problem": "p",
        "round": 0,
        "trajectories": [_candidate(0, "12", "program"), _candidate(1, "13"), _candidate(2, "14", "program")],
        "checker": {"answer": checker, "code": "print(12)", "output": "12"} if checker else None,
        "checker_done": True,
    }


def _judged(route: list[Send] | str) -> list[int]:
    """The agents whose candidates go to the judge, or [] for straight on."""
    if isinstance(route, str):
        assert route == "update_shared"
        return []
    assert all(s.node == "judge" for s in route)
    return [s.arg["trajectory"]["agent"] for s in route]


def test_an_executed_blind_check_grounds_the_round_so_no_prose_opinions_are_bought() -> None:
    cfg = XolverConfig(model="scripted", rounds=2, later_rounds="refine")
    assert cfg.judge_opinions == "unchecked"
    assert _judged(dispatch_judges(_disagreeing("12"), cfg)) == []
    # With no executed check the judge's opinion of the two leading answers is asked.
    assert len(_judged(dispatch_judges(_disagreeing(None), cfg))) == 2


@pytest.mark.parametrize(("policy", "with_check", "without_check"), [("always", 2, 2), ("never", 0, 0)])
def test_judge_opinions_policy(policy: Literal["always", "never"], with_check: int, without_check: int) -> None:
    cfg = XolverConfig(model="scripted", rounds=2, later_rounds="refine", judge_opinions=policy)
    assert len(_judged(dispatch_judges(_disagreeing("12"), cfg))) == with_check
    assert len(_judged(dispatch_judges(_disagreeing(None), cfg))) == without_check


def test_no_opinions_when_no_later_round_reads_them() -> None:
    # The last round: an opinion could only break a tie.
    cfg = XolverConfig(model="scripted", rounds=0, later_rounds="refine", judge_opinions="always")
    assert _judged(dispatch_judges(_disagreeing(None), cfg)) == []
    # Resampled rounds are fresh attempts: nobody reads a critique.
    cfg = XolverConfig(model="scripted", rounds=2, later_rounds="resample", judge_opinions="always")
    assert _judged(dispatch_judges(_disagreeing(None), cfg)) == []


def test_a_disagreeing_round_goes_to_the_blind_check_first() -> None:
    cfg = XolverConfig(model="scripted", rounds=2)
    state = _disagreeing(None)
    state["checker_done"] = False
    assert route_after_collect(state, cfg) == "check"


def test_round_zero_has_greedy_firsts_and_later_rounds_sample_every_seat() -> None:
    roles = [PlannedRole(name=f"R{i}").model_dump(mode="json") for i in range(3)]
    state: SolveState = {
        "problem": "p",
        "roles": roles,
        "trajectories": _disagreeing(None)["trajectories"],
        "shared": _disagreeing(None)["trajectories"][:1],
        "exemplars": [{"id": "e", "kind": "problem", "text": "t"}],
    }
    cfg = XolverConfig(model="scripted", agents=3, explore_temperature=0.9)
    first = [(s.arg["method"], s.arg["temperature"]) for s in solver_tasks(state, cfg, 0)]
    assert first == [("program", 0.0), ("reasoning", 0.0), ("reasoning", 0.9)]
    # Default: later rounds are fresh chains of thought (resample_methods): no previous attempt, no
    # shared answers, the same exemplars.
    later = solver_tasks(state, cfg, 1)
    seats = [(s.arg["method"], s.arg["temperature"]) for s in later]
    assert seats == [("reasoning", 0.9), ("reasoning", 0.9), ("reasoning", 0.9)]
    assert all(s.arg["previous"] is None and s.arg["shared"] == [] and s.arg["exemplars"] for s in later)
    # The paper's refinement: each agent builds on its previous attempt and sees the shared memory.
    refine = solver_tasks(state, cfg.model_copy(update={"later_rounds": "refine"}), 1)
    assert [s.arg["previous"]["answer"] for s in refine] == ["12", "13", "14"]
    assert [s.arg["method"] for s in refine] == ["program", "reasoning", "reasoning"]  # refining keeps the seat
    # A sampled program runs at its own, gentler temperature.
    assert [s.arg["temperature"] for s in refine] == [cfg.explore_program_temperature, 0.9, 0.9]
    programs = XolverConfig(model="scripted", agents=3, methods=["program"], explore_program_temperature=0.3)
    assert [s.arg["temperature"] for s in solver_tasks(state, programs, 0)] == [0.0, 0.3, 0.3]
    assert all(len(s.arg["shared"]) == 1 and not s.arg["exemplars"] for s in refine)
