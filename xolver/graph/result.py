"""`solution_from_state`: the graph's output state as a `Solution`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xolver.graph import codec
from xolver.solution import Solution, UsageLedger

__all__ = ["solution_from_state"]


def solution_from_state(
    state: Mapping[str, Any],
    *,
    model: str = "",
    answer_format: str = "auto",
    thread_id: str | None = None,
    seconds: float = 0.0,
) -> Solution:
    """Build a `Solution` from the Xolver graph's state (e.g. the result of ``build_graph(...).ainvoke``)."""
    shared = codec.shared(state)
    answer = state.get("answer", "")
    # `best` is the entry the answer came from: the first shared entry with that answer.
    from xolver.agents.parsing import answers_match

    best = next((e for e in shared if e.answer is not None and answer and answers_match(e.answer, answer)), None)
    best = best or (shared[0] if shared else None)
    return Solution(
        problem=state.get("problem", ""),
        answer=state.get("answer", ""),
        answer_format=answer_format,
        answer_source=state.get("answer_source", "none"),
        best=best,
        roles=codec.roles(state),
        exemplars=codec.exemplars(state),
        rounds=codec.rounds(state),
        stop_reason=state.get("stop_reason") or "max_rounds",
        checked=bool(state.get("checked")),
        check=state.get("check", ""),
        check_kind=state.get("check_kind"),
        tally=codec.tally(state),
        failures=list(state.get("failures") or []),
        tests=list(state.get("tests") or []),
        synthesized_tests=list(state.get("synthesized_tests") or []),
        memory_written=list(state.get("memory_written") or []),
        model=model,
        thread_id=thread_id,
        wall_seconds=round(seconds, 3),
        usage=UsageLedger(calls=codec.calls(state)),
    )
