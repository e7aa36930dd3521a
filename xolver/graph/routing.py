"""Pure functions of state: the shared-memory update, the stop rule and the fan-out routing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from langgraph.types import Send

from xolver.agents.parsing import normalize_answer
from xolver.config import XolverConfig
from xolver.graph.state import AgentTask, JudgeTask, SolveState
from xolver.solution import PlannedRole, Trajectory

__all__ = ["dispatch_judges", "dispatch_solvers", "route_after_update", "stop_reason", "update_shared"]


def update_shared(old: Sequence[Trajectory], new: Sequence[Trajectory], m: int) -> list[Trajectory]:
    """The top m of old + new entries by score (the paper's shared-memory update).

    Only scored entries with a final answer qualify. Ties are broken, in order, by how many
    candidates share the entry's (normalised) answer, then by the later round, then by the lower
    agent index, so the result is deterministic and, when a lenient judge gives everyone full
    marks, the majority answer comes first.
    """
    pool: dict[tuple[int, int], Trajectory] = {}
    for t in [*old, *new]:
        if t.score is not None and t.answer is not None:
            pool[(t.round, t.agent)] = t
    votes = Counter(normalize_answer(t.answer) for t in pool.values())

    def key(t: Trajectory) -> tuple[float, int, int, int]:
        return (-(t.score or 0.0), -votes[normalize_answer(t.answer)], -t.round, t.agent)

    return sorted(pool.values(), key=key)[:m]


def stop_reason(state: SolveState, config: XolverConfig) -> str | None:
    """Why the loop stops after the current round, or None to run another round."""
    budget = state.get("budget_stop")
    if budget:
        return f"budget_{budget}"
    shared = state.get("shared") or []
    if (
        config.early_stop
        and len(shared) >= config.agents
        and all((e.get("score") or 0.0) >= config.perfect_score for e in shared)
    ):
        return "perfect_score"
    if state.get("round", 0) + 1 >= config.total_rounds:
        return "max_rounds"
    return None


def _latest_by_agent(state: SolveState) -> dict[int, dict[str, Any]]:
    latest: dict[int, dict[str, Any]] = {}
    for t in state.get("trajectories") or []:
        if t["agent"] not in latest or t["round"] >= latest[t["agent"]]["round"]:
            latest[t["agent"]] = t
    return latest


def solver_tasks(state: SolveState, config: XolverConfig, round_index: int) -> list[Send]:
    """One `Send` per agent for `round_index`."""
    roles = [PlannedRole.model_validate(r) for r in state.get("roles") or []]
    exemplars = state.get("exemplars") or []
    show_exemplars = round_index == 0 or config.exemplars_every_round
    latest = _latest_by_agent(state)
    sends = []
    for agent, role in enumerate(roles):
        task: AgentTask = {
            "problem": state["problem"],
            "agent": agent,
            "role": role.name,
            "round": round_index,
            "exemplars": exemplars if show_exemplars else [],
            "previous": latest.get(agent) if round_index > 0 else None,
            "shared": state.get("shared") or [],
        }
        sends.append(Send("solve", task))
    return sends


def dispatch_solvers(state: SolveState, cfg: XolverConfig) -> list[Send]:
    """Round 0: fan out to every solver."""
    return solver_tasks(state, cfg, 0)


def dispatch_judges(state: SolveState) -> list[Send] | str:
    """Fan out one judge per trajectory of the current round; straight on when there is none."""
    current = state.get("round", 0)
    sends: list[Send] = []
    for t in state.get("trajectories") or []:
        if t["round"] == current and t.get("error") != "budget":
            synthesized = list(state.get("synthesized_tests") or [])
            task: JudgeTask = {
                "problem": state["problem"],
                "trajectory": t,
                "tests": list(state.get("tests") or []) + synthesized,
                "synthesized": len(synthesized),
            }
            sends.append(Send("judge", task))
    return sends or "update_shared"


def route_after_update(state: SolveState, cfg: XolverConfig) -> list[Send] | str:
    """To the verifier when the loop stops, else the next round's solvers."""
    # The parameter is not called `config`: LangGraph injects its RunnableConfig into that name.
    if stop_reason(state, cfg) is not None:
        return "verify"
    return solver_tasks(state, cfg, state.get("round", 0) + 1)
