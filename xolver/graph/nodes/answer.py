"""The answer: the verifier extracts it from the winning group, and says which executed check (if
any) agreed with it."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from xolver.agents.coder import debug
from xolver.agents.runner import Failed, Spent
from xolver.agents.verifier import verify as run_verifier
from xolver.events import Verified
from xolver.graph import codec
from xolver.graph.aggregation import Group, answer_equivalence, slipped, to_records
from xolver.graph.routing import groups_of, stop_reason
from xolver.graph.state import SolveContext, SolveState
from xolver.graph.step import Step
from xolver.solution import CheckKind, StopReason, Trajectory

__all__ = ["verify"]


def _representative(group: Group) -> Trajectory:
    """The member of the winning group the answer is read from: executed evidence first, then a chain
    whose written arithmetic holds, then the judge's score, then the earliest."""

    def key(t: Trajectory) -> tuple[int, bool, float, int, int]:
        executed = sum(1 for c in t.checks if c.agrees)
        return (-executed, slipped(t), -(t.score if t.score is not None else -1.0), t.round, t.agent)

    return sorted(group.members, key=key)[0]


def _check_of(group: Group, answer: str) -> tuple[bool, CheckKind | None, str]:
    """Whether an executed check agreed with the chosen answer, which kind, and a sentence saying so.
    An answer that an exact evaluation of the problem refuted is never checked, whatever else agreed."""
    if any(not c.agrees and c.settles for m in group.members for c in m.checks):
        return False, None, ""
    if group.checker:
        return True, "checker", f"the judge's own program, written before it saw any candidate, printed {answer}"
    kinds: tuple[CheckKind, ...] = ("substitution", "program")
    for kind in kinds:
        for member in group.members:
            for c in member.checks:
                if c.agrees and c.kind == kind:
                    who = f"{member.role}, round {member.round + 1}"
                    return True, kind, f"{c.detail} ({who})" if kind == "program" else c.detail
    return False, None, ""


async def verify(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """The final answer in the requested format, whether an executed check agreed with it, and
    why the loop stopped. Code tasks: the chosen program is debugged against the given tests."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    code = cfg.answer_format == "code"
    groups = [] if code else groups_of(state)
    best: Trajectory | None = None
    if code:
        shared = codec.shared(state)
        best = shared[0] if shared else None
    elif groups and groups[0].members:
        best = _representative(groups[0])
    if best is None:
        # Nothing answered (e.g. every reply unparseable): fall back to the latest non-empty reply.
        best = next((t for t in reversed(codec.trajectories(state)) if t.response), None)
    runner = step.runner(cap=cfg.verifier_max_tokens)
    if not code and groups and not groups[0].members:
        # Only the judge's blind program has an answer (every candidate's was refuted).
        answer, source = groups[0].answer, "checker"
    else:
        extracted = await runner.attempt(
            run_verifier(
                runner, state["problem"], best, answer_format=cfg.answer_format, repair_attempts=cfg.repair_attempts
            ),
            where="verifier",
        )
        match extracted:
            case Spent() | Failed():
                answer, source = "", "none"
            case _:
                answer, source = extracted
    checked, check_kind, check = False, None, ""
    given = list(state.get("tests") or [])
    if code and answer and given and ctx.tools is not None:
        debugged = await debug(
            step.runner(),
            ctx.tools,
            state["problem"],
            answer,
            given,
            attempts=cfg.debug_attempts if not state.get("budget_stop") else 0,
        )
        answer, outcomes = debugged.code, debugged.outcomes
        passed = sum(o.passed for o in outcomes)
        checked, check = passed == len(outcomes), f"passed {passed}/{len(outcomes)} given tests"
        check_kind = "tests" if checked else None
        if debugged.calls:
            check += f" after {debugged.calls} debugger call(s)"
    elif groups and answer:
        same = answer_equivalence(state["problem"])
        chosen = next((g for g in groups if same(g.answer, answer)), None)
        if chosen is not None:
            checked, check_kind, check = _check_of(chosen, answer)
    step.emit(Verified(answer=answer, source=source))
    reason: StopReason = state.get("stop_reason") or stop_reason(state, cfg) or "max_rounds"
    if not answer and best is None and not state.get("budget_stop"):
        reason = "no_answer"
    return step.update(
        answer=answer,
        answer_source=source,
        checked=checked,
        check=check,
        check_kind=check_kind,
        tally=codec.dump_all(to_records(groups)),
        stop_reason=reason,
    )
