"""Serving xolver to other programs: an OpenAI-compatible HTTP endpoint and an MCP server.

Importing this package is cheap (the ``xolver`` command imports `xolver.server.cli` on every start).
LangGraph, FastAPI, uvicorn and the MCP SDK load only when one of the names below is used:

- `create_app`: the OpenAI-compatible FastAPI application (`xolver.server.openai_app`).
- `create_mcp_server`: the MCP server (`xolver.server.mcp_server`).
- `SolveService`, `SolveOptions`: the model, store and config shared by requests (a `StoreSpec` names
  the store to open).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from xolver.server.mcp_server import create_mcp_server
    from xolver.server.openai_app import ServerSettings, create_app
    from xolver.server.service import SolveOptions, SolveService, StoreSpec

__all__ = ["ServerSettings", "SolveOptions", "SolveService", "StoreSpec", "create_app", "create_mcp_server"]

_LAZY = {
    "ServerSettings": "xolver.server.openai_app",
    "create_app": "xolver.server.openai_app",
    "create_mcp_server": "xolver.server.mcp_server",
    "SolveOptions": "xolver.server.service",
    "SolveService": "xolver.server.service",
    "StoreSpec": "xolver.server.service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xolver.server' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
