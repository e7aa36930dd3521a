"""The episodic memory's two steps: retrieve experience before the rounds, write back after."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime
from typing_extensions import assert_never

from xolver.agents.distiller import Attempt, ContrastInput, DistillInput, distill, distill_contrast
from xolver.agents.experience import fit_budget, shown, worked_program, worked_solution
from xolver.agents.recall import recall
from xolver.config import XolverConfig
from xolver.events import ExperienceRetrieved, MemoryWritten
from xolver.graph import codec
from xolver.graph.aggregation import answer_equivalence, corroborated
from xolver.graph.routing import groups_of
from xolver.graph.state import SolveContext, SolveState
from xolver.graph.step import Step
from xolver.memory.base import ExperienceStore
from xolver.memory.curation import retire_over_budget
from xolver.memory.learning import claims_a_result, problem_record, should_write_back
from xolver.memory.proofs import is_lean
from xolver.memory.records import ExperienceRecord
from xolver.memory.retrieval import retrieve_experience
from xolver.solution import Exemplar, Trajectory

__all__ = [
    "contrast",
    "grounded_outcome",
    "retrieve",
    "shown_exemplars",
    "tested_code_only",
    "wants_recall",
    "write_back",
]


def wants_recall(cfg: XolverConfig, exemplars: Sequence[Exemplar]) -> bool:
    """Whether the model recalls a related problem itself (self-retrieval), given what was found."""
    match cfg.self_retrieval:
        case "off":
            return False
        case "when_empty":
            return not exemplars
        case "always":
            return True
        case other:
            assert_never(other)


def shown_exemplars(store: ExperienceStore, problem: str, cfg: XolverConfig) -> list[Exemplar]:
    """The stored experience a solve shows for `problem` under `cfg` (synchronous: the retrieve step runs
    it in a worker thread; benchmarks/experience_format_probe.py calls it to show exactly the same)."""
    found = retrieve_experience(
        store,
        problem,
        namespace=cfg.namespace,
        k_problems=cfg.retrieval_k,
        k_strategies=cfg.retrieval_strategies,
        k_code=cfg.retrieval_code,
        mode=cfg.retrieval_mode,
        min_similarity=cfg.retrieval_min_similarity,
    )
    exemplars = [
        Exemplar(
            id=h.record.id,
            kind=h.record.kind,
            text=h.record.text,
            # A verified worked solution is an ordinary few-shot example, answer included; an
            # unverified one is not shown at all (xolver.agents.experience).
            solution=worked_solution(h.record.solution),
            answer=h.record.answer,
            # A program seat is shown a worked example as a program: the record's own, or the one
            # its calculator notes describe (xolver.agents.experience.worked_program).
            code=h.record.code or (worked_program(h.record.solution) if h.record.kind == "problem" else None) or "",
            score=round(h.similarity if h.similarity is not None else h.score, 4),
            verified=h.record.verified,
            cautionary=h.record.cautionary,
            when_to_use=h.record.when_to_use,
            when_not_to_use=h.record.when_not_to_use,
        )
        for h in (*found.problems, *found.strategies, *found.code)
        # Lean proofs are the prover's (`xolver.memory.proofs`): no help to a solve's program.
        if shown(h.record.kind, h.record.verified) and not is_lean(h.record)
    ]
    # What is shown is what gets credited or blamed after the solve: the budget applies here.
    return fit_budget(exemplars, cfg.experience_max_tokens)


async def retrieve(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Exemplars for the solvers: related problems, strategies and code from the store, and the
    model's own recall when configured (once per solve; per agent, see the solve node)."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    exemplars: list[Exemplar] = []
    if cfg.memory_mode != "off" and ctx.memory is not None and cfg.self_retrieval != "always":
        exemplars = await asyncio.to_thread(shown_exemplars, ctx.memory, state["problem"], cfg)
    if wants_recall(cfg, exemplars) and not cfg.self_retrieval_per_agent:
        runner = step.runner()
        recalled = await runner.attempt(recall(runner, state["problem"]), where="recall", errors="raise")
        if isinstance(recalled, Exemplar):
            exemplars.append(recalled)
    step.emit(ExperienceRetrieved(exemplars=exemplars))
    return step.update(exemplars=codec.dump_all(exemplars))


def _chosen(state: SolveState, cfg: XolverConfig) -> Trajectory | None:
    """The trajectory a solve files into memory."""
    match cfg.write_back:
        case "best":
            shared = codec.shared(state)
            return shared[0] if shared else None
        case "last":  # the authors' code: the last response produced
            produced = codec.trajectories(state)
            return produced[-1] if produced else None
        case other:
            assert_never(other)


def grounded_outcome(state: SolveState, checked: bool) -> float | None:
    """The outcome credited to (or blamed on) the records a solve was shown: 1.0 when an independent
    check confirmed its answer, 0.0 when an executed check (the judge's blind program, a SymPy
    substitution, tests) contradicted it and none confirmed it, None when nothing grounded is known."""
    if checked:
        return 1.0
    answer = state.get("answer") or ""
    equivalent = answer_equivalence(state["problem"])
    for t in codec.trajectories(state):
        same = t.answer is not None and equivalent(t.answer, answer)
        # A slip in one chain's arithmetic says nothing of the answer it reached.
        if same and any(c.kind not in ("program", "arithmetic") and not c.agrees for c in t.checks):
            return 0.0
    return None


def contrast(state: SolveState, answer: str) -> tuple[list[Attempt], list[Attempt]] | None:
    """The team's attempts split by the checked answer: (right, wrong), or None when all agree or
    none reached it (Training-Free GRPO's rule: a group that all passes or all fails teaches nothing)."""
    right: list[Attempt] = []
    wrong: list[Attempt] = []
    same = answer_equivalence(state["problem"])
    for t in codec.trajectories(state):
        if t.answer is None or not t.response.strip():
            continue
        attempt = Attempt(method=t.method, response=t.response, answer=t.answer)
        (right if same(t.answer, answer) else wrong).append(attempt)
    return (right, wrong) if right and wrong else None


def _corroborated_answer(state: SolveState) -> bool:
    """Whether the final answer leads the tally with independent methods behind it."""
    groups = groups_of(state)
    same = answer_equivalence(state["problem"])
    return bool(groups and corroborated(groups[0]) and same(groups[0].answer, state["answer"]))


async def write_back(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Learning: credit or blame what was shown, store the checked answer, distill, curate.

    Only a checked answer or one whose entry scored at least `write_back_min_score` is stored.
    Distillation contrasts the team's right and wrong attempts (or, with ``distill_from="success"``,
    reads the best trajectory); distilled code is stored only when its assertions pass in the sandbox.
    """
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    store = ctx.memory
    if cfg.memory_mode != "learn" or store is None or not state.get("answer"):
        return {"memory_written": []}
    chosen = _chosen(state, cfg)
    # Memory keeps what an independent check confirmed: an agent's own program alone is not enough
    # unless another method agreed with it.
    checked = bool(state.get("checked")) and (state.get("check_kind") != "program" or _corroborated_answer(state))
    used = codec.exemplar_ids(state)
    outcome = grounded_outcome(state, checked)
    if used and outcome is not None:
        await asyncio.to_thread(store.record_use, used, outcome)
    if chosen is None or not should_write_back(chosen.score, checked, cfg.write_back_min_score):
        return {"memory_written": []}
    domain = "code" if cfg.answer_format == "code" else "general"
    answer = state["answer"]
    records = [
        problem_record(
            state["problem"],
            chosen.response,
            answer,
            namespace=cfg.namespace,
            domain=domain,
            score=chosen.score,
            verified=checked,
        )
    ]
    if cfg.distill:
        records += await _distilled(step, state, chosen, answer, checked, domain)
    written = await asyncio.to_thread(store.add, records)
    await asyncio.to_thread(retire_over_budget, store, namespace=cfg.namespace, budget=cfg.memory_max_strategies)
    if written:
        step.emit(MemoryWritten(ids=written))
    return step.update(memory_written=written)


async def _distilled(
    step: Step, state: SolveState, chosen: Trajectory, answer: str, checked: bool, domain: str
) -> list[ExperienceRecord]:
    """Strategy, caution and code records from the distiller (none when there is nothing to learn)."""
    cfg = step.config
    runner = step.runner(cap=cfg.planner_max_tokens)
    match cfg.distill_from:
        case "contrast":
            groups = contrast(state, answer) if checked else None
            if groups is None:
                return []
            job = distill_contrast(
                runner,
                ContrastInput(
                    problem=state["problem"],
                    answer=answer,
                    right=groups[0],
                    wrong=groups[1],
                    namespace=cfg.namespace,
                    domain=domain,
                    score=chosen.score,
                ),
            )
        case "success":
            job = distill(
                runner,
                DistillInput(
                    problem=state["problem"],
                    solution=chosen.response,
                    answer=answer,
                    code=[c.input for c in chosen.tool_calls if c.ok],
                    namespace=cfg.namespace,
                    domain=domain,
                    score=chosen.score,
                    verified=checked,
                ),
            )
        case other:
            assert_never(other)
    # Learning is a bonus: the solve's answer stands without it, so a failed call is not a failure.
    distilled = await runner.attempt(job, where="distiller", errors="ignore")
    return await tested_code_only(step.context, distilled) if isinstance(distilled, list) else []


async def tested_code_only(ctx: SolveContext, records: list[ExperienceRecord]) -> list[ExperienceRecord]:
    """Drop code fragments that do not prove themselves: each must come with at least one assertion
    that calls it on an example and states the result, and all its assertions must pass in the
    sandbox (strategies pass through)."""
    kept = []
    for record in records:
        if record.kind == "code":
            tests = [t for t in record.tests if claims_a_result(record.code, t)]
            if ctx.tools is None or not tests:
                continue
            outcomes = await ctx.tools.run_tests(record.code, tests)
            if not all(o.passed for o in outcomes):
                continue
            record = record.model_copy(update={"tests": tests})
        kept.append(record)
    return kept
