"""Isolating a failing proof step as a ``have`` sub-goal, with the type Lean states for it.

The prover's sub-goal repair (`xolver.agents.prover`) works on ``have name : type := proof`` steps.
A proof whose first error lies elsewhere is rewritten so that the failing piece becomes such a step.
The type is not guessed from the text: a probe asks Lean for it.

- **A failing tactic line** (in a ``by`` block of the theorem, not a bullet or a continuation): the
  probe replaces it and the rest of its block by ``done``, whose ``unsolved goals`` error prints the
  goal at that point. The line and the rest of its block become the proof of
  ``have step_n : goal := by``, and ``exact step_n`` closes the block. Hypotheses introduced by
  earlier tactics stay in scope: the ``have`` sits where the line was.
- **A failing sub-term** (term mode: the error's span on one line of the theorem's proof): the probe
  puts ``(_)`` in its place, whose ``don't know how to synthesize placeholder`` error prints the type
  expected there and the local context. When that context holds only the theorem's own binders (the
  sub-term is under no ``fun`` or ``match`` of its own), ``have step_n : type := <sub-term>`` goes
  first in the proof term and the sub-term becomes ``step_n``.

A goal Lean prints with inaccessible names (``x✝``), metavariables (``?m``) or several goals cannot
be restated as a type: no lift is made then, and the caller falls back to repairing the whole proof.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from xolver.tools.lean import LeanResult, LeanTask

__all__ = ["StepLift", "goal_of", "lift_failing_step"]

_BULLET = ("·", ".", "|", "case ", "next ", "<;>")


def _width(line: str) -> int:
    return len(line) - len(line.lstrip())


def _offset(task: LeanTask) -> int:
    """How many file lines come before the prover's part (the header and one blank line)."""
    return len(f"{task.header.rstrip()}\n\n".splitlines()) if task.header.strip() else 0


def goal_of(message: str) -> tuple[list[str], str] | None:
    """The local names and the one goal of an ``unsolved goals`` or placeholder message, else None.

    None when there is not exactly one goal, or the goal cannot be written back as Lean text
    (inaccessible names, metavariables).
    """
    if message.count("⊢") != 1:
        return None
    before, goal = message.split("⊢", 1)
    goal = " ".join(goal.split())
    if not goal or "✝" in goal or "?" in goal:
        return None
    names: list[str] = []
    for line in before.splitlines():
        if " : " in line and not line.startswith(("unsolved goals", "don't know", "context:", "case ")):
            names += line.split(" : ", 1)[0].split()
    return names, goal


def _fresh(body: str) -> str:
    n = 1
    while re.search(rf"\bstep_{n}\b", body):
        n += 1
    return f"step_{n}"


def _theorem_line(task: LeanTask, lines: list[str]) -> int | None:
    pattern = re.compile(rf"^\s*(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s+{re.escape(task.name)}(?![\w'.])")
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i
    return None


@dataclass(frozen=True)
class StepLift:
    """A failing step to lift: the probe that asks Lean for its type, and how to rewrite the body.

    Attributes:
        kind: a tactic line, or a sub-term of a term proof.
        body: the proof body (the prover's part of the file) with the failing step.
        probe: `body` with the step replaced by ``done`` or ``(_)``.
        line: the step's body line index.
        column: where the probe's error is expected on that line (the hole, for a sub-term).
        end: one past the block's last line (tactic) or the span's end column (term).
    """

    kind: Literal["tactic", "term"]
    body: str
    probe: str
    line: int
    column: int
    end: int

    def lifted(self, task: LeanTask, probe_result: LeanResult) -> str | None:
        """The body with the step as a ``have`` of the goal the probe reported, or None."""
        found = None
        for error in probe_result.errors:
            if error.line - 1 - _offset(task) != self.line:
                continue
            tactic_goal = self.kind == "tactic" and error.message.startswith("unsolved goals")
            hole = self.kind == "term" and "synthesize placeholder" in error.message and error.column == self.column
            if tactic_goal or hole:
                found = goal_of(error.message)
            if found is not None:
                break
        if found is None:
            return None
        names, goal = found
        name = _fresh(self.body)
        lines = self.body.splitlines()
        if self.kind == "tactic":
            indent = lines[self.line][: _width(lines[self.line])]
            block = [f"  {line}" if line.strip() else "" for line in lines[self.line : self.end]]
            have = f"{indent}have {name} : {goal} := by"
            return "\n".join([*lines[: self.line], have, *block, f"{indent}exact {name}", *lines[self.end :]])
        # A sub-term under a binder of its own cannot be named before the proof term starts.
        if any(not re.search(rf"(?<![\w.']){re.escape(n)}(?![\w'])", task.head) for n in names):
            return None
        start = self.column - 1  # the hole `(_)` starts one column before its `_`
        text = lines[self.line]
        span = text[start : self.end]
        lines[self.line] = text[:start] + name + text[self.end :]
        replaced = "\n".join(lines)
        theorem = _theorem_line(task, lines)
        assert theorem is not None  # lift_failing_step found it
        at = replaced.find(":=", sum(len(line) + 1 for line in lines[:theorem]))
        rest = replaced[at + 2 :]
        after = rest.lstrip(" \t")
        if after.startswith("\n"):
            following = after.lstrip("\n")
            indent = following[: _width(following)] or "  "
            return f"{replaced[: at + 2]}\n{indent}have {name} : {goal} := {span}{after}"
        return f"{replaced[: at + 2]}\n  have {name} : {goal} := {span}\n  {after}"


def lift_failing_step(task: LeanTask, body: str, result: LeanResult) -> StepLift | None:
    """The first error's step as a `StepLift` when it can be isolated (see the module docstring)."""
    if not result.errors:
        return None
    error = result.errors[0]
    lines = body.splitlines()
    index = error.line - 1 - _offset(task)
    theorem = _theorem_line(task, lines)
    if theorem is None or not theorem <= index < len(lines) or not lines[index].strip():
        return None
    line = lines[index]
    width = _width(line)
    # The line that opens this line's block: a tactic block opens with `by`.
    opener = next((j for j in range(index - 1, theorem - 1, -1) if lines[j].strip() and _width(lines[j]) < width), None)
    if index > theorem and width > 0 and opener is not None and lines[opener].rstrip().endswith("by"):
        siblings = [x for x in lines[opener + 1 : index] if x.strip() and _width(x) == width]
        if line.strip().startswith(_BULLET) or not siblings:
            return None  # a bullet has its own goal; a block's first line has the block's whole goal
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or _width(lines[end]) >= width):
            end += 1
        while end > index + 1 and not lines[end - 1].strip():
            end -= 1
        probe = "\n".join([*lines[:index], line[:width] + "done", *lines[end:]])
        return StepLift(kind="tactic", body=body, probe=probe, line=index, column=width, end=end)
    # Term mode: a one-line span after the theorem's `:=`, in a proof with no tactic block.
    proof_text = "\n".join(lines[theorem:])
    if re.search(r"(?<![\w.'])by(?![\w'])", proof_text) or error.end_line != error.line:
        return None
    column, end_column = error.column, error.end_column
    if end_column is None or end_column <= column:
        return None
    offset = sum(len(x) + 1 for x in lines[:theorem])
    absolute = sum(len(x) + 1 for x in lines[:index]) + column
    assign = "\n".join(lines).find(":=", offset)
    if assign < 0 or absolute <= assign:
        return None
    if "\n".join(lines)[assign + 2 :].strip() == line[column:end_column].strip():
        return None  # the span is the whole proof term: its `have` would be the theorem itself
    probe_lines = list(lines)
    probe_lines[index] = line[:column] + "(_)" + line[end_column:]
    return StepLift(kind="term", body=body, probe="\n".join(probe_lines), line=index, column=column + 1, end=end_column)
