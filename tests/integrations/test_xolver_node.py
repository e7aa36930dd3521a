"""`xolver_node` around a default `Xolver`: the node runs on the Xolver's own store and sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from xolver import Xolver
from xolver.config import XolverConfig
from xolver.events import Event, ExperienceRetrieved, MemoryWritten, ToolCalled
from xolver.integrations.langgraph import xolver_node
from xolver.memory.learning import problem_record
from xolver.memory.stores import open_store
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel

PLAN = "Roles:\n1. Calculator: computes\n2. Checker: checks\n3. Modeler: models\nSelected: 1, 2"
SEEDED = "What is 17 * 22? Multiply 17 by 22."
ASKED = "What is 17 * 23? Multiply 17 by 23."


def reply(request: ModelRequest) -> str:
    """A team that gets 17 * 23 right: the program seat prints it, the reasoning seat agrees."""
    system = request.messages[0].content if request.messages else ""
    if request.tags.role == "planner":
        return PLAN
    if request.tags.purpose.startswith("blind_check") or (request.tags.role == "solver" and "Python program" in system):
        return "Thought: compute it\n```python\nprint(17 * 23)\n```"
    if request.tags.role == "judge":
        return "Critique: checked\nScore: 1"
    if request.tags.role == "learner":
        return "NONE"
    return "Thought: 17 * 23 = 391\nResponse: the product is 391\nFinal answer: \\boxed{391}"


class Parent(TypedDict, total=False):
    question: str
    answer: str


def parent_graph(node: Any) -> Any:
    builder = StateGraph(Parent)
    builder.add_node("solve", node)
    builder.add_edge(START, "solve")
    builder.add_edge("solve", END)
    return builder.compile()


async def test_xolver_node_around_a_default_xolver_retrieves_writes_and_runs_python(_isolated_home: Path) -> None:
    # The default store is the persistent one at $XOLVER_HOME/memory (a temporary folder here);
    # the hash embedder keeps it model-free. One related problem is in it before the node runs.
    spec = XolverConfig(memory_store="chroma", memory_path=_isolated_home / "memory", embedder="hash")
    seed = open_store(spec)
    assert seed is not None
    seed.add([problem_record(SEEDED, "17 * 22 = 374", "374", score=1.0, verified=True)])
    _close(seed)

    model = FunctionModel(reply, name="function")
    xo = Xolver(model, agents=2, rounds=0, memory_store="chroma", embedder="hash")  # no store passed in
    graph = parent_graph(xolver_node(xo, problem="question"))
    events: list[Event] = []
    async for _, mode, chunk in graph.astream({"question": ASKED}, stream_mode=["custom", "values"], subgraphs=True):
        if mode == "custom":
            events.append(chunk)
        else:
            final = chunk
    xo.close()

    assert final["answer"] == "391"
    retrieved = [e for e in events if isinstance(e, ExperienceRetrieved)]
    assert retrieved and SEEDED in [x.text for x in retrieved[0].exemplars]  # read from the store
    solver_prompts = [m.content for r in model.requests if r.tags.role == "solver" for m in r.messages]
    assert any(SEEDED in p for p in solver_prompts)  # and shown to the agents
    ran = [e.call for e in events if isinstance(e, ToolCalled)]
    assert ran and all(c.ok for c in ran) and any("391" in (c.output or "") for c in ran)  # Python ran
    assert [e for e in events if isinstance(e, MemoryWritten)]  # the solve was written back ...
    store = open_store(spec)
    assert store is not None
    try:
        assert store.count() == 2  # ... into the same folder, and it is there for the next process
        assert {h.record.text for h in store.search(ASKED, k=5)} == {SEEDED, ASKED}
    finally:
        _close(store)


def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()
