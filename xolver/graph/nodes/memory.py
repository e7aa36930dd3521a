"""The episodic memory's two steps: retrieve experience before the rounds, write back after."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime
from typing_extensions import assert_never

from xolver.agents.distiller import DistillInput, distill
from xolver.agents.recall import recall
from xolver.config import XolverConfig
from xolver.events import ExperienceRetrieved, MemoryWritten
from xolver.graph import codec
from xolver.graph.state import SolveContext, SolveState
from xolver.graph.step import Step
from xolver.memory.learning import problem_record, should_write_back
from xolver.memory.records import ExperienceRecord
from xolver.memory.retrieval import method_only, retrieve_experience
from xolver.solution import Exemplar, Trajectory

__all__ = ["retrieve", "wants_recall", "write_back"]


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


async def retrieve(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Exemplars for the solvers: related problems, strategies and code from the store, and the
    model's own recall when configured (once per solve; per agent, see the solve node)."""
    step = Step(runtime)
    ctx, cfg = step.context, step.config
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


async def write_back(state: SolveState, runtime: Runtime[SolveContext]) -> dict[str, Any]:
    """Learning: store the problem with its best trajectory, plus distilled strategies and code.

    Only a checked answer or one whose entry scored at least `write_back_min_score` is stored; code
    fragments are stored only after they ran cleanly in the sandbox.
    """
    step = Step(runtime)
    ctx, cfg = step.context, step.config
    store = ctx.memory
    if cfg.memory_mode != "learn" or store is None or not state.get("answer"):
        return {"memory_written": []}
    chosen = _chosen(state, cfg)
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
    if cfg.distill:
        task = DistillInput(
            problem=state["problem"],
            solution=chosen.response,
            answer=state["answer"],
            code=[c.input for c in chosen.tool_calls if c.ok],
            namespace=cfg.namespace,
            domain=domain,
            score=chosen.score,
            verified=checked,
        )
        runner = step.runner(cap=cfg.planner_max_tokens)
        # Learning is a bonus: the solve's answer stands without it, so a failed call is not a failure.
        distilled = await runner.attempt(distill(runner, task), where="distiller", errors="ignore")
        if isinstance(distilled, list):
            records += await _runnable_code_only(ctx, distilled)
    written = await asyncio.to_thread(store.add, records)
    used = codec.exemplar_ids(state)
    if used:
        await asyncio.to_thread(store.record_use, used, chosen.score or 0.0)
    if written:
        step.emit(MemoryWritten(ids=written))
    return step.update(memory_written=written)


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
