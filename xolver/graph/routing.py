"""Pure functions of state: the candidates with their verdicts, the shared-memory update, the stop
rule and the fan-out routing.

One round: the solvers answer; if independent methods already agree with an executed check the loop
stops (adaptive compute); otherwise the judge computes the answer blind (once per solve), then gives
its opinion of each distinct answer of the round when another round will use it, and the next round
refines. The final answer is chosen by `xolver.graph.aggregation`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from langgraph.types import Send
from typing_extensions import assert_never

from xolver.agents.parsing import normalize_answer
from xolver.agents.solver import team_seats
from xolver.config import XolverConfig
from xolver.errors import BudgetKind
from xolver.graph import codec
from xolver.graph.aggregation import Group, agreement, answer_equivalence, same_answer, tally
from xolver.graph.state import AgentTask, JudgeTask, SolveState
from xolver.solution import StopReason, Trajectory

__all__ = [
    "agreed",
    "budget_stop_reason",
    "candidates",
    "dispatch_judges",
    "dispatch_solvers",
    "groups_of",
    "route_after_check",
    "route_after_collect",
    "route_after_update",
    "stop_reason",
    "update_shared",
    "wants_opinions",
]


# The judge's opinions per round: of the leading answers only, since the rest cannot win on them.
OPINIONS_PER_ROUND = 2


def candidates(state: SolveState) -> list[Trajectory]:
    """Every trajectory of the solve so far, with its judge verdict (score, critique, tests) applied."""
    verdicts = {(v.agent, v.round): v for v in codec.verdicts(state)}
    out: list[Trajectory] = []
    for t in codec.trajectories(state):
        v = verdicts.get((t.agent, t.round))
        if v is not None:
            update: dict[str, Any] = {"score": v.score, "critique": v.critique}
            if v.tests:
                update["tests"] = v.tests
            t = t.model_copy(update=update)
        out.append(t)
    return out


def groups_of(state: SolveState) -> list[Group]:
    """The solve's answers grouped and ranked (see `xolver.graph.aggregation`)."""
    checker = codec.checker(state)
    same = answer_equivalence(state["problem"])
    return tally(candidates(state), checker_answer=checker.answer if checker else None, same=same)


def update_shared(
    entries: Sequence[Trajectory], m: int, *, code: bool = False, same: Callable[[str, str], bool] = same_answer
) -> list[Trajectory]:
    """The shared memory: the top m candidates of the solve so far.

    Math: ranked by their answer group's weight (votes plus executed checks plus the judge's
    relative opinion), then by their own judge score, then the later round, then the lower agent.
    Code: ranked by the share of tests passed (the judge's score), then by how many candidates
    share the program. Deterministic either way.
    """
    pool = [t for t in entries if t.answer is not None]
    if code:
        votes = Counter(normalize_answer(t.answer) for t in pool)

        def code_key(t: Trajectory) -> tuple[float, int, int, int]:
            return (-(t.score or 0.0), -votes[normalize_answer(t.answer)], -t.round, t.agent)

        return sorted(pool, key=code_key)[:m]
    groups = tally(pool, same=same)
    rank = {id(member): i for i, g in enumerate(groups) for member in g.members}

    def key(t: Trajectory) -> tuple[int, float, int, int]:
        return (rank.get(id(t), len(groups)), -(t.score if t.score is not None else -1.0), -t.round, t.agent)

    return sorted(pool, key=key)[:m]


def agreed(state: SolveState, config: XolverConfig) -> bool:
    """Whether the solve's answers agree strongly enough to stop (`xolver.graph.aggregation.agreement`).

    The supporters asked for are capped at what the team can give (its agents plus the checker), so a
    one-agent team can still stop early on its program and the checker."""
    needed = min(config.agreement_votes, config.agents + int(config.blind_check and config.python_tool))
    return agreement(groups_of(state), min_votes=needed)


def budget_stop_reason(kind: BudgetKind) -> StopReason:
    """The stop reason of a solve whose `kind` budget ran out."""
    match kind:
        case "calls":
            return "budget_calls"
        case "tokens":
            return "budget_tokens"
        case "seconds":
            return "budget_seconds"
        case "cost":
            return "budget_cost"
        case other:
            assert_never(other)


def stop_reason(state: SolveState, config: XolverConfig) -> StopReason | None:
    """Why the loop stops after the current round, or None to run another round."""
    budget = state.get("budget_stop")
    if budget:
        return budget_stop_reason(budget)
    if config.early_stop:
        if config.answer_format == "code":
            shared = codec.shared(state)[:1]
            if shared and (shared[0].score or 0.0) >= config.perfect_score and shared[0].tests:
                return "checked"
        elif agreed(state, config):
            return "agreement"
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
    roles = codec.roles(state)
    refine = round_index > 0 and _refines(config)
    resample = round_index > 0 and not refine
    seats = team_seats(
        len(roles),
        methods=config.later_round_methods if resample else config.methods,
        explore_temperature=config.explore_temperature,
        explore_program_temperature=config.explore_program_temperature,
        code=config.answer_format == "code" or not config.python_tool,
    )
    exemplars = state.get("exemplars") or []
    # A fresh attempt gets what round 0 got; a refinement builds on its previous attempt instead.
    show_exemplars = not refine or config.exemplars_every_round
    latest = _latest_by_agent(state)
    sends = []
    for agent, (role, seat) in enumerate(zip(roles, seats, strict=True)):
        task: AgentTask = {
            "problem": state["problem"],
            "agent": agent,
            "role": role.name,
            "reason": role.reason,
            "method": seat.method,
            "temperature": seat.temperature if round_index == 0 else _sampled_temperature(seat.method, config),
            "round": round_index,
            "exemplars": exemplars if show_exemplars else [],
            "previous": latest.get(agent) if refine else None,
            "shared": (state.get("shared") or []) if refine else [],
        }
        sends.append(Send("solve", task))
    return sends


def _sampled_temperature(method: str, config: XolverConfig) -> float:
    """A later round's temperature: every seat samples, a program more gently than a chain of thought."""
    return config.explore_program_temperature if method == "program" else config.explore_temperature


def _refines(config: XolverConfig) -> bool:
    """Whether a later round refines the agents' previous attempts (else it samples fresh ones)."""
    if config.answer_format == "code":
        return True  # code tasks always refine: the next round reads which tests failed, an executed signal
    match config.later_rounds:
        case "refine":
            return True
        case "resample":
            return False
        case other:
            assert_never(other)


def dispatch_solvers(state: SolveState, cfg: XolverConfig) -> list[Send]:
    """Round 0: fan out to every solver."""
    return solver_tasks(state, cfg, 0)


def _judge_task(state: SolveState, t: dict[str, Any]) -> JudgeTask:
    synthesized = list(state.get("synthesized_tests") or [])
    return {
        "problem": state["problem"],
        "trajectory": t,
        "tests": list(state.get("tests") or []) + synthesized,
        "synthesized": len(synthesized),
        "checker": state.get("checker"),
    }


def dispatch_judges(state: SolveState, cfg: XolverConfig | None = None) -> list[Send] | str:
    """Code tasks: one judge (test run) per trajectory of the current round. Math: the judge's
    opinion of the two leading answers of the round, when another round will read the critiques;
    straight on to the shared-memory update otherwise (an opinion moves a vote by at most half a
    vote, so in the last round it would only buy a tie-break)."""
    current = state.get("round", 0)
    # Send payloads stay state data: the raw trajectories go to the judges as they are.
    now = [t for t in state.get("trajectories") or [] if t["round"] == current and t.get("error") != codec.BUDGET_SPENT]
    if cfg is None or cfg.answer_format == "code":
        return [Send("judge", _judge_task(state, t)) for t in now] or "update_shared"
    if current + 1 >= cfg.total_rounds or not wants_opinions(state, cfg):
        return "update_shared"
    representatives: list[dict[str, Any]] = []
    same = answer_equivalence(state["problem"])
    for group in groups_of(state):
        member = next((t for t in now if t.get("answer") is not None and same(group.answer, t["answer"])), None)
        if member is not None:
            representatives.append(member)
        if len(representatives) == OPINIONS_PER_ROUND:
            break
    return [Send("judge", _judge_task(state, t)) for t in representatives] or "update_shared"


def wants_opinions(state: SolveState, cfg: XolverConfig) -> bool:
    """Whether the judge gives its opinion this round (math): only when the next round refines (nobody
    reads a critique otherwise), and as `XolverConfig.judge_opinions` says."""
    if cfg.later_rounds != "refine":
        return False
    match cfg.judge_opinions:
        case "always":
            return True
        case "never":
            return False
        case "unchecked":
            # An executed check already grounds the round; a small model's prose opinion mostly adds noise
            # and costs a call that a vote could have used.
            checker = codec.checker(state)
            return not (checker and checker.answer)
        case other:
            assert_never(other)


def route_after_collect(state: SolveState, cfg: XolverConfig) -> list[Send] | str:
    """After the solvers: stop on agreement, else the blind check (once per solve), else the judges."""
    if state.get("budget_stop"):
        return "update_shared"
    if cfg.answer_format == "code":
        return dispatch_judges(state, cfg)
    if cfg.early_stop and agreed(state, cfg):
        return "update_shared"
    if cfg.blind_check and cfg.python_tool and not state.get("checker_done"):
        return "check"
    return dispatch_judges(state, cfg)


def route_after_check(state: SolveState, cfg: XolverConfig) -> list[Send] | str:
    """After the blind check: stop on agreement, else the judges."""
    if state.get("budget_stop") or (cfg.early_stop and agreed(state, cfg)):
        return "update_shared"
    return dispatch_judges(state, cfg)


def route_after_update(state: SolveState, cfg: XolverConfig) -> list[Send] | str:
    """To the verifier when the loop stops, else the next round's solvers."""
    # The parameter is not called `config`: LangGraph injects its RunnableConfig into that name.
    if stop_reason(state, cfg) is not None:
        return "verify"
    return solver_tasks(state, cfg, state.get("round", 0) + 1)
