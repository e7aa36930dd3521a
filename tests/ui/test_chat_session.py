"""What a chat session runs on and what it closes: what it built, never what the caller passed in."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from rich.console import Console

from tests._support.scripts import PLAN, by_role, solved, verdict
from xolver.config import XolverConfig
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.stores import StoreSpec
from xolver.models.base import Model
from xolver.models.testing import FunctionModel
from xolver.ui.chat import ChatSession
from xolver.ui.input import ScriptedReader


class ClosingModel(FunctionModel):
    """A team that answers 391 at once, and counts its `close` calls."""

    def __init__(self, name: str = "function") -> None:
        super().__init__(by_role(planner=PLAN, solver=solved("391"), judge=verdict(1), verifier="391"), name=name)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class ClosingStore(InMemoryExperienceStore):
    """An in-process store that counts its `close` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def chat(inputs: list[str], **kwargs: Any) -> ChatSession:
    console = Console(file=io.StringIO(), width=80)
    return ChatSession(console, ScriptedReader(inputs), config=XolverConfig(agents=1, rounds=0), **kwargs)


def test_the_callers_model_and_store_stay_open() -> None:
    model, store = ClosingModel(), ClosingStore()
    session = chat(["What is 17 * 23?", "/quit"], model=model, memory=store)
    assert session.model is model and session.open_memory() is store  # used as given, not wrapped
    assert asyncio.run(session.run()) == 0
    assert session.turns[0].solution is not None and session.turns[0].solution.answer == "391"
    assert model.closed == 0 and store.closed == 0


def test_what_the_session_built_is_closed_and_a_replaced_model_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[ClosingModel] = []
    opened: list[ClosingStore] = []

    def build(config: XolverConfig) -> Model:
        built.append(ClosingModel(name=config.model))
        return built[-1]

    def open_store(spec: StoreSpec) -> ClosingStore:
        assert spec.backend == "memory"
        opened.append(ClosingStore())
        return opened[-1]

    monkeypatch.setattr("xolver.runtime.model_from_config", build)
    monkeypatch.setattr("xolver.runtime.open_store", open_store)
    session = chat(["What is 17 * 23?", "/model other/model", "What is 17 * 23?", "/quit"])
    assert asyncio.run(session.run()) == 0
    assert [m.name for m in built] == ["local", "other/model"]  # the config's model, then /model's
    assert [m.closed for m in built] == [1, 1]  # the first when /model replaced it, the second at the end
    assert len(opened) == 1 and opened[0].closed == 1  # one in-process store for the whole session
    assert [t.outcome for t in session.turns] == ["answered", "answered"]


def test_a_factory_model_is_the_callers_and_a_failed_switch_keeps_the_model() -> None:
    first, second = ClosingModel(), ClosingModel(name="second")

    def factory(name: str) -> Model:
        if name == "broken/model":
            from xolver.errors import UserError

            raise UserError("no such model")
        return second

    session = chat(["/model broken/model", "/model other/model", "/quit"], model=first, model_factory=factory)
    assert asyncio.run(session.run()) == 0
    out = session.console.file.getvalue()  # type: ignore[attr-defined]
    assert "/model: no such model" in out and "model: second" in out
    assert session.config.model == "other/model"
    assert first.closed == 0 and second.closed == 0
