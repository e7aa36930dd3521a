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
    verified=True,
)
UNVERIFIED = ExperienceRecord(
    text="A grove of 5 rows of 5 trees?", solution="5 + 5 = 10", answer="10", namespace="acme"
)
STRATEGY = ExperienceRecord(kind="strategy", text="Equal rows: multiply rows by items per row.", namespace="acme")


def _runtime(store: ScriptedStore, events: list[Any], **config: Any) -> Runtime[SolveContext]:
    cfg = XolverConfig(namespace="acme", distill=False, **config)
    context = SolveContext(model=ScriptedModel([]), config=cfg, budget=Budget(), memory=store)
    return Runtime(context=context, stream_writer=events.append)


def test_retrieve_asks_each_kind_in_the_configured_namespace_and_shows_only_verified_solutions() -> None:
    events: list[Any] = []
    script: dict[Any, Any] = {"problem": [[RELATED, UNVERIFIED]], "strategy": [[STRATEGY]], "code": [[]]}
    with ScriptedStore(script) as store:
        state: SolveState = {"problem": "19 rows of 21 trees?"}
        update = asyncio.run(nodes.retrieve(state, _runtime(store, events, retrieval_mode="bm25", retrieval_k=2)))
    # Twice k is asked for: retired and dissimilar hits are dropped before the top k are kept.
    assert [(c.kind, c.k, c.mode, c.namespace) for c in store.searches] == [
        ("problem", 4, "bm25", "acme"),
        ("strategy", 6, "bm25", "acme"),
        ("code", 6, "bm25", "acme"),
    ]
    problem, strategy = update["exemplars"]
    assert (problem["id"], strategy["id"]) == (RELATED.id, STRATEGY.id)
    # A verified related problem is a worked example with its answer; an unverified one is not shown.
    assert problem["answer"] == "391" and problem["verified"] and "####" not in problem["solution"]
    assert len(events[0].exemplars) == 2


def test_retrieve_keeps_the_experience_within_its_token_budget() -> None:
    long = [
        ExperienceRecord(kind="strategy", text=f"strategy {i}: " + "think about it carefully " * 12, namespace="acme")
        for i in range(3)
    ]
    with ScriptedStore({"problem": [[]], "strategy": [long], "code": [[]]}) as store:
        update = asyncio.run(
            nodes.retrieve({"problem": "p"}, _runtime(store, [], retrieval_mode="bm25", experience_max_tokens=180))
        )
    # Each strategy costs about 85 tokens: two fit in 180, the third does not.
    assert [e["text"][:10] for e in update["exemplars"]] == ["strategy 0", "strategy 1"]


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


def _split_state(**extra: Any) -> SolveState:
    """A solve whose team split: the program computed 399 (checked), a reasoning agent said 400."""
    right = Trajectory(agent=0, role="Coder", round=0, method="program", response="print(19 * 21)", answer="399")
    wrong = Trajectory(agent=1, role="Reasoner", round=0, response="19 * 21 is about 400", answer="400")
    state = _solved_state(trajectories=[right.model_dump(mode="json"), wrong.model_dump(mode="json")])
    state.update(extra)  # type: ignore[typeddict-item]
    return state


CONTRAST_REPLY = """STRATEGY: Compute products exactly with a program instead of estimating.
WHEN TO USE: word problems that multiply two counts
WHEN NOT TO USE: when only an estimate is asked for

CAUTION: Rounding an intermediate product gives a wrong exact count.

CODE: count items in a grid of rows
```python
def grid_count(rows, per_row):
    return rows * per_row

assert grid_count(19, 21) == 399
```

CODE: a helper whose claim is false
```python
def wrong_count(rows, per_row):
    return rows + per_row

assert wrong_count(19, 21) == 399
```

CODE: a helper without a claim
```python
def untested(x):
    return x
```
"""


async def _learn(state: SolveState, store: ScriptedStore, model: ScriptedModel) -> dict[str, Any]:
    """`write_back` with a real sandbox (it runs each code fragment's claim), closed in the same loop:
    a toolbox left open keeps a sandbox worker alive for the rest of the test session."""
    from xolver.tools.toolbox import ToolBox

    tools = ToolBox(timeout=60.0)  # generous: a loaded CI machine starts a worker slowly
    cfg = XolverConfig(namespace="acme")
    context = SolveContext(model=model, config=cfg, budget=Budget(), memory=store, tools=tools)
    try:
        return dict(await nodes.write_back(state, Runtime(context=context, stream_writer=lambda _: None)))
    finally:
        await tools.aclose()


def test_a_split_team_is_distilled_by_contrast_and_only_code_that_proves_its_claim_is_kept() -> None:
    model = ScriptedModel([CONTRAST_REPLY])
    with ScriptedStore() as store:
        asyncio.run(_learn(_split_state(), store, model))
    prompt = model.requests[0].messages[-1].content
    assert "CORRECT ATTEMPT 1 (program, answer 399)" in prompt and "WRONG ATTEMPT 1 (reasoning, answer 400)" in prompt
    problem, strategy, caution, code = store.added
    assert problem.kind == "problem" and problem.verified
    assert strategy.when_to_use.startswith("word problems") and strategy.when_not_to_use.startswith("when only")
    assert caution.cautionary and caution.text.startswith("Rounding")
    assert code.signature == "grid_count(rows, per_row)" and code.tests == ["assert grid_count(19, 21) == 399"]
    assert "assert" not in code.code


def test_a_team_that_agreed_is_not_distilled() -> None:
    agreed = Trajectory(agent=1, role="Reasoner", round=0, response="19 * 21 = 399", answer="399")
    state = _solved_state(trajectories=[agreed.model_dump(mode="json")])
    with ScriptedStore() as store:
        asyncio.run(_learn(state, store, ScriptedModel([])))
    assert [r.kind for r in store.added] == ["problem"]


def test_a_contradicted_answer_blames_what_was_shown_and_an_ungrounded_one_does_not_count() -> None:
    from xolver.solution import Check

    contradicted = Trajectory(
        agent=0, role="R", round=0, response="400", answer="400", checks=[Check(kind="checker", agrees=False)]
    )
    unsure = contradicted.model_copy(update={"score": 0.5}).model_dump(mode="json")
    state = _solved_state(
        answer="400", checked=False, trajectories=[contradicted.model_dump(mode="json")], shared=[unsure]
    )
    with ScriptedStore() as store:
        asyncio.run(nodes.write_back(state, _runtime(store, [], write_back_min_score=0.9)))
    assert store.uses == [RecordUse((RELATED.id, STRATEGY.id), 0.0)] and store.added == []
    with ScriptedStore() as store:
        asyncio.run(nodes.write_back(_solved_state(checked=False, shared=[unsure]), _runtime(store, [])))
    assert store.uses == [] and store.added == []
