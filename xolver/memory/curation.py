"""The rules a record lives by after it is written: credit and blame, ranking, merge, retirement.

Pure functions over `ExperienceRecord`; the stores apply them (on `record_use`, on write, and in
`retire_over_budget`), so every store curates the same way.

- **Credit and blame.** `record_use(ids, outcome)` is called after a solve with the grounded outcome
  of that solve: 1.0 when an independent check confirmed its answer, 0.0 when the team's answer was
  not confirmed by any check. Each record shown in that solve gets ``helped += 1`` or ``hurt += 1``
  (the judge's opinion never enters).
- **Usefulness** is the Laplace estimate ``(helped + 1) / (helped + hurt + 2)``: 0.5 for a record never
  used, towards 1 for one that keeps helping, towards 0 for one that keeps hurting.
- **Ranking** multiplies relevance by ``0.5 + usefulness`` (between 0.5 and 1.5): a record that keeps
  misleading solves is demoted below an equally similar record without a track record.
- **Retirement.** After at least `CurationPolicy.retire_min_uses` uses, a record whose usefulness is
  below `CurationPolicy.retire_below` is retired: kept (``xolver memory history ID`` shows it) but
  never retrieved again. Over-budget namespaces retire their least useful strategies first.
- **Merge.** A new record that is a near duplicate of a stored one of the same kind and namespace is
  merged into it (``evidence`` adds up, the better verification and score are kept, the new one's
  provenance goes into ``history``) instead of being dropped; a verified problem record supersedes
  an unverified near duplicate (the old one is retired, the new one written).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xolver.memory.records import ExperienceRecord, RecordEvent, RecordKind, ScoredRecord

if TYPE_CHECKING:  # pragma: no cover
    from xolver.memory.base import ExperienceStore

__all__ = [
    "CurationPolicy",
    "MergeOutcome",
    "credit",
    "merge_into",
    "over_budget",
    "rank_by_usefulness",
    "retire",
    "retire_over_budget",
    "usefulness",
]


@dataclass(frozen=True)
class CurationPolicy:
    """When records are retired.

    Attributes:
        retire_min_uses: uses (helped + hurt) before a record may be retired.
        retire_below: retire when usefulness falls below this (default: 0.25, e.g. 0 of 4 helped).
    """

    retire_min_uses: int = 4
    retire_below: float = 0.25


def usefulness(record: ExperienceRecord) -> float:
    """The Laplace estimate of how often showing this record went with a confirmed answer."""
    return (record.helped + 1) / (record.helped + record.hurt + 2)


def retire(record: ExperienceRecord, reason: str) -> None:
    """Mark a record retired, with the reason in its history (in place)."""
    if record.retired:
        return
    record.retired = True
    record.history.append(RecordEvent(action="retired", detail=reason))


def credit(record: ExperienceRecord, outcome: float, policy: CurationPolicy = CurationPolicy()) -> None:
    """Count one use of `record` in a solve whose grounded outcome was `outcome` (in place).

    ``outcome >= 0.5`` is credit, below is blame; `times_retrieved` and `mean_use_score` (the mean
    outcome) are kept too. Retires the record when the policy says so.
    """
    n, mean = record.times_retrieved, record.mean_use_score
    record.mean_use_score = outcome if mean is None else (mean * n + outcome) / (n + 1)
    record.times_retrieved = n + 1
    if outcome >= 0.5:
        record.helped += 1
    else:
        record.hurt += 1
    uses = record.helped + record.hurt
    if uses >= policy.retire_min_uses and usefulness(record) < policy.retire_below:
        retire(record, f"hurt {record.hurt} of {uses} solves it was shown in")


def rank_by_usefulness(hits: Sequence[ScoredRecord]) -> list[ScoredRecord]:
    """Hits re-ordered by relevance x (0.5 + usefulness), retired ones left out.

    Relevance is the cosine similarity when known, else the ranking score normalised by the best.
    """
    live = [h for h in hits if not h.record.retired]
    if not live:
        return []
    best = max(h.score for h in live) or 1.0

    def relevance(h: ScoredRecord) -> float:
        return h.similarity if h.similarity is not None else h.score / best

    order = {h.record.id: i for i, h in enumerate(live)}
    return sorted(live, key=lambda h: (-relevance(h) * (0.5 + usefulness(h.record)), order[h.record.id]))


@dataclass(frozen=True)
class MergeOutcome:
    """What a near-duplicate write does: update the stored record, and write the new one or not."""

    stored: ExperienceRecord
    write_new: bool


def merge_into(stored: ExperienceRecord, new: ExperienceRecord, similarity: float) -> MergeOutcome:
    """The merge rule for a new record that is a near duplicate of a stored one.

    A verified problem record supersedes an unverified one (the stored record is retired and the
    new one written). Otherwise the stored record absorbs the new one: evidence adds up,
    verification and the best score are kept, empty "when" fields are filled, and its history notes
    the merge. The stored record keeps its text, so its vector stays valid.
    """
    stored = stored.model_copy(deep=True)
    if stored.kind == "problem" and new.verified and not stored.verified:
        retire(stored, f"superseded by verified {new.id} (similarity {similarity:.3f})")
        stored.history[-1].action = "superseded"
        return MergeOutcome(stored, write_new=True)
    stored.evidence += new.evidence
    stored.verified = stored.verified or new.verified
    if new.score is not None and (stored.score is None or new.score > stored.score):
        stored.score = new.score
    stored.when_to_use = stored.when_to_use or new.when_to_use
    stored.when_not_to_use = stored.when_not_to_use or new.when_not_to_use
    stored.history.append(
        RecordEvent(
            action="merged", detail=f"{new.id} from {new.source} (similarity {similarity:.3f}): {new.text[:200]}"
        )
    )
    return MergeOutcome(stored, write_new=False)


def over_budget(records: Iterable[ExperienceRecord], budget: int) -> list[ExperienceRecord]:
    """The live records to retire so that at most `budget` stay: least useful first, then the
    least evidence, then the oldest."""
    live = [r for r in records if not r.retired]
    if len(live) <= budget:
        return []
    live.sort(key=lambda r: (usefulness(r), r.evidence, r.created_at))
    return live[: len(live) - budget]


def retire_over_budget(
    store: ExperienceStore, *, namespace: str, budget: int | None, kind: RecordKind = "strategy"
) -> list[str]:
    """Retire the least useful live records of one kind and namespace beyond `budget`; their ids.

    Cheap when under budget (one count); reads the namespace's records of that kind otherwise.
    """
    if budget is None or store.count(namespace=namespace, kind=kind) <= budget:
        return []
    doomed = [r.id for r in over_budget(store.iter_records(namespace=namespace, kind=kind), budget)]
    if doomed:
        store.retire(doomed, reason=f"over the budget of {budget} {kind} records (least useful first)")
    return doomed
