"""Lean proofs in the memory: the code records a proved theorem leaves, and what a later prove sees.

A proof the sound checker accepted is stored as a ``code`` record of domain ``lean``: its `code` is
the prover's part of the file (helper lemmas and the theorem, no header), its `signature` the
statement as given, whitespace-normalised, so a later prove of the same statement finds it by
signature and has it re-checked before anything else (the header may differ: the checker decides).
Each sub-goal the search had to repair (a ``have`` that failed and was then closed by automation
or by the model) is stored too, as a tactic pattern: the ``have`` with the proof that closed it.

Lean records are kept out of ordinary solves' exemplars (`is_lean`): a Lean proof is no help to a
Python program, and a solve's code records are no help to a prover.
"""

from __future__ import annotations

from collections.abc import Sequence

from xolver.memory.base import ExperienceStore
from xolver.memory.records import ExperienceRecord, ScoredRecord

__all__ = [
    "LEAN_DOMAIN",
    "is_lean",
    "normalized_statement",
    "proof_experience",
    "proof_records",
    "recall_proofs",
    "stored_proofs",
]

LEAN_DOMAIN = "lean"


def is_lean(record: ExperienceRecord) -> bool:
    """Whether a record is a Lean proof or sub-goal pattern (shown only to the prover)."""
    return record.domain == LEAN_DOMAIN


def normalized_statement(statement: str) -> str:
    """A statement with its whitespace collapsed: what a stored proof is matched by."""
    return " ".join(statement.split())


def proof_records(
    statement: str,
    proof: str,
    subgoals: Sequence[tuple[str, str]] = (),
    *,
    namespace: str = "default",
) -> list[ExperienceRecord]:
    """The records one accepted proof leaves.

    Args:
        statement: the theorem's head as given (``theorem name binders : type``).
        proof: the prover's part of the accepted file (no header).
        subgoals: ``(type, have step)`` of each repaired sub-goal, the step as it stands in the proof.
        namespace: the tenant written to.
    """
    head = normalized_statement(statement)
    records = [
        ExperienceRecord(
            kind="code",
            namespace=namespace,
            domain=LEAN_DOMAIN,
            text=f"Lean 4 proof of {head}",
            code=proof.strip(),
            signature=head,
            source="prove",
            verified=True,
            score=1.0,
        )
    ]
    for goal, step in subgoals:
        records.append(
            ExperienceRecord(
                kind="code",
                namespace=namespace,
                domain=LEAN_DOMAIN,
                text=f"Lean 4 sub-goal {normalized_statement(goal)} (in the proof of {head})",
                code=step.strip(),
                signature=normalized_statement(goal),
                source="prove",
                verified=True,
                score=1.0,
                when_to_use="a `have` sub-goal of this shape, with the same hypotheses in scope",
            )
        )
    return records


def recall_proofs(
    store: ExperienceStore, statement: str, *, namespace: str = "default", k: int = 3
) -> list[ScoredRecord]:
    """Stored Lean proofs and sub-goal patterns relevant to `statement`, best first (retired ones dropped)."""
    hits = store.search(normalized_statement(statement), k=k, kind="code", domain=LEAN_DOMAIN, namespace=namespace)
    return [h for h in hits if not h.record.retired and is_lean(h.record)]


def stored_proofs(statement: str, hits: Sequence[ScoredRecord]) -> list[str]:
    """The stored proofs of exactly this statement: tried, and checked, before any other candidate."""
    head = normalized_statement(statement)
    return [h.record.code for h in hits if h.record.signature == head and h.record.code.strip()]


def proof_experience(hits: Sequence[ScoredRecord]) -> str:
    """The prover prompt's experience paragraph: proofs Lean accepted before, as Lean blocks."""
    if not hits:
        return ""
    blocks = "\n".join(f"{h.record.text}:\n```lean\n{h.record.code.strip()}\n```" for h in hits)
    return f"Lean accepted these before, for related statements:\n{blocks}\n"
