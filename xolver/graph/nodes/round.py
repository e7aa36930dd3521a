"""One round: every agent answers (`solve`, fanned out), the judge checks blind and opines, and the
shared memory is updated."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from xolver.agents.coder import judge_by_tests
from xolver.agents.judge import JudgeVerdict, blind_check, slip_check, substitution_check
from xolver.agents.judge import judge as run_judge
from xolver.agents.recall import recall
from xolver.agents.runner import Failed, Spent
from xolver.agents.solver import SolverInput, SolverOptions
from xolver.agents.solver import solve as run_solver
from xolver.config import XolverConfig
from xolver.events import AgentAnswered, AgentJudged, AgentStarted, BlindChecked, RoundFinished, SharedMemoryUpdated
from xolver.graph import codec
from xolver.graph.aggregation import answer_equivalence
from xolver.graph.nodes.memory import wants_recall
from xolver.graph.routing import candidates, stop_reason, update_shared
from xolver.graph.state import AgentTask, JudgeTask, SolveContext, SolveState, Verdict
from xolver.graph.step import Step
from xolver.solution import Exemplar, Trajectory

__all__ = ["check", "collect", "judge", "solve", "update_shared_memory"]


def solver_options(cfg: XolverConfig) -> SolverOptions:
    """How every solver of a solve with `cfg` works."""
    return SolverOptions(
        answer_format=cfg.answer_format,
        repair_attempts=cfg.repair_attempts,
        share_critique=cfg.share_critique,
        max_tool_calls=cfg.max_tool_calls,
        function_calling=cfg.function_calling,
        tools=tuple(cfg.tools),
        fenced_python=cfg.fenced_python,
        fenced_tools=cfg.fenced_tools,
    )


def _failed(task: SolverInput, error: str) -> Trajectory:
    """The trajectory of an agent that produced no answer this round (`error` says why)."""
    method = task.seat.method if task.seat else "reasoning"
    return Trajectory(agent=task.agent, role=task.role, round=task.round, method=method, parse_ok=False, error=error)


async def solve(task: AgentTask, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """One agent's attempt in one round (a `Send` branch)."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    step.emit(AgentStarted(agent=task["agent"], role=task["role"], round=task["round"]))
    given = codec.solver_input(task, temperature=cfg.temperature)
    if cfg.self_retrieval_per_agent and wants_recall(cfg, given.exemplars):
        recaller = step.runner()
        recalled = await recaller.attempt(
            recall(recaller, given.problem, agent=given.agent, round_index=given.round), where="recall", errors="ignore"
        )
        if isinstance(recalled, Exemplar):
            given = replace(given, exemplars=(*given.exemplars, recalled))
    runner = step.runner()
    solved = await runner.attempt(
        run_solver(runner, given, solver_options(cfg), toolbox=ctx.tools if cfg.python_tool else None),
        where=f"agent {given.agent} round {given.round}",
    )
    match solved:
        case Spent():
            return step.update(trajectories=[codec.dump(_failed(given, codec.BUDGET_SPENT))], round=given.round)
        case Failed(error=error):
            # One agent's provider failure does not end the solve: the others' answers stand.
            trajectory = _failed(given, f"model error: {error}")
            step.emit(AgentAnswered(trajectory=trajectory))
            return step.update(trajectories=[codec.dump(trajectory)], round=given.round)
        case _:
            trajectory = solved
    if cfg.answer_format != "code":
        # Exact checks run without the sandbox; SymPy substitution needs it.
        found = await substitution_check(
            ctx.tools if cfg.python_tool else None, given.problem, trajectory, exact_checks=cfg.exact_checks
        )
        slipped = slip_check(trajectory)
        added = [c for c in (found, slipped) if c is not None]
        if added:
            trajectory = trajectory.model_copy(update={"checks": [*trajectory.checks, *added]})
    step.emit(AgentAnswered(trajectory=trajectory))
    return step.update(trajectories=[codec.dump(trajectory)], round=given.round)


async def collect(state: SolveState) -> dict[str, Any]:
    """Join point after the solver fan-out (LangGraph runs it once all branches are done)."""
    return {}


async def check(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """The judge's blind check: it computes the answer with its own program before seeing any
    candidate (once per solve, when the first round's agents disagree)."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    if ctx.tools is None:
        return {"checker_done": True}
    runner = step.runner(cap=cfg.max_tokens)
    found = await runner.attempt(
        blind_check(
            runner, ctx.tools, state["problem"], answer_format=cfg.answer_format, repair_attempts=cfg.repair_attempts
        ),
        where="blind check",
    )
    match found:
        case Spent() | Failed():
            return step.update(checker_done=True)
        case _:
            answer, code = (found.answer, found.code) if found else (None, "")
            step.emit(BlindChecked(round=state.get("round", 0), answer=answer, code=code))
            return step.update(checker=codec.dump_checker(found), checker_done=True)


async def judge(task: JudgeTask, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """The verdict on one candidate (a `Send` branch): tests run for code, else the judge's opinion."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    given = codec.judge_input(task)
    candidate = given.candidate
    if cfg.answer_format == "code" and cfg.code_judge == "execute" and task["tests"] and ctx.tools is not None:
        verdict, outcomes = await judge_by_tests(ctx.tools, candidate, task["tests"], synthesized=task["synthesized"])
        step.emit(
            AgentJudged(agent=candidate.agent, round=candidate.round, score=verdict.score, critique=verdict.critique)
        )
        record = Verdict(
            agent=candidate.agent, round=candidate.round, score=verdict.score, critique=verdict.critique, tests=outcomes
        )
        return {"verdicts": [codec.dump(record)]}
    runner = step.runner(cap=cfg.judge_max_tokens)
    judged = await runner.attempt(
        run_judge(runner, given, repair_attempts=cfg.repair_attempts),
        where=f"judge of agent {candidate.agent} round {candidate.round}",
    )
    match judged:
        case Spent():
            return step.update()
        case Failed(error=error):
            verdict = JudgeVerdict(score=None, critique=f"Unjudged: the judge's call failed ({error}).")
        case _:
            verdict = judged
    step.emit(AgentJudged(agent=candidate.agent, round=candidate.round, score=verdict.score, critique=verdict.critique))
    record = Verdict(agent=candidate.agent, round=candidate.round, score=verdict.score, critique=verdict.critique)
    return step.update(verdicts=[codec.dump(record)])


async def update_shared_memory(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """The round's end: the shared memory (top m candidates so far) and whether the loop stops."""
    cfg = runtime.context.config
    current = state.get("round", 0)
    everything = candidates(state)
    judged = [t for t in everything if t.round == current]
    same = answer_equivalence(state["problem"])
    shared = update_shared(everything, cfg.agents, code=cfg.answer_format == "code", same=same)
    shared_dump = codec.dump_all(shared)
    runtime.stream_writer(SharedMemoryUpdated(round=current, entries=shared))
    after: SolveState = {**state, "shared": shared_dump}
    reason = stop_reason(after, cfg)
    scores = [e.score for e in shared if e.score is not None]
    best = max(scores) if scores else None
    runtime.stream_writer(RoundFinished(round=current, best_score=best, stop_reason=reason))
    # A `RoundRecord` as state data.
    record = {"index": current, "trajectories": codec.dump_all(judged), "shared_memory": shared_dump}
    return {"shared": shared_dump, "rounds_done": [record], "stop_reason": reason}
