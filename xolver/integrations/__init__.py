"""Embedding xolver in other agent stacks.

- `xolver.integrations.langchain.as_tool`: a LangChain tool (sync and async) any LangChain or
  LangGraph agent can call.
- `xolver.integrations.langgraph.xolver_node`: the Xolver graph as a node of your own
  `StateGraph`, with your state, your checkpointer, and its events streamed through your graph.

Each module imports its framework only when imported itself; this package imports nothing.
"""

from __future__ import annotations

__all__: list[str] = []
