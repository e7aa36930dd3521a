"""The prover: Lean 4 proofs of a given statement, repaired from the compiler's diagnostics.

One proof search (`prove`), in the order that spends model calls last:

1. **Automation** on the whole goal: each tactic of `automation` (``rfl``, ``decide``, ``simp``,
   ``omega``, ``norm_num``, ``linarith``: whichever the toolchain has) is tried as the proof.
2. **A proposal**: the model writes the theorem and its proof.
3. **Repair rounds**, driven by Lean: the proof is checked by `ProofChecker` (sound: no escapes, the
   given statement, standard axioms only). When a tactic step fails, the failing step is isolated
   (the line of the first error) and each automation tactic is tried in its place before any model
   call; otherwise the model is shown the errors, each with the line it points at, and asked for a
   fix. `max_attempts` bounds the model's proposals and repairs.

The score of a candidate is the checker's verdict and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.tools.lean import LeanResult, LeanTask, ProofChecker, proof_body

__all__ = ["AUTOMATION", "ProofAttempt", "ProofOutcome", "lean_block", "prove", "repair_feedback"]

AUTOMATION: tuple[str, ...] = ("rfl", "decide", "simp", "omega", "norm_num", "linarith")
_LEAN_BLOCK = re.compile(r"```(?:lean4?|Lean)?[ \t]*\n(.*?)```", re.DOTALL)


class ProofAttempt(BaseModel):
    """One checked candidate: where it came from, the file, and Lean's verdict."""

    origin: Literal["automation", "model", "repair", "step_automation"]
    source: str
    accepted: bool
    reason: str = ""


class ProofOutcome(BaseModel):
    """The result of a proof search.

    Attributes:
        proved: a candidate was accepted by the sound checker.
        proof: the accepted file (header included), else None.
        attempts: every candidate checked, in order.
        model_calls: how many model calls the search made.
    """

    proved: bool
    proof: str | None = None
    attempts: list[ProofAttempt] = Field(default_factory=list)
    model_calls: int = 0


def lean_block(text: str) -> str | None:
    """The last ```lean block of a reply (or the last fenced block of any kind), else None."""
    blocks = _LEAN_BLOCK.findall(text)
    return blocks[-1].strip() if blocks else None


def repair_feedback(task: LeanTask, source: str, result: LeanResult, *, limit: int = 3) -> str:
    """The repair prompt: Lean's reason, and each of the first errors with the line it points at."""
    lines = (f"{task.header.rstrip()}\n\n" if task.header.strip() else "").splitlines()
    lines += proof_body(task, source).splitlines()
    shown = []
    for error in result.errors[:limit]:
        at = lines[error.line - 1].strip() if 0 < error.line <= len(lines) else ""
        where = f"line {error.line}" + (f" `{at}`" if at else "")
        shown.append(f"- {where}: {' '.join(error.message.split())[:400]}")
    return render(
        "prover_repair", reason=result.reason.splitlines()[0] if result.reason else "", errors="\n".join(shown)
    )


def _failing_step(task: LeanTask, body: str, result: LeanResult) -> int | None:
    """The body's line index of the first error, when it is a tactic step (an indented line)."""
    if not result.errors:
        return None
    offset = len(f"{task.header.rstrip()}\n\n".splitlines()) if task.header.strip() else 0
    index = result.errors[0].line - 1 - offset
    lines = body.splitlines()
    if 0 <= index < len(lines) and lines[index].startswith((" ", "\t")) and lines[index].strip():
        return index
    return None


async def prove(
    runner: AgentRunner,
    checker: ProofChecker,
    task: LeanTask,
    *,
    max_attempts: int = 4,
    automation: Sequence[str] = AUTOMATION,
    experience: str = "",
) -> ProofOutcome:
    """Search for a proof of `task` (see the module docstring for the order of the search).

    Args:
        runner: calls the model (its budget bounds the calls too).
        checker: the sound Lean checker.
        task: the statement and its header.
        max_attempts: model proposals and repairs, at most.
        automation: tactics tried on the whole goal, and on each failing step, before a model call.
        experience: text shown with the statement (proven lemmas, tactic patterns from memory).
    """
    outcome = ProofOutcome(proved=False)

    async def attempt(origin: Literal["automation", "model", "repair", "step_automation"], source: str) -> LeanResult:
        result = await checker.check(task, source)
        outcome.attempts.append(
            ProofAttempt(origin=origin, source=source, accepted=result.accepted, reason=result.reason)
        )
        if result.accepted:
            outcome.proved = True
            header = f"{task.header.rstrip()}\n\n" if task.header.strip() else ""
            outcome.proof = header + proof_body(task, source).rstrip() + "\n"
        return result

    for tactic in automation:
        if (await attempt("automation", f"{task.head} := by\n  {tactic}\n")).accepted:
            return outcome
    history = [
        Message("system", render("prover_system")),
        Message(
            "user", render("prover", header=task.header.strip() or "(none)", statement=task.head, experience=experience)
        ),
    ]
    settings = runner.settings.greedy()
    for round_index in range(max_attempts):
        tags = CallTags(role="solver", purpose="prove" if round_index == 0 else f"prove_repair{round_index}")
        if round_index == 0:
            response = await runner.call(history, tags, settings=settings)
        else:
            followed = await runner.follow_up(history, tags, settings=settings)
            if followed is None:
                break
            response = followed
        outcome.model_calls += 1
        source = lean_block(response.text)
        if source is None:
            feedback = render(
                "repair", issue="it had no ```lean block", format="the theorem and its proof in one ```lean block"
            )
        else:
            result = await attempt("model" if round_index == 0 else "repair", source)
            if result.accepted:
                return outcome
            body = proof_body(task, source)
            step = _failing_step(task, body, result)
            if step is not None:
                lines = body.splitlines()
                indent = lines[step][: len(lines[step]) - len(lines[step].lstrip())]
                for tactic in automation:
                    patched = "\n".join([*lines[:step], indent + tactic, *lines[step + 1 :]])
                    if (await attempt("step_automation", patched)).accepted:
                        return outcome
            feedback = repair_feedback(task, source, result)
        history = [*history, Message("assistant", response.text or "(empty)"), Message("user", feedback)]
    return outcome
