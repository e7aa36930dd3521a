"""The Xolver method as a LangGraph state machine."""

from xolver.graph.builder import build_graph, graph_builder
from xolver.graph.state import SolveContext, SolveState

__all__ = ["SolveContext", "SolveState", "build_graph", "graph_builder"]
