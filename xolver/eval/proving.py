"""Method ``prove``: each task is a Lean 4 theorem; the prover searches and the sound checker grades.

A theorem counts as proved only when `xolver.tools.lean.ProofChecker` accepts a candidate (no
escapes, the given statement, standard axioms). The search is `xolver.agents.prover.prove`, bounded
per theorem by ``max_attempts`` model proposals and repairs and by the config's call, token and time
budgets, so the run's accuracy is pass@budget: proved / attempted at that budget.

Before the first theorem, `lean_preflight` checks that the configured toolchain can read what the
statements import (miniF2F and ProofNet import Mathlib): a run that cannot check anything stops with
one line saying what to configure, instead of recording hundreds of failures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xolver.errors import ModelError, UserError
from xolver.eval.datasets import Task
from xolver.eval.records import ProblemResult, RunConfig

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.models.base import Model
    from xolver.tools.lean import LeanChecker

__all__ = ["DEFAULT_MAX_ATTEMPTS", "lean_preflight", "prove_task"]

DEFAULT_MAX_ATTEMPTS = 4
_MATHLIB_HINT = (
    "configure a Lake project with Mathlib: `lake new proofs math && cd proofs && lake exe cache get && lake build`, "
    "then pass --lean-project proofs (or lean_project in the config)"
)


def _checker(config: XolverConfig) -> LeanChecker:
    from xolver.tools.lean import LeanChecker

    return LeanChecker(command=config.lean_command, project=config.lean_project, timeout=config.lean_timeout)


def _imports(tasks: Sequence[Task]) -> list[str]:
    """The distinct ``import`` lines of the tasks' headers, in first-seen order."""
    seen: dict[str, None] = {}
    for task in tasks:
        for line in task.header.splitlines():
            if line.strip().startswith("import "):
                seen.setdefault(line.strip(), None)
    return list(seen)


async def lean_preflight(tasks: Sequence[Task], config: XolverConfig) -> None:
    """Check that the configured Lean can read what the statements import, before any model call.

    Raises:
        UserError: one actionable line: no toolchain, or one that cannot import the statements'
            libraries (Mathlib for miniF2F and ProofNet).
    """
    checker = _checker(config)
    imports = _imports(tasks)
    mathlib = any(line.split()[1].startswith("Mathlib") for line in imports if len(line.split()) > 1)
    if not checker.available:
        if mathlib:
            raise UserError(f"these statements import Mathlib and no Lean toolchain is configured: {_MATHLIB_HINT}")
        raise UserError(checker.missing)
    if not imports:
        return
    result = await checker.check("\n".join(imports) + "\n")
    if result.accepted:
        return
    first = result.errors[0].message.splitlines()[0] if result.errors else result.reason.splitlines()[0]
    what = "Mathlib" if mathlib else ", ".join(line.split(None, 1)[1] for line in imports)
    hint = _MATHLIB_HINT if mathlib else "run Lean inside a Lake project that has them (--lean-project DIR)"
    raise UserError(f"the configured Lean cannot import {what} ({first[:120]}): {hint}")


async def prove_task(
    task: Task, index: int, *, model: Model, config: RunConfig, xolver_config: XolverConfig
) -> ProblemResult:
    """Prove one theorem and grade it by the checker's verdict (a provider failure is recorded)."""
    from xolver.agents.prover import AUTOMATION, prove
    from xolver.agents.runner import AgentRunner, Budget
    from xolver.models.base import ModelSettings
    from xolver.tools.lean import LeanTask, ProofChecker

    started = time.monotonic()
    cfg = xolver_config
    budget = Budget(
        max_calls=cfg.max_calls, max_tokens=cfg.max_total_tokens, max_seconds=cfg.max_seconds, max_cost=cfg.max_cost
    )
    settings = ModelSettings(
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        seed=config.seed + 1000 * index,
        timeout=cfg.request_timeout,
    )
    runner = AgentRunner(model, budget, settings=settings)
    error: str | None = None
    proof: str | None = None
    origins: Counter[str] = Counter()
    detail = ""
    proved = False
    try:
        lean_task = LeanTask(statement=task.problem, header=task.header)
        _ = lean_task.goal  # a statement that cannot be read is this problem's error, not the run's
        outcome = await prove(
            runner,
            ProofChecker(_checker(cfg)),
            lean_task,
            max_attempts=config.max_attempts or DEFAULT_MAX_ATTEMPTS,
            automation=AUTOMATION if config.automation is None else tuple(config.automation),
        )
    except (ModelError, UserError) as e:
        error = f"{type(e).__name__}: {e}"
        attempts = 0
    else:
        proved, proof = outcome.proved, outcome.proof
        origins.update(a.origin for a in outcome.attempts)
        attempts = len(outcome.attempts)
        if not proved and outcome.attempts:
            detail = " ".join(outcome.attempts[-1].reason.split())[:300]
    calls = [c for c in runner.ledger.calls if c.ok]
    by_role: Counter[str] = Counter(c.role for c in runner.ledger.calls)
    if proved:
        stop = "proved"
    elif error:
        stop = "error"
    elif budget.max_calls is not None and budget.calls >= budget.max_calls:
        stop = "budget"
    else:
        stop = "attempts"
    return ProblemResult(
        id=task.id,
        index=index,
        correct=proved,
        score=1.0 if proved else 0.0,
        answer=proof,
        check="lean",
        check_detail="accepted by the proof checker" if proved else detail,
        calls=budget.calls,
        prompt_tokens=sum(c.prompt_tokens for c in calls),
        completion_tokens=sum(c.completion_tokens for c in calls),
        cost=budget.cost,
        wall_seconds=round(time.monotonic() - started, 3),
        stop_reason=stop,
        verifier_checked=proved,
        verifier_check="lean" if proved else None,
        calls_by_role=dict(by_role),
        attempts=attempts,
        attempts_by_origin=dict(origins),
        error=error,
    )
