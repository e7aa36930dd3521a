"""The composition root: what it opens it closes, what a caller passes in it leaves alone, and a
stream the caller stops stops its solve."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from xolver import Xolver
from xolver.config import XolverConfig
from xolver.errors import UserError
from xolver.events import AgentStarted
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.stores import StoreSpec
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.runtime import SolveRuntime, run_config

PLAN = "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\nSelected: 1"
SOLVED = "Thought: 17 * 23 = 391\nResponse: the product is 391\nFinal answer: \\boxed{391}"


def reply(request: ModelRequest) -> str:
    return {"planner": PLAN, "judge": "Critique: checked\nScore: 1", "learner": "NONE"}.get(request.tags.role, SOLVED)


class ClosableModel(FunctionModel):
    """A test model that counts its `close` calls."""

    def __init__(self) -> None:
        super().__init__(reply, name="closable")
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_xolver_close_closes_the_store_it_opened(_isolated_home: Path) -> None:
    xo = Xolver(ClosableModel(), agents=1, rounds=0, methods=["reasoning"], memory_store="chroma", embedder="hash")
    assert xo.memory is None  # opened by the first solve, not before
    assert xo.solve("How many pens in 17 boxes of 23?").answer == "391"
    store = xo.memory
    assert store is not None and store.count() == 0  # open, at $XOLVER_HOME/memory
    xo.close()
    assert xo.memory is None
    with pytest.raises(UserError, match="closed"):
        store.count()


def test_xolver_close_leaves_what_the_caller_passed_in_open() -> None:
    model, store = ClosableModel(), InMemoryExperienceStore()
    with Xolver(model, agents=1, rounds=0, methods=["reasoning"], memory=store) as xo:
        xo.solve("How many pens in 17 boxes of 23?")
    assert model.closed == 0
    assert xo.memory is store


def test_runtime_opens_a_store_once_on_first_use_and_closes_what_it_built() -> None:
    config = XolverConfig(model="openai/not-called", memory_store="memory")
    with SolveRuntime(config) as runtime:  # builds the model from the config
        assert runtime.memory is None
        store = runtime.open_memory()
        assert isinstance(store, InMemoryExperienceStore) and runtime.open_memory() is store
    assert runtime.memory is None
    assert SolveRuntime(config, model=ClosableModel(), memory=StoreSpec(backend="off")).open_memory() is None


async def test_solve_context_gives_each_solve_a_budget_and_sandbox_and_stops_the_sandbox() -> None:
    config = XolverConfig(max_calls=7, memory_mode="off")
    runtime = SolveRuntime(config, model=ClosableModel())
    async with (
        runtime.solve_context() as first,
        runtime.solve_context(config.model_copy(update={"max_calls": 3})) as second,
    ):
        assert first.memory is None and first.tools is not None and first.tools is not second.tools
        assert (first.budget.max_calls, second.budget.max_calls) == (7, 3)
        call = await first.tools.run_python(0, "print(6 * 7)")
        assert call.ok and call.output.strip() == "42"
    assert first.tools._sandbox is None  # stopped when the block ended


def test_run_config_keeps_a_parent_limit_when_larger() -> None:
    config = XolverConfig(rounds=2)  # 3 rounds: 12 + 6 * 3
    assert run_config(config) == {"recursion_limit": 30}
    assert run_config(config, thread_id="t")["configurable"] == {"thread_id": "t"}
    parent = run_config(config, base={"recursion_limit": 100, "configurable": {"thread_id": "p"}})
    assert parent == {"recursion_limit": 100, "configurable": {"thread_id": "p"}}
    assert run_config(XolverConfig(rounds=0), base={})["recursion_limit"] == 25


def test_stopping_a_stream_stops_the_solve() -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def stuck(request: ModelRequest) -> str:
        if request.tags.role != "solver":
            return reply(request)
        started.set()
        try:
            await asyncio.Event().wait()  # a model call that never returns by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    xo = Xolver(FunctionModel(stuck), agents=1, rounds=0, methods=["reasoning"], memory=None)
    events = xo.stream("How many pens in 17 boxes of 23?")
    for event in events:
        if isinstance(event, AgentStarted):
            break
    assert started.wait(10)
    events.close()  # what `break` and garbage collection do too
    assert cancelled.is_set()  # the call in flight was cancelled, the solve's cleanup ran
    assert not [t for t in threading.enumerate() if t.name == "xolver-stream"]
