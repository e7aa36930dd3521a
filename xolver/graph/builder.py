"""Assembles the Xolver state machine.

plan -> write_tests (code tasks) -> retrieve -> solve x m (Send) -> collect -> judge x m (Send) -> update_shared
     -> (next round: solve x m | verify) -> write_back -> END
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from langgraph.graph import END, START, StateGraph

from xolver.config import XolverConfig
from xolver.graph import nodes
from xolver.graph.routing import dispatch_solvers, route_after_check, route_after_collect, route_after_update
from xolver.graph.state import SolveContext, SolveState

__all__ = ["build_graph", "graph_builder"]


def graph_builder(config: XolverConfig) -> StateGraph[Any, Any, Any, Any]:
    """The uncompiled `StateGraph` for `config` (routing depends on the team size and rounds)."""
    g: StateGraph[Any, Any, Any, Any] = StateGraph(SolveState, context_schema=SolveContext)
    g.add_node("plan", nodes.plan)
    g.add_node("write_tests", nodes.write_tests)
    g.add_node("retrieve", nodes.retrieve)
    # Send-target nodes take their own task type, which StateGraph's typing cannot express.
    g.add_node("solve", cast(Any, nodes.solve))
    g.add_node("collect", nodes.collect)
    g.add_node("check", nodes.check)
    g.add_node("judge", cast(Any, nodes.judge))
    g.add_node("update_shared", nodes.update_shared_memory)
    g.add_node("verify", nodes.verify)
    g.add_node("write_back", nodes.write_back)
    g.add_edge(START, "plan")
    g.add_edge("plan", "write_tests")
    g.add_edge("write_tests", "retrieve")
    g.add_conditional_edges("retrieve", partial(dispatch_solvers, cfg=config), ["solve"])
    g.add_edge("solve", "collect")
    g.add_conditional_edges("collect", partial(route_after_collect, cfg=config), ["check", "judge", "update_shared"])
    g.add_conditional_edges("check", partial(route_after_check, cfg=config), ["judge", "update_shared"])
    g.add_edge("judge", "update_shared")
    g.add_conditional_edges("update_shared", partial(route_after_update, cfg=config), ["solve", "verify"])
    g.add_edge("verify", "write_back")
    g.add_edge("write_back", END)
    return g


def build_graph(config: XolverConfig | None = None, *, checkpointer: Any = None) -> Any:
    """The compiled Xolver graph.

    Input ``{"problem": str}``; run it with ``context=SolveContext(...)``. The output state holds
    ``answer``, ``shared``, ``rounds_done``, ``calls`` and ``stop_reason``.
    """
    return graph_builder(config or XolverConfig()).compile(checkpointer=checkpointer)
