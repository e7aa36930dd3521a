"""The prover: Lean 4 proofs of a given statement, repaired from the compiler's diagnostics.

One proof search (`prove`), in the order that spends model calls last:

0. **Stored proofs** of exactly this statement (from the memory, `xolver.memory.proofs`) are checked
   first: a theorem proved before costs one Lean check and no model call.
1. **Automation** on the whole goal: each tactic of `automation` (``rfl``, ``decide``, ``simp``,
   ``omega``, ``norm_num``, ``linarith``) is tried as the proof. Which ones the toolchain has is
   found by trying: a tactic Lean answers ``unknown tactic`` to (a ``prelude`` file has none,
   core Lean has no ``norm_num``) is not tried again in this search.
2. **A proposal**: the model writes the theorem and its proof.
3. **Repair rounds**, driven by Lean: the proof is checked by `ProofChecker` (sound: no escapes, the
   given statement, standard axioms only).
   - When an error lies inside a ``have name : type := proof`` step (term or tactic mode), that
     step is the failing sub-goal (`have_step`): each available automation tactic is tried as its
     proof (``by simp``, ...), then the model is asked to prove just that sub-goal; its piece is put
     back in place and the whole file re-checked by the same checker, so the soundness rules apply
     to the recombined proof. A proof whose next error is in another ``have`` goes on step by step;
     a sub-goal still failing after two model repairs sends the whole proof back to the model.
   - When the error is on another tactic line, each automation tactic replaces that line first.
   - A failing step that is not a ``have`` is then isolated as one (`xolver.agents.failing_steps`:
     a tactic line and the rest of its block, or a sub-term of a term proof, with the type Lean
     reports at that point), and the sub-goal repair above takes it from there. Each step is
     lifted once.
   - Otherwise the model is shown the errors, each with the line it points at, and asked for a fix.
   `max_attempts` bounds the model calls of all kinds; the runner's budget bounds them too.

The score of a candidate is the checker's verdict and nothing else. An accepted proof reports the
sub-goals the search had to repair (`ProofOutcome.subgoals`): they are the tactic patterns the
memory keeps.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from xolver.agents.failing_steps import lift_failing_step
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.tools.lean import LeanResult, LeanTask, ProofChecker, proof_body

__all__ = [
    "AUTOMATION",
    "HaveStep",
    "ProofAttempt",
    "ProofOutcome",
    "RepairedSubgoal",
    "have_step",
    "lean_block",
    "prove",
    "repair_feedback",
]

AUTOMATION: tuple[str, ...] = ("rfl", "decide", "simp", "omega", "norm_num", "linarith")
Origin = Literal[
    "memory", "automation", "model", "repair", "step_automation", "lift", "subgoal_automation", "subgoal_repair"
]
_LEAN_BLOCK = re.compile(r"```(?:lean4?|Lean)?[ \t]*\n(.*?)```", re.DOTALL)


class ProofAttempt(BaseModel):
    """One checked candidate: where it came from, the file, and Lean's verdict."""

    origin: Origin
    source: str
    accepted: bool
    reason: str = ""


class RepairedSubgoal(BaseModel):
    """A ``have`` sub-goal that failed during the search and is proved in the accepted proof.

    Attributes:
        name: the hypothesis name.
        type: the sub-goal, as written.
        step: the whole ``have`` step as it stands in the accepted proof (its proof included).
    """

    name: str
    type: str
    step: str


class ProofOutcome(BaseModel):
    """The result of a proof search.

    Attributes:
        proved: a candidate was accepted by the sound checker.
        proof: the accepted file (header included), else None.
        attempts: every candidate checked, in order.
        model_calls: how many model calls the search made.
        unavailable_tactics: automation tactics Lean answered ``unknown tactic`` to (not tried again).
        subgoals: the sub-goals that failed and were then proved, as they stand in the accepted proof.
        recalled: ids of the memory records shown to the search (set by `Xolver.prove`).
        memory_written: ids of the records the accepted proof left in the memory (set by `Xolver.prove`).
    """

    proved: bool
    proof: str | None = None
    attempts: list[ProofAttempt] = Field(default_factory=list)
    model_calls: int = 0
    unavailable_tactics: list[str] = Field(default_factory=list)
    subgoals: list[RepairedSubgoal] = Field(default_factory=list)
    recalled: list[str] = Field(default_factory=list)
    memory_written: list[str] = Field(default_factory=list)


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


def _offset(task: LeanTask) -> int:
    """How many file lines come before the prover's part (the header and one blank line)."""
    return len(f"{task.header.rstrip()}\n\n".splitlines()) if task.header.strip() else 0


def _failing_step(task: LeanTask, body: str, result: LeanResult) -> int | None:
    """The body's line index of the first error, when it is a tactic step (an indented line)."""
    if not result.errors:
        return None
    index = result.errors[0].line - 1 - _offset(task)
    lines = body.splitlines()
    if 0 <= index < len(lines) and lines[index].startswith((" ", "\t")) and lines[index].strip():
        return index
    return None


_HAVE = re.compile(r"^(?P<indent>[ \t]*)have\s+(?:(?P<name>[^\s:(\[{]+)\s*)?:\s*(?P<type>.+?)\s*:=(?P<proof>.*)$")


@dataclass(frozen=True)
class HaveStep:
    """A ``have name : type := proof`` step of a proof body, term or tactic mode.

    Attributes:
        start: the body line index of the ``have``.
        end: one past its last line (the proof's continuation lines are indented deeper).
        name: the hypothesis name (``this`` when the step has none).
        type: the sub-goal, as written.
        indent: the ``have`` line's indentation.
        error: the first error Lean reported inside the step.
    """

    start: int
    end: int
    name: str
    type: str
    indent: str
    error: str

    @property
    def key(self) -> str:
        """What identifies the sub-goal across edits of its proof."""
        return f"{self.name} : {' '.join(self.type.split())}"

    def replace(self, body: str, proof: str) -> str:
        """`body` with this step's proof replaced by `proof` (a term, or ``by`` and tactics)."""
        lines = body.splitlines()
        first, _, more = proof.strip("\n").partition("\n")
        head = f"{self.indent}have {self.name} : {self.type} := {first.strip()}"
        rest = [f"{self.indent}    {line}" if line.strip() else "" for line in textwrap.dedent(more).splitlines()]
        return "\n".join([*lines[: self.start], head, *rest, *lines[self.end :]])


def _width(line: str) -> int:
    return len(line) - len(line.lstrip())


def have_step(task: LeanTask, body: str, result: LeanResult) -> HaveStep | None:
    """The ``have`` step that holds the first error Lean located inside one, else None.

    An error on a line of a ``have`` (its statement line or a deeper-indented continuation) belongs to
    the nearest such ``have`` above it; errors elsewhere (the theorem line, a plain tactic) are skipped.
    """
    lines = body.splitlines()
    for error in result.errors:
        index = error.line - 1 - _offset(task)
        if not 0 <= index < len(lines):
            continue
        floor = _width(lines[index])  # the shallowest indentation between the error and line j
        for j in range(index, -1, -1):
            m = _HAVE.match(lines[j])
            if m is None or (j < index and _width(lines[j]) >= floor):
                if lines[j].strip():
                    floor = min(floor, _width(lines[j]))
                if floor == 0:
                    break
                continue
            step = _step_at(lines, j, m, error=" ".join(error.message.split())[:400])
            if index >= step.end:
                break
            return step
    return None


def _step_at(lines: list[str], j: int, m: re.Match[str], *, error: str = "") -> HaveStep:
    """The ``have`` step that starts on line `j` (matched by `_HAVE` as `m`)."""
    width = _width(lines[j])
    end = j + 1
    while end < len(lines) and (not lines[end].strip() or _width(lines[end]) > width):
        end += 1
    while end > j + 1 and not lines[end - 1].strip():
        end -= 1
    return HaveStep(
        start=j, end=end, name=m.group("name") or "this", type=m.group("type"), indent=m.group("indent"), error=error
    )


def _repaired(body: str, keys: set[str]) -> list[RepairedSubgoal]:
    """The ``have`` steps of an accepted `body` whose sub-goal (by `HaveStep.key`) once failed."""
    lines = body.splitlines()
    found = []
    for j, line in enumerate(lines):
        m = _HAVE.match(line)
        if m is None:
            continue
        step = _step_at(lines, j, m)
        if step.key in keys:
            text = textwrap.dedent("\n".join(lines[step.start : step.end]))
            found.append(RepairedSubgoal(name=step.name, type=step.type, step=text))
    return found


def _unknown_tactic(task: LeanTask, result: LeanResult, line: int) -> bool:
    """Whether Lean said ``unknown tactic`` on body line `line`: the toolchain does not have it."""
    return any("unknown tactic" in e.message and e.line - 1 - _offset(task) == line for e in result.errors)


def _subgoal_proof(text: str) -> tuple[Literal["piece", "theorem"], str] | None:
    """A sub-goal reply: the proof that goes after ``:=``, or a whole theorem the model rewrote."""
    block = lean_block(text)
    if block is None:
        block = text.strip()
        if not block or ("\n" in block and not block.startswith("by")):
            return None
    if re.match(r"\s*(@\[[^\]]*\]\s*)?(theorem|lemma)\s", block):
        return "theorem", block
    m = re.match(r"\s*have\s[^\n]*?:=\s*", block)
    return "piece", block[m.end() :] if m else block


_SUBGOAL_TRIES = 2  # model repairs of one sub-goal before the whole proof is repaired instead


async def prove(
    runner: AgentRunner,
    checker: ProofChecker,
    task: LeanTask,
    *,
    max_attempts: int = 4,
    automation: Sequence[str] = AUTOMATION,
    experience: str = "",
    known: Sequence[str] = (),
) -> ProofOutcome:
    """Search for a proof of `task` (see the module docstring for the order of the search).

    Args:
        runner: calls the model (its budget bounds the calls too).
        checker: the sound Lean checker.
        task: the statement and its header.
        max_attempts: model calls (proposals, repairs and sub-goal repairs), at most.
        automation: tactics tried on the whole goal, on each failing sub-goal and each failing step,
            before a model call; one Lean answers ``unknown tactic`` to is not tried again.
        experience: text shown with the statement (proven lemmas, tactic patterns from memory).
        known: proofs of this very statement stored before, checked first (origin ``memory``).
    """
    outcome = ProofOutcome(proved=False)
    header = f"{task.header.rstrip()}\n\n" if task.header.strip() else ""

    failed: set[str] = set()  # keys of the sub-goals that entered repair, for `outcome.subgoals`

    async def attempt(origin: Origin, source: str) -> LeanResult:
        result = await checker.check(task, source)
        outcome.attempts.append(
            ProofAttempt(origin=origin, source=source, accepted=result.accepted, reason=result.reason)
        )
        if result.accepted:
            outcome.proved = True
            outcome.proof = header + proof_body(task, source).rstrip() + "\n"
            outcome.subgoals = _repaired(proof_body(task, source), failed)
        return result

    def available() -> list[str]:
        return [t for t in automation if t not in outcome.unavailable_tactics]

    async def try_tactic(origin: Origin, source: str, line: int, tactic: str) -> bool:
        result = await attempt(origin, source)
        if not result.accepted and _unknown_tactic(task, result, line):
            outcome.unavailable_tactics.append(tactic)
        return result.accepted

    for stored in dict.fromkeys(known):
        if (await attempt("memory", stored)).accepted:
            return outcome
    for tactic in available():
        if await try_tactic("automation", f"{task.head} := by\n  {tactic}\n", 1, tactic):
            return outcome
    history = [
        Message("system", render("prover_system")),
        Message(
            "user", render("prover", header=task.header.strip() or "(none)", statement=task.head, experience=experience)
        ),
    ]
    settings = runner.settings.greedy()
    # The latest checked proof and its verdict: the model's reply, or a recombination of it.
    current: tuple[str, LeanResult] | None = None
    last_reply = ""
    asked = False
    automated: set[str] = set()
    tries: dict[str, int] = {}
    lifted: set[str] = set()  # failing steps already isolated as a `have` (each at most once)

    async def narrow(source: str, result: LeanResult) -> tuple[str, LeanResult] | None:
        """Automation on a failing tactic line, then the failing step isolated as a ``have``: the
        proof to go on with (its first error now inside a ``have``), or None."""
        body = proof_body(task, source)
        line = _failing_step(task, body, result)
        if line is not None:
            lines = body.splitlines()
            indent = lines[line][: len(lines[line]) - len(lines[line].lstrip())]
            for tactic in available():
                patched = "\n".join([*lines[:line], indent + tactic, *lines[line + 1 :]])
                if await try_tactic("step_automation", patched, line, tactic):
                    return None
        lift = lift_failing_step(task, body, result)
        if lift is None or lift.probe in lifted:
            return None
        lifted.add(lift.probe)
        # The probe is a question to Lean, not a candidate: it goes to the plain checker.
        probe = await checker.checker.check(header + lift.probe.rstrip() + "\n")
        rewritten = lift.lifted(task, probe)
        if rewritten is None:
            return None
        result = await attempt("lift", rewritten)
        if result.accepted or have_step(task, rewritten, result) is None:
            return None  # accepted, or the lift did not put the error inside the new `have`
        return rewritten, result

    while outcome.model_calls < max_attempts:
        step = have_step(task, proof_body(task, current[0]), current[1]) if current else None
        if current is not None and step is not None and tries.get(step.key, 0) < _SUBGOAL_TRIES:
            body = proof_body(task, current[0])
            failed.add(step.key)
            if step.key not in automated:
                automated.add(step.key)
                for tactic in available():
                    if await try_tactic("subgoal_automation", step.replace(body, f"by {tactic}"), step.start, tactic):
                        return outcome
            tries[step.key] = tries.get(step.key, 0) + 1
            ask = render(
                "prover_subgoal",
                statement=task.head,
                proof=header + body,
                hypothesis=step.name,
                type=step.type,
                error=step.error,
            )
            tags = CallTags(role="solver", purpose=f"prove_subgoal{outcome.model_calls}")
            response = await runner.follow_up([history[0], Message("user", ask)], tags, settings=settings)
            if response is None:
                break
            outcome.model_calls += 1
            parsed = _subgoal_proof(response.text)
            if parsed is None:
                tries[step.key] = _SUBGOAL_TRIES  # no usable piece: repair the whole proof next
                continue
            kind, text = parsed
            source = text if kind == "theorem" else step.replace(body, text)
            result = await attempt("subgoal_repair" if kind == "piece" else "repair", source)
            if result.accepted:
                return outcome
            current = (source, result)
            if have_step(task, proof_body(task, source), result) is None:
                current = await narrow(source, result) or current
                if outcome.proved:
                    return outcome
            continue
        first = not asked
        asked = True
        if first:
            response = await runner.call(history, CallTags(role="solver", purpose="prove"), settings=settings)
        else:
            if current is not None:
                feedback = repair_feedback(task, current[0], current[1])
                if lean_block(last_reply) != current[0].strip():
                    feedback = (
                        f"After repairing steps, the proof is now:\n```lean\n{current[0].strip()}\n```\n{feedback}"
                    )
                history = [*history, Message("assistant", last_reply or "(empty)"), Message("user", feedback)]
            tags = CallTags(role="solver", purpose=f"prove_repair{outcome.model_calls}")
            followed = await runner.follow_up(history, tags, settings=settings)
            if followed is None:
                break
            response = followed
        outcome.model_calls += 1
        last_reply = response.text
        proposal = lean_block(response.text)
        if proposal is None:
            feedback = render(
                "repair", issue="it had no ```lean block", format="the theorem and its proof in one ```lean block"
            )
            history = [*history, Message("assistant", response.text or "(empty)"), Message("user", feedback)]
            current = None
            continue
        result = await attempt("model" if first else "repair", proposal)
        if result.accepted:
            return outcome
        current = (proposal, result)
        if have_step(task, proof_body(task, proposal), result) is not None:
            continue  # the sub-goal path takes it from here
        current = await narrow(proposal, result) or current
        if outcome.proved:
            return outcome
    return outcome
