"""The ``xolver serve`` and ``xolver mcp`` commands.

    xolver serve                                   # OpenAI-compatible endpoint on 127.0.0.1:8000
    xolver serve --model openai/gpt-4o-mini --api-key s3cret --port 9000
    xolver mcp                                     # MCP server on stdio (for Claude Desktop, IDEs)
    xolver mcp --http --port 8765                  # MCP over streamable HTTP

This module is imported on every ``xolver`` start, so it imports nothing heavy: FastAPI, uvicorn,
the MCP SDK and LangGraph load inside the handlers.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, cast

from xolver.argtypes import non_negative_int, positive_float, positive_int

__all__ = ["register"]

_SERVE_EPILOG = """\
examples:
  xolver serve
  xolver serve --model openai/gpt-4o-mini --api-key "$XOLVER_SERVER_API_KEY"
  xolver serve --model openai/qwen --api-base http://127.0.0.1:8080/v1 --port 9000
  xolver serve --cors-origin http://localhost:3000        # a browser app on that origin may call it

  curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "xolver", "messages": [{"role": "user", "content": "What is 17 * 23?"}],
         "agents": 2, "rounds": 1, "namespace": "alice"}'

--api-key is the key clients must send (Authorization: Bearer KEY); it defaults to
$XOLVER_SERVER_API_KEY. The backbone's provider key is --model-api-key or the provider's
environment variable (OPENAI_API_KEY, ...)."""

_MCP_EPILOG = """\
examples:
  xolver mcp                                      # stdio, the local model
  xolver mcp --model openai/gpt-4o-mini --namespace alice
  xolver mcp --allow-memory-writes                # also offer the memory_add tool
  xolver mcp --http --port 8765                   # streamable HTTP at http://127.0.0.1:8765/mcp

Claude Desktop (claude_desktop_config.json):
  {"mcpServers": {"xolver": {"command": "xolver", "args": ["mcp", "--model", "openai/gpt-4o-mini"]}}}"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in 0..65535, got {value}")
    return value


def _add_memory_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument(
        "--store",
        choices=["chroma", "memory", "none"],
        default="chroma",
        help="experience store: chroma (persistent, default), memory (in-process, forgotten on exit) or none",
    )
    group.add_argument("--memory-path", type=Path, help="chroma folder (default: $XOLVER_HOME/memory)")
    group.add_argument(
        "--embedder", help="sentence-transformers model name or path (default all-MiniLM-L6-v2); 'hash' for tests"
    )
    group.add_argument("--namespace", help="default memory namespace (tenant); requests may name their own")
    group.add_argument(
        "--lock-namespace", action="store_true", help="refuse requests that name another namespace than --namespace"
    )


def register(subparsers: Any) -> None:
    """Add ``serve`` and ``mcp`` to the ``xolver`` command's subparsers."""
    from xolver.cli import add_model_options, add_team_options

    # conflict_handler="resolve": `serve` takes the shared model options, but its --api-key is the
    # key clients must present; the provider key moves to --model-api-key.
    serve = subparsers.add_parser(
        "serve",
        help="serve an OpenAI-compatible chat endpoint",
        description="Serve xolver as an OpenAI-compatible endpoint: POST /v1/chat/completions, GET /v1/models.",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        conflict_handler="resolve",
    )
    serve.set_defaults(handler=_run_serve)
    add_model_options(serve)
    serve.add_argument("--model-api-key", help="API key of the backbone provider (default: its environment variable)")
    add_team_options(serve)
    _add_memory_options(serve)
    http = serve.add_argument_group("server")
    http.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    http.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    http.add_argument(
        "--api-key", help="require 'Authorization: Bearer KEY' on every request (default: $XOLVER_SERVER_API_KEY)"
    )
    http.add_argument("--timeout", type=positive_float, default=600.0, help="seconds per request (default 600)")
    http.add_argument("--max-body", type=positive_int, default=1_000_000, help="largest request body in bytes")
    http.add_argument("--max-agents", type=positive_int, help="largest team a request may ask for")
    http.add_argument("--max-rounds", type=non_negative_int, help="most rounds a request may ask for")
    http.add_argument(
        "--max-n", type=positive_int, default=4, help="largest n (independent team solves) per request (default 4)"
    )
    http.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let browser apps on ORIGIN call the endpoint (repeatable; '*' for any); default: no CORS",
    )
    http.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    mcp = subparsers.add_parser(
        "mcp",
        help="run an MCP server (stdio or streamable HTTP) with solve and memory tools",
        description="Run an MCP server with the tools solve, memory_search and (with a flag) memory_add.",
        epilog=_MCP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mcp.set_defaults(handler=_run_mcp)
    add_model_options(mcp)
    add_team_options(mcp)
    _add_memory_options(mcp)
    mcp.add_argument("--allow-memory-writes", action="store_true", help="offer the memory_add tool (off by default)")
    transport = mcp.add_argument_group("transport")
    transport.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    transport.add_argument("--host", default="127.0.0.1", help="HTTP interface to bind (default 127.0.0.1)")
    transport.add_argument("--port", type=_port, default=8765, help="HTTP port (default 8765)")


def build_service_store(config: Any, *, store: str, memory_path: Path | None, embedder: str | None) -> Any:
    """The `StoreSpec` of ``--store``, ``--memory-path`` and ``--embedder``; with ``--memory-url`` (or
    ``memory_url`` in the config) every replica shares one memory on that Chroma server."""
    from xolver.memory.stores import StoreBackend, StoreSpec

    url = config.memory_url if store != "none" else None
    backend = "off" if store == "none" else ("chroma" if url else store)
    return StoreSpec(backend=cast(StoreBackend, backend), path=memory_path, url=url, embedder=embedder)


def _service(args: argparse.Namespace, *, provider_key: str | None) -> Any:
    from xolver.cli import config_from_args
    from xolver.server.service import SolveService

    provider_args = argparse.Namespace(**vars(args))
    provider_args.api_key = provider_key
    extra = {"namespace": args.namespace} if args.namespace else {}
    config = config_from_args(provider_args, **extra)
    # Not bound to a namespace: each solve passes its own, so one store serves every tenant.
    store = build_service_store(config, store=args.store, memory_path=args.memory_path, embedder=args.embedder)
    return SolveService(
        config=config,
        memory=store,
        lock_namespace=args.lock_namespace,
        max_agents=getattr(args, "max_agents", None),
        max_rounds=getattr(args, "max_rounds", None),
    )


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from xolver.server.openai_app import ServerSettings, create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = _service(args, provider_key=args.model_api_key)
    api_key = args.api_key or os.environ.get("XOLVER_SERVER_API_KEY") or None
    settings = ServerSettings(
        api_key=api_key,
        max_body_bytes=args.max_body,
        request_timeout=args.timeout,
        max_choices=args.max_n,
        cors_origins=tuple(args.cors_origin),
    )
    app = create_app(service, settings)
    log = logging.getLogger("xolver.server")
    # Says whether a key is required, never the key itself.
    log.info(
        "serving model %r on http://%s:%d/v1 (authentication %s)",
        service.model.name,
        args.host,
        args.port,
        "on" if api_key else "off",
    )
    if args.host not in {"127.0.0.1", "localhost", "::1"} and not api_key:
        log.warning("listening on %s without --api-key: anyone who can reach it can spend your model budget", args.host)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=True)
    finally:
        service.close()
    return 0


def _run_mcp(args: argparse.Namespace) -> int:
    from xolver.server.mcp_server import create_mcp_server

    # stdout is the protocol channel on stdio: logs go to stderr only.
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    service = _service(args, provider_key=args.api_key)
    server = create_mcp_server(service, allow_memory_writes=args.allow_memory_writes)
    if args.http and args.host not in {"127.0.0.1", "localhost", "::1"}:
        logging.getLogger("xolver.server").warning(
            "MCP over HTTP has no authentication; listening on %s lets anyone who can reach it solve", args.host
        )
    try:
        if args.http:
            server.run("streamable-http", host=args.host, port=args.port)
        else:
            server.run("stdio")
    finally:
        service.close()
    return 0
