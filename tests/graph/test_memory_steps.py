"""The retrieve and write-back steps against a `ScriptedStore`: what the graph asks the memory, node by node."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from xolver.agents.runner import Budget
from xolver.config import XolverConfig
from xolver.graph import nodes
from xolver.graph.state import SolveContext, SolveState
from xolver.memory.records import ExperienceRecord
from xolver.memory.testing import RecordUse, ScriptedStore
from xolver.models.testing import ScriptedModel
from xolver.solution import Trajectory

RELATED = ExperienceRecord(
    text="A farmer plants 17 rows of 23 trees. How many trees?",
    solution="Multiply rows by trees per row: 17 * 23.\n#### 391",
    answer="391",
    namespace="acme",
)
STRATEGY = ExperienceRecord(kind="strategy", text="Equal rows: multiply rows by items per row.", namespace="acme")


def _runtime(store: ScriptedStore, events: list[Any], **config: Any) -> Runtime[SolveContext]:
    cfg = XolverConfig(namespace="acme", distill=False, **config)
    context = SolveContext(model=ScriptedModel([]), config=cfg, budget=Budget(), memory=store)
    return Runtime(context=context, stream_writer=events.append)


def test_retrieve_asks_each_kind_in_the_configured_namespace_and_passes_methods_on() -> None:
    events: list[Any] = []
    with ScriptedStore({"problem": [[RELATED]], "strategy": [[STRATEGY]], "code": [[]]}) as store:
        state: SolveState = {"problem": "19 rows of 21 trees?"}
        update = asyncio.run(nodes.retrieve(state, _runtime(store, events, retrieval_mode="bm25", retrieval_k=2)))
    assert [(c.kind, c.k, c.mode, c.namespace) for c in store.searches] == [
        ("problem", 2, "bm25", "acme"),
        ("strategy", 3, "bm25", "acme"),
        ("code", 3, "bm25", "acme"),
    ]
    problem, strategy = update["exemplars"]
    assert (problem["id"], strategy["id"]) == (RELATED.id, STRATEGY.id)
    # A related problem is a method to reuse: its answer and final-answer line are not passed on.
    assert problem["answer"] == "" and "####" not in problem["solution"]
    assert len(events[0].exemplars) == 2


def _solved_state(**extra: Any) -> SolveState:
    best = Trajectory(agent=0, role="Calculator", round=0, response="19 * 21 = 399", answer="399", score=1.0)
    state: SolveState = {
        "problem": "19 rows of 21 trees?",
        "answer": "399",
        "checked": True,
        "shared": [best.model_dump(mode="json")],
        "exemplars": [{"id": RELATED.id}, {"id": STRATEGY.id}],
    }
    state.update(extra)  # type: ignore[typeddict-item]
    return state


def test_write_back_stores_the_checked_answer_and_records_the_use_of_what_was_retrieved() -> None:
    events: list[Any] = []
    with ScriptedStore() as store:
        update = asyncio.run(nodes.write_back(_solved_state(), _runtime(store, events)))
    (written,) = store.added
    assert written.text == "19 rows of 21 trees?" and written.answer == "399" and written.namespace == "acme"
    assert update["memory_written"] == [written.id] and events[-1].ids == [written.id]
    assert store.uses == [RecordUse((RELATED.id, STRATEGY.id), 1.0)]


def test_write_back_in_frozen_mode_touches_nothing() -> None:
    with ScriptedStore() as store:
        update = asyncio.run(nodes.write_back(_solved_state(), _runtime(store, [], memory_mode="frozen")))
    assert update == {"memory_written": []} and store.added == [] and store.uses == []
