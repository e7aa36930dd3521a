"""The one codec between the graph's plain-data state and the typed records nodes and routing use.

State holds JSON-like data (so checkpoints serialise); nodes and routing read it through these
functions and write records back with `dump` / `dump_all`, never calling `model_validate` or
`model_dump` themselves. Send payloads (`AgentTask`, `JudgeTask`) are decoded here into the roles'
inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from xolver.agents.judge import BlindCheck, JudgeInput
from xolver.agents.solver import Seat, SolverInput
from xolver.graph.state import AgentTask, JudgeTask, Verdict
from xolver.solution import AnswerTally, CallRecord, Exemplar, PlannedRole, RoundRecord, Trajectory

__all__ = [
    "BUDGET_SPENT",
    "calls",
    "checker",
    "dump",
    "dump_all",
    "dump_checker",
    "exemplar_ids",
    "exemplars",
    "judge_input",
    "roles",
    "rounds",
    "shared",
    "solver_input",
    "tally",
    "trajectories",
    "verdicts",
]

BUDGET_SPENT = "budget"
"""`Trajectory.error` of an agent the budget stopped before it answered (it is not judged)."""


def dump(record: BaseModel) -> dict[str, Any]:
    """A record as state data."""
    return record.model_dump(mode="json")


def dump_all(records: Iterable[BaseModel]) -> list[dict[str, Any]]:
    """Records as state data."""
    return [r.model_dump(mode="json") for r in records]


def trajectories(state: Mapping[str, Any]) -> list[Trajectory]:
    """Every trajectory of the solve so far, in the order written (without their verdicts)."""
    return [Trajectory.model_validate(t) for t in state.get("trajectories") or []]


def shared(state: Mapping[str, Any]) -> list[Trajectory]:
    """The shared memory: the top candidates so far, best first."""
    return [Trajectory.model_validate(t) for t in state.get("shared") or []]


def verdicts(state: Mapping[str, Any]) -> list[Verdict]:
    """Every judge verdict of the solve so far."""
    return [Verdict.model_validate(v) for v in state.get("verdicts") or []]


def roles(state: Mapping[str, Any]) -> list[PlannedRole]:
    """The planned roles, one per agent."""
    return [PlannedRole.model_validate(r) for r in state.get("roles") or []]


def exemplars(state: Mapping[str, Any]) -> list[Exemplar]:
    """The retrieved (or recalled) exemplars shown to the solvers."""
    return [Exemplar.model_validate(e) for e in state.get("exemplars") or []]


def exemplar_ids(state: Mapping[str, Any]) -> list[str]:
    """The ids of the exemplars the solve used (their use is recorded on write-back)."""
    return [e["id"] for e in state.get("exemplars") or []]


def rounds(state: Mapping[str, Any]) -> list[RoundRecord]:
    """The finished rounds: each agent's trajectory and the shared memory after the round."""
    return [RoundRecord.model_validate(r) for r in state.get("rounds_done") or []]


def tally(state: Mapping[str, Any]) -> list[AnswerTally]:
    """The final tally of the solve's answers, best first (written by the verifier)."""
    return [AnswerTally.model_validate(t) for t in state.get("tally") or []]


def calls(state: Mapping[str, Any]) -> list[CallRecord]:
    """The solve's call ledger."""
    return [CallRecord.model_validate(c) for c in state.get("calls") or []]


def checker(state: Mapping[str, Any]) -> BlindCheck | None:
    """The judge's blind check, when it printed an answer."""
    return _blind_check(state.get("checker"))


def dump_checker(check: BlindCheck | None) -> dict[str, Any] | None:
    """A blind check as state data."""
    return None if check is None else {"answer": check.answer, "code": check.code, "output": check.output}


def _blind_check(raw: Mapping[str, Any] | None) -> BlindCheck | None:
    return BlindCheck(answer=raw["answer"], code=raw["code"], output=raw["output"]) if raw else None


def solver_input(task: AgentTask, *, temperature: float) -> SolverInput:
    """A solver branch's `Send` payload as the solver's input (`temperature`: when the task has none)."""
    previous = task["previous"]
    return SolverInput(
        problem=task["problem"],
        agent=task["agent"],
        role=task["role"],
        round=task["round"],
        seat=Seat(
            method="program" if task.get("method") == "program" else "reasoning",
            temperature=task.get("temperature", temperature),
        ),
        reason=task.get("reason", ""),
        exemplars=tuple(Exemplar.model_validate(e) for e in task["exemplars"]),
        previous=Trajectory.model_validate(previous) if previous else None,
        shared=tuple(Trajectory.model_validate(t) for t in task["shared"]),
    )


def judge_input(task: JudgeTask) -> JudgeInput:
    """A judge branch's `Send` payload as the judge's input."""
    return JudgeInput(
        problem=task["problem"],
        candidate=Trajectory.model_validate(task["trajectory"]),
        check=_blind_check(task.get("checker")),
    )
