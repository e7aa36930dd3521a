"""xolver inside other agent stacks: a node of a parent LangGraph, and a LangChain tool."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import ToolCall, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from tests.server.helpers import reply
from xolver import Xolver
from xolver.agents.runner import Budget
from xolver.config import XolverConfig
from xolver.events import AgentJudged, RolesPlanned, Verified
from xolver.graph import SolveContext, build_graph
from xolver.integrations.langchain import as_tool
from xolver.integrations.langgraph import xolver_node
from xolver.memory import InMemoryExperienceStore
from xolver.models.testing import FunctionModel
from xolver.solution import Solution


class Parent(TypedDict, total=False):
    """A user's own state: nothing in it is named like the Xolver graph's keys."""

    question: str
    tenant: str
    result: str
    checked: bool
    calls: int
    log: Annotated[list[str], operator.add]


def _parent(node: Any) -> Any:
    def intake(state: Parent) -> dict[str, Any]:
        return {"log": [f"got: {state['question']}"]}

    def report(state: Parent) -> dict[str, Any]:
        return {"log": [f"answer: {state['result']}"]}

    builder = StateGraph(Parent)
    builder.add_node("intake", intake)
    builder.add_node("solve", node)
    builder.add_node("report", report)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "solve")
    builder.add_edge("solve", "report")
    builder.add_edge("report", END)
    return builder.compile(checkpointer=InMemorySaver())


async def test_xolver_node_in_a_parent_graph_with_its_own_state_and_checkpointer() -> None:
    store = InMemoryExperienceStore()
    model = FunctionModel(reply, name="function")
    # No early stop and the paper's refinement: the judge gives its opinions.
    xo = Xolver(
        model, agents=2, rounds=1, memory=store, early_stop=False, later_rounds="refine", judge_opinions="always"
    )

    def keep(solution: Solution) -> dict[str, Any]:
        return {"result": solution.answer, "checked": solution.checked, "calls": solution.usage.totals.calls}

    graph = _parent(xolver_node(xo, problem="question", output=keep, namespace="tenant"))
    config: Any = {"configurable": {"thread_id": "t1"}}
    custom: list[tuple[Any, Any]] = []
    updates: list[tuple[Any, Any]] = []
    async for namespace, mode, chunk in graph.astream(
        {"question": "How many pens in 17 boxes of 23?", "tenant": "acme"},
        config=config,
        stream_mode=["custom", "updates"],
        subgraphs=True,
    ):
        (custom if mode == "custom" else updates).append((namespace, chunk))

    # Xolver's typed events and node updates streamed through the parent, from inside the subgraph.
    assert all(ns and ns[0].startswith("solve:") for ns, _ in custom)
    kinds = [type(event) for _, event in custom]
    assert RolesPlanned in kinds and AgentJudged in kinds and Verified in kinds
    inner_nodes = {node for ns, chunk in updates if ns for node in chunk}
    assert {"plan", "solve", "check", "judge", "verify"} <= inner_nodes
    assert [next(iter(chunk)) for ns, chunk in updates if not ns] == ["intake", "solve", "report"]

    # The parent's checkpointer holds the parent's state, with the answer mapped into it.
    snapshot = await graph.aget_state(config)
    assert snapshot.values["result"] == "391"
    assert snapshot.values["checked"]  # the node gave the solve a sandbox: the programs ran
    # plan, 2 solvers, the judge's blind check, 1 judge opinion (one distinct answer), 2 solvers of the
    # last round (not judged); no distillation call: every candidate agreed, and contrast distillation
    # learns only from a team that split
    assert snapshot.values["calls"] == len(model.requests) == 7
    assert snapshot.values["log"] == ["got: How many pens in 17 boxes of 23?", "answer: 391"]
    assert snapshot.next == ()
    # The namespace came from the parent state.
    assert store.count(namespace="acme") == 1 and store.count(namespace="default") == 0


async def test_compiled_graph_added_directly_as_a_node() -> None:
    # The other way: the compiled graph itself is the node. The parent shares its input/output
    # keys ("problem", "answer") and its runtime context carries the dependencies.
    class Shared(TypedDict, total=False):
        problem: str
        answer: str
        note: str

    model = FunctionModel(reply, name="function")
    cfg = XolverConfig(agents=1, rounds=0, memory_mode="off")
    builder = StateGraph(Shared, context_schema=SolveContext)
    builder.add_node("xolver", build_graph())
    builder.add_node("note", lambda s: {"note": f"solved: {s['answer']}"})
    builder.add_edge(START, "xolver")
    builder.add_edge("xolver", "note")
    builder.add_edge("note", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    context = SolveContext(model=model, config=cfg, budget=Budget())
    config: Any = {"configurable": {"thread_id": "t2"}}
    seen = [
        event
        async for _, mode, event in graph.astream(
            {"problem": "How many pens in 17 boxes of 23?"},
            config=config,
            context=context,
            stream_mode=["custom"],
            subgraphs=True,
        )
        if mode == "custom"
    ]
    assert any(isinstance(e, Verified) and e.answer == "391" for e in seen)
    assert (await graph.aget_state(config)).values["note"] == "solved: 391"


def test_langchain_tool_sync_and_async() -> None:
    model = FunctionModel(reply, name="function")
    tool = as_tool(Xolver(model, agents=1, rounds=0, memory=None))
    assert tool.name == "xolver_solve"
    assert set(tool.args) == {"problem"}
    assert tool.invoke({"problem": "How many pens in 17 boxes of 23?"}) == "391"

    # Called the way an agent calls it: a ToolCall in, a ToolMessage with the Solution as artifact out.
    call = ToolCall(
        name="xolver_solve", args={"problem": "How many pens in 17 boxes of 23?"}, id="call-1", type="tool_call"
    )
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.content == "391" and message.tool_call_id == "call-1"
    assert isinstance(message.artifact, Solution) and message.artifact.usage.totals.calls == 3


async def test_langchain_tool_async() -> None:
    model = FunctionModel(reply, name="function")
    tool = as_tool(Xolver(model, agents=1, rounds=0, memory=None), name="solver")
    assert await tool.ainvoke({"problem": "How many pens in 17 boxes of 23?"}) == "391"
    call = ToolCall(name="solver", args={"problem": "How many pens in 17 boxes of 23?"}, id="c2", type="tool_call")
    message = await tool.ainvoke(call)
    assert isinstance(message, ToolMessage) and message.content == "391"
    assert len(model.requests) == 6
