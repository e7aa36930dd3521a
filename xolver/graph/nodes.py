"""The graph's nodes. Each reads state, does one step of the method, and returns a state update.

Nodes get their dependencies (model, budget, memory) from LangGraph's runtime context and emit typed
events through the runtime's stream writer. A spent budget never raises out of a node: it is
recorded in ``budget_stop`` and the routing sends the solve to the verifier.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from xolver.agents.coder import debug, judge_by_tests
from xolver.agents.coder import write_tests as write_tests_for
from xolver.agents.judge import BlindCheck, JudgeVerdict, blind_check, substitution_check
from xolver.agents.judge import judge as run_judge
from xolver.agents.planner import pad_roles, plan_roles
from xolver.agents.recall import recall
from xolver.agents.runner import AgentRunner
from xolver.agents.solver import Seat
from xolver.agents.solver import solve as run_solver
from xolver.agents.verifier import verify as run_verifier
from xolver.errors import BudgetExceeded, ModelError
from xolver.events import (
    AgentAnswered,
    AgentJudged,
    AgentStarted,
    BlindChecked,
    ExperienceRetrieved,
    MemoryWritten,
    RolesPlanned,
    RoundFinished,
    SharedMemoryUpdated,
    Verified,
)
from xolver.graph.aggregation import Group, to_records
from xolver.graph.routing import candidates, groups_of, stop_reason, update_shared
from xolver.graph.state import AgentTask, JudgeTask, SolveContext, SolveState
from xolver.memory.learning import distill_prompt, parse_distillation, problem_record, should_write_back
from xolver.memory.records import ExperienceRecord
from xolver.memory.retrieval import method_only, retrieve_experience
from xolver.models import completion_cap
from xolver.models.base import CallTags, Message, ModelSettings
from xolver.solution import CallRecord, Exemplar, Trajectory

__all__ = ["check", "judge", "plan", "retrieve", "solve", "update_shared_memory", "verify", "write_back", "write_tests"]


def _runner(runtime: Runtime[SolveContext], *, cap: int | None = None) -> AgentRunner:
    """An agent runner; `cap` bounds the completion of roles whose replies are short by design."""
    ctx = runtime.context
    cfg = ctx.config
    max_tokens = cfg.max_tokens
    if cap is not None:
        # A reasoning model thinks before it answers: a short role cap would leave it no answer.
        cap = completion_cap(ctx.model, cap)
        max_tokens = cap if max_tokens is None or cap is None else min(cap, max_tokens)
    settings = ModelSettings(
        temperature=cfg.temperature, max_tokens=max_tokens, seed=cfg.seed, timeout=cfg.request_timeout
    )
    return AgentRunner(
        ctx.model, ctx.budget, emit=runtime.stream_writer, settings=settings, stream_tokens=cfg.stream_tokens
    )


def _failure(where: str, error: ModelError) -> str:
    """A failure the solve survived, as recorded in `Solution.failures`: ``"<where>: <Class>: <message>"``."""
    return f"{where}: {type(error).__name__}: {error}"


def _dump_calls(calls: list[CallRecord]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in calls]


async def plan(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    cfg = runtime.context.config
    runner = _runner(runtime, cap=cfg.planner_max_tokens)
    budget_stop = None
    calls: list[CallRecord] = []
    failures: list[str] = []
    try:
        roles, calls = await plan_roles(
            runner, state["problem"], agents=cfg.agents, drafts=cfg.drafted_roles, repair_attempts=cfg.repair_attempts
        )
    except BudgetExceeded as e:
        roles, budget_stop = pad_roles([], cfg.agents), e.kind
    except ModelError as e:
        # The team can work without the planner's picks: generic roles, and the failure is recorded.
        roles, calls, failures = pad_roles([], cfg.agents), runner.records, [_failure("planner", e)]
    runtime.stream_writer(RolesPlanned(roles=roles))
    return {
        "roles": [r.model_dump(mode="json") for r in roles],
        "calls": _dump_calls(calls),
        "budget_stop": budget_stop,
        "failures": failures,
        "round": 0,
    }


async def write_tests(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Code tasks: tests synthesised from the statement, added to the given ones for judging."""
    ctx = runtime.context
    cfg = ctx.config
    if cfg.answer_format != "code" or cfg.synthesize_tests == 0 or cfg.code_judge != "execute" or ctx.tools is None:
        return {}
    tests, calls = await write_tests_for(
        _runner(runtime, cap=cfg.judge_max_tokens), state["problem"], count=cfg.synthesize_tests
    )
    given = set(state.get("tests") or [])
    return {"synthesized_tests": [t for t in tests if t not in given], "calls": _dump_calls(calls)}


async def retrieve(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    ctx = runtime.context
    cfg = ctx.config
    exemplars: list[Exemplar] = []
    if cfg.memory_mode != "off" and ctx.memory is not None and cfg.self_retrieval != "always":
        found = await asyncio.to_thread(
            retrieve_experience,
            ctx.memory,
            state["problem"],
            namespace=cfg.namespace,
            k_problems=cfg.retrieval_k,
            k_strategies=cfg.retrieval_strategies,
            k_code=cfg.retrieval_code,
            mode=cfg.retrieval_mode,
        )
        exemplars = [
            Exemplar(
                id=h.record.id,
                kind=h.record.kind,
                text=h.record.text,
                # A related problem's answer is not shown: it is a method to reuse, not a number to copy.
                solution=method_only(h.record.solution),
                code=h.record.code,
                score=round(h.score, 4),
            )
            for h in (*found.problems, *found.strategies, *found.code)
        ]
    calls: list[CallRecord] = []
    wants_recall = cfg.self_retrieval == "always" or (cfg.self_retrieval == "when_empty" and not exemplars)
    if wants_recall and not cfg.self_retrieval_per_agent:
        try:
            recalled, calls = await recall(_runner(runtime), state["problem"])
        except BudgetExceeded:
            recalled = None
        if recalled is not None:
            exemplars.append(recalled)
    runtime.stream_writer(ExperienceRetrieved(exemplars=exemplars))
    return {"exemplars": [e.model_dump(mode="json") for e in exemplars], "calls": _dump_calls(calls)}


def _failed(task: AgentTask, seat: Seat, error: str) -> Trajectory:
    """The trajectory of an agent that produced no answer this round (`error` says why)."""
    return Trajectory(
        agent=task["agent"], role=task["role"], round=task["round"], method=seat.method, parse_ok=False, error=error
    )


async def solve(task: AgentTask, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    ctx = runtime.context
    cfg = ctx.config
    runtime.stream_writer(AgentStarted(agent=task["agent"], role=task["role"], round=task["round"]))
    previous = Trajectory.model_validate(task["previous"]) if task["previous"] else None
    exemplars = [Exemplar.model_validate(e) for e in task["exemplars"]]
    recall_calls: list[CallRecord] = []
    if cfg.self_retrieval_per_agent and (
        cfg.self_retrieval == "always" or (cfg.self_retrieval == "when_empty" and not exemplars)
    ):
        try:
            recalled, recall_calls = await recall(
                _runner(runtime), task["problem"], agent=task["agent"], round_index=task["round"]
            )
        except (BudgetExceeded, ModelError):
            recalled = None
        if recalled is not None:
            exemplars = [*exemplars, recalled]
    runner = _runner(runtime)
    seat = Seat(
        method="program" if task.get("method") == "program" else "reasoning",
        temperature=task.get("temperature", cfg.temperature),
    )
    try:
        trajectory, calls = await run_solver(
            runner,
            task["problem"],
            agent=task["agent"],
            role=task["role"],
            round_index=task["round"],
            exemplars=exemplars,
            previous=previous,
            shared=[Trajectory.model_validate(e) for e in task["shared"]],
            share_critique=cfg.share_critique,
            answer_format=cfg.answer_format,
            repair_attempts=cfg.repair_attempts,
            toolbox=ctx.tools if cfg.python_tool else None,
            max_tool_calls=cfg.max_tool_calls,
            seat=seat,
            reason=task.get("reason", ""),
        )
    except BudgetExceeded as e:
        trajectory = _failed(task, seat, "budget")
        return {
            "trajectories": [trajectory.model_dump(mode="json")],
            "calls": _dump_calls([*recall_calls, *runner.records]),
            "budget_stop": e.kind,
            "round": task["round"],
        }
    except ModelError as e:
        # One agent's provider failure does not end the solve: the others' answers stand.
        trajectory = _failed(task, seat, f"model error: {e}")
        runtime.stream_writer(AgentAnswered(trajectory=trajectory))
        return {
            "trajectories": [trajectory.model_dump(mode="json")],
            "calls": _dump_calls([*recall_calls, *runner.records]),
            "failures": [_failure(f"agent {task['agent']} round {task['round']}", e)],
            "round": task["round"],
        }
    if cfg.answer_format != "code" and cfg.python_tool:
        found = await substitution_check(ctx.tools, task["problem"], trajectory)
        if found is not None:
            trajectory = trajectory.model_copy(update={"checks": [*trajectory.checks, found]})
    runtime.stream_writer(AgentAnswered(trajectory=trajectory))
    return {
        "trajectories": [trajectory.model_dump(mode="json")],
        "calls": _dump_calls([*recall_calls, *calls]),
        "round": task["round"],
    }


async def collect(state: SolveState) -> dict[str, Any]:
    """Join point after the solver fan-out (LangGraph runs it once all branches are done)."""
    return {}


async def check(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """The judge's blind check: it computes the answer with its own program before seeing any
    candidate (once per solve, when the first round's agents disagree)."""
    ctx = runtime.context
    cfg = ctx.config
    if ctx.tools is None:
        return {"checker_done": True}
    runner = _runner(runtime, cap=cfg.max_tokens)
    try:
        found, calls = await blind_check(
            runner, ctx.tools, state["problem"], answer_format=cfg.answer_format, repair_attempts=cfg.repair_attempts
        )
    except BudgetExceeded as e:
        return {"checker_done": True, "budget_stop": e.kind, "calls": _dump_calls(runner.records)}
    except ModelError as e:
        return {"checker_done": True, "failures": [_failure("blind check", e)], "calls": _dump_calls(runner.records)}
    record = None if found is None else {"answer": found.answer, "code": found.code, "output": found.output}
    runtime.stream_writer(
        BlindChecked(
            round=state.get("round", 0), answer=found.answer if found else None, code=found.code if found else ""
        )
    )
    return {"checker": record, "checker_done": True, "calls": _dump_calls(calls)}


async def judge(task: JudgeTask, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    ctx = runtime.context
    cfg = ctx.config
    candidate = Trajectory.model_validate(task["trajectory"])
    if cfg.answer_format == "code" and cfg.code_judge == "execute" and task["tests"] and ctx.tools is not None:
        verdict, outcomes = await judge_by_tests(ctx.tools, candidate, task["tests"], synthesized=task["synthesized"])
        runtime.stream_writer(
            AgentJudged(agent=candidate.agent, round=candidate.round, score=verdict.score, critique=verdict.critique)
        )
        record: dict[str, Any] = {
            "agent": candidate.agent,
            "round": candidate.round,
            "score": verdict.score,
            "critique": verdict.critique,
            "tests": [o.model_dump(mode="json") for o in outcomes],
        }
        return {"verdicts": [record]}
    raw_check = task.get("checker")
    blind = BlindCheck(**raw_check) if raw_check else None
    runner = _runner(runtime, cap=cfg.judge_max_tokens)
    failures: list[str] = []
    try:
        verdict, calls = await run_judge(
            runner, task["problem"], candidate, repair_attempts=cfg.repair_attempts, check=blind
        )
    except BudgetExceeded as e:
        return {"budget_stop": e.kind, "calls": _dump_calls(runner.records)}
    except ModelError as e:
        verdict, calls = JudgeVerdict(score=None, critique=f"Unjudged: the judge's call failed ({e})."), runner.records
        failures.append(_failure(f"judge of agent {candidate.agent} round {candidate.round}", e))
    runtime.stream_writer(
        AgentJudged(agent=candidate.agent, round=candidate.round, score=verdict.score, critique=verdict.critique)
    )
    return {
        "verdicts": [
            {"agent": candidate.agent, "round": candidate.round, "score": verdict.score, "critique": verdict.critique}
        ],
        "calls": _dump_calls(calls),
        "failures": failures,
    }


async def update_shared_memory(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    cfg = runtime.context.config
    current = state.get("round", 0)
    everything = candidates(state)
    judged = [t for t in everything if t.round == current]
    shared = update_shared(everything, cfg.agents, code=cfg.answer_format == "code")
    shared_dump = [e.model_dump(mode="json") for e in shared]
    runtime.stream_writer(SharedMemoryUpdated(round=current, entries=shared))
    after: SolveState = {**state, "shared": shared_dump}
    reason = stop_reason(after, cfg)
    scores = [e.score for e in shared if e.score is not None]
    best = max(scores) if scores else None
    runtime.stream_writer(RoundFinished(round=current, best_score=best, stop_reason=reason))
    record = {
        "index": current,
        "trajectories": [t.model_dump(mode="json") for t in judged],
        "shared_memory": shared_dump,
    }
    return {"shared": shared_dump, "rounds_done": [record], "stop_reason": reason}


def _representative(group: Group) -> Trajectory:
    """The member of the winning group the answer is read from: executed evidence first, then the
    judge's score, then the earliest."""

    def key(t: Trajectory) -> tuple[int, float, int, int]:
        executed = sum(1 for c in t.checks if c.agrees)
        return (-executed, -(t.score if t.score is not None else -1.0), t.round, t.agent)

    return sorted(group.members, key=key)[0]


def _check_of(group: Group, answer: str) -> tuple[bool, str | None, str]:
    """Whether an executed check agreed with the chosen answer, which kind, and a sentence saying so."""
    if group.checker:
        return True, "checker", f"the judge's own program, written before it saw any candidate, printed {answer}"
    for kind in ("substitution", "program"):
        for member in group.members:
            for c in member.checks:
                if c.agrees and c.kind == kind:
                    who = f"{member.role}, round {member.round + 1}"
                    return True, kind, f"{c.detail} ({who})" if kind == "program" else c.detail
    return False, None, ""


async def verify(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    cfg = runtime.context.config
    shared = state.get("shared") or []
    code = cfg.answer_format == "code"
    groups = [] if code else groups_of(state)
    best: Trajectory | None = None
    if code:
        best = Trajectory.model_validate(shared[0]) if shared else None
    elif groups and groups[0].members:
        best = _representative(groups[0])
    if best is None:
        # Nothing answered (e.g. every reply unparseable): fall back to the latest non-empty reply.
        for raw in reversed(state.get("trajectories") or []):
            if raw.get("response"):
                best = Trajectory.model_validate(raw)
                break
    failures: list[str] = []
    calls: list[CallRecord] = []
    runner = _runner(runtime, cap=cfg.verifier_max_tokens)
    if not code and groups and not groups[0].members:
        # Only the judge's blind program has an answer (every candidate's was refuted).
        answer, source = groups[0].answer, "checker"
    else:
        try:
            answer, source, calls = await run_verifier(
                runner, state["problem"], best, answer_format=cfg.answer_format, repair_attempts=cfg.repair_attempts
            )
        except ModelError as e:
            answer, source, calls = "", "none", runner.records
            failures.append(_failure("verifier", e))
    checked, check_kind, check = False, None, ""
    given = list(state.get("tests") or [])
    if code and answer and given and runtime.context.tools is not None:
        answer, outcomes, debug_calls = await debug(
            _runner(runtime),
            runtime.context.tools,
            state["problem"],
            answer,
            given,
            attempts=cfg.debug_attempts if not state.get("budget_stop") else 0,
        )
        calls = [*calls, *debug_calls]
        passed = sum(o.passed for o in outcomes)
        checked, check = passed == len(outcomes), f"passed {passed}/{len(outcomes)} given tests"
        check_kind = "tests" if checked else None
        if debug_calls:
            check += f" after {len(debug_calls)} debugger call(s)"
    elif groups and answer:
        chosen = next((g for g in groups if _same(g.answer, answer)), None)
        if chosen is not None:
            checked, check_kind, check = _check_of(chosen, answer)
    runtime.stream_writer(Verified(answer=answer, source=source))
    reason = state.get("stop_reason") or stop_reason(state, cfg) or "max_rounds"
    if not answer and best is None and not state.get("budget_stop"):
        reason = "no_answer"
    return {
        "answer": answer,
        "answer_source": source,
        "checked": checked,
        "check": check,
        "check_kind": check_kind,
        "tally": [t.model_dump(mode="json") for t in to_records(groups)],
        "calls": _dump_calls(calls),
        "failures": failures,
        "stop_reason": reason,
    }


def _same(a: str, b: str) -> bool:
    from xolver.agents.parsing import answers_match

    return answers_match(a, b)


async def write_back(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Learning: store the problem with its best trajectory, plus distilled strategies and code.

    Only a checked answer or one whose entry scored at least `write_back_min_score` is stored; code
    fragments are stored only after they ran cleanly in the sandbox.
    """
    ctx = runtime.context
    cfg = ctx.config
    store = ctx.memory
    if cfg.memory_mode != "learn" or store is None or not state.get("answer"):
        return {"memory_written": []}
    shared = state.get("shared") or []
    if cfg.write_back == "best":
        chosen = Trajectory.model_validate(shared[0]) if shared else None
    else:  # the authors' code: the last response produced
        last = (state.get("trajectories") or [])[-1:]
        chosen = Trajectory.model_validate(last[0]) if last else None
    # Memory keeps what an independent check confirmed: an agent's own program alone is not enough
    # unless another method agreed with it.
    checked = bool(state.get("checked")) and (
        state.get("check_kind") != "program" or state.get("stop_reason") == "agreement"
    )
    if chosen is None or not should_write_back(chosen.score, checked, cfg.write_back_min_score):
        return {"memory_written": []}
    domain = "code" if cfg.answer_format == "code" else "general"
    records = [
        problem_record(
            state["problem"],
            chosen.response,
            state["answer"],
            namespace=cfg.namespace,
            domain=domain,
            score=chosen.score,
            verified=checked,
        )
    ]
    calls: list[CallRecord] = []
    if cfg.distill:
        ran = [c.input for c in chosen.tool_calls if c.ok]
        prompt = distill_prompt(state["problem"], chosen.response, answer=state["answer"], code=ran)
        runner = _runner(runtime, cap=cfg.planner_max_tokens)
        try:
            response, record = await runner.call([Message("user", prompt)], CallTags(role="learner", purpose="distill"))
            calls.append(record)
            distilled = parse_distillation(
                response.text,
                namespace=cfg.namespace,
                domain=domain,
                problem=state["problem"],
                score=chosen.score,
                verified=checked,
            )
            records += await _runnable_code_only(ctx, distilled)
        except (BudgetExceeded, ModelError):
            pass  # learning is a bonus: the solve's answer stands without it
    written = await asyncio.to_thread(store.add, records)
    used = [e["id"] for e in state.get("exemplars") or []]
    if used:
        await asyncio.to_thread(store.record_use, used, chosen.score or 0.0)
    if written:
        runtime.stream_writer(MemoryWritten(ids=written))
    return {"memory_written": written, "calls": _dump_calls(calls)}


async def _runnable_code_only(ctx: SolveContext, records: list[ExperienceRecord]) -> list[ExperienceRecord]:
    """Drop code fragments that do not run cleanly in the sandbox (strategies pass through)."""
    kept = []
    for record in records:
        if record.kind == "code":
            if ctx.tools is None:
                continue
            outcome = (await ctx.tools.run_tests(record.code, ["pass"]))[0]
            if not outcome.passed:
                continue
        kept.append(record)
    return kept
