"""Assembles the Xolver state machine.

plan -> write_tests (code tasks) -> retrieve -> solve x m (Send) -> collect -> judge x m (Send) -> update_shared
     -> (next round: solve x m | verify) -> write_back -> END

The graph does not depend on the config: nodes and routing read it at run time from the runtime
context (`SolveContext.config`), so one compiled graph serves every config and every solve.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar, cast

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from xolver.graph import nodes, routing
from xolver.graph.state import SolveContext, SolveState

__all__ = ["build_graph", "graph_builder"]


# Routing is pure (state, config); these read the config the solve runs with. The parameter must be
# called `runtime` for LangGraph to pass it in. They are async so LangGraph calls them in the event
# loop rather than in a worker thread.
async def _dispatch_solvers(state: SolveState, runtime: Runtime[SolveContext]) -> list[Send]:
    return routing.dispatch_solvers(state, runtime.context.config)


async def _after_collect(state: SolveState, runtime: Runtime[SolveContext]) -> list[Send] | str:
    return routing.route_after_collect(state, runtime.context.config)


async def _after_check(state: SolveState, runtime: Runtime[SolveContext]) -> list[Send] | str:
    return routing.route_after_check(state, runtime.context.config)


async def _after_update(state: SolveState, runtime: Runtime[SolveContext]) -> list[Send] | str:
    return routing.route_after_update(state, runtime.context.config)


N = TypeVar("N", bound=Callable[..., Awaitable[dict[str, Any]]])


def _traced(name: str, node: N) -> N:
    """`node` in an ``xolver.step`` span when the solve is traced (`SolveContext.trace`)."""

    @functools.wraps(node)
    async def traced(state: Any, runtime: Runtime[SolveContext]) -> dict[str, Any]:
        trace = runtime.context.trace
        if trace is None:
            return await node(state, runtime)
        with trace.step(name, state):
            update = await node(state, runtime)
        if name == "verify":
            trace.outcome.update({k: update.get(k) for k in ("stop_reason", "checked", "answer_source")})
        return update

    return cast(N, traced)


def graph_builder() -> StateGraph[Any, Any, Any, Any]:
    """The uncompiled `StateGraph` (for a caller that compiles it with its own options)."""
    g: StateGraph[Any, Any, Any, Any] = StateGraph(SolveState, context_schema=SolveContext)
    g.add_node("plan", _traced("plan", nodes.plan))
    g.add_node("write_tests", _traced("write_tests", nodes.write_tests))
    g.add_node("retrieve", _traced("retrieve", nodes.retrieve))
    # Send-target nodes take their own task type, which StateGraph's typing cannot express.
    g.add_node("solve", cast(Any, _traced("solve", nodes.solve)))
    g.add_node("collect", nodes.collect)
    g.add_node("check", _traced("check", nodes.check))
    g.add_node("judge", cast(Any, _traced("judge", nodes.judge)))
    g.add_node("update_shared", _traced("update_shared", nodes.update_shared_memory))
    g.add_node("verify", _traced("verify", nodes.verify))
    g.add_node("write_back", _traced("write_back", nodes.write_back))
    g.add_edge(START, "plan")
    g.add_edge("plan", "write_tests")
    g.add_edge("write_tests", "retrieve")
    g.add_conditional_edges("retrieve", _dispatch_solvers, ["solve"])
    g.add_edge("solve", "collect")
    g.add_conditional_edges("collect", _after_collect, ["check", "judge", "update_shared"])
    g.add_conditional_edges("check", _after_check, ["judge", "update_shared"])
    g.add_edge("judge", "update_shared")
    g.add_conditional_edges("update_shared", _after_update, ["solve", "verify"])
    g.add_edge("verify", "write_back")
    g.add_edge("write_back", END)
    return g


@cache
def _compiled() -> Any:
    return graph_builder().compile()


def build_graph(*, checkpointer: Any = None) -> Any:
    """The compiled Xolver graph, for every config.

    Input ``{"problem": str}``; run it with ``context=SolveContext(...)``, whose config sets the
    team, rounds and everything else. The output state holds ``answer``, ``shared``,
    ``rounds_done``, ``calls`` and ``stop_reason``. The graph is compiled once per process; a
    `checkpointer` is attached to a shallow copy of it (no recompilation). Without one, a graph run
    as a subgraph uses its parent's.
    """
    graph = _compiled()
    return graph if checkpointer is None else graph.copy(update={"checkpointer": checkpointer})
