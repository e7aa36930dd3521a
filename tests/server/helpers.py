"""A real uvicorn server on 127.0.0.1 (random port) in a background thread, and test models."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from tests._support.scripts import PLAN, program, solved, verdict, wants_program
from xolver.models.base import ModelRequest


@contextmanager
def running(app: Any, *, lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """Serve `app` with uvicorn; yields the base URL ``http://127.0.0.1:<port>/v1``.

    ``lifespan="on"`` runs the app's startup (the MCP SDK's HTTP app starts its session manager there).
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def reply(request: ModelRequest) -> str:
    """Planner, solver and judge replies of a team that gets 17 * 23 right in one round (reasoning
    and the program seat agree, so no judge is called)."""
    role = request.tags.role
    if role == "planner":
        return PLAN
    if wants_program(request):
        return program("391")
    if role == "judge":
        return verdict(1)
    return solved("391")


class Rendezvous:
    """A model whose planner calls wait until `parties` of them are in flight at once.

    If the server solved requests one after another, the first planner call would wait forever
    (and the request time out); so a successful run proves the solves overlapped.
    """

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.in_flight = 0
        self.most_in_flight = 0
        self._all_here: asyncio.Event | None = None

    async def __call__(self, request: ModelRequest) -> str:
        if request.tags.role == "planner":
            if self._all_here is None:  # created on the server's loop
                self._all_here = asyncio.Event()
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            if self.in_flight >= self.parties:
                self._all_here.set()
            await self._all_here.wait()
            self.in_flight -= 1
        return reply(request)


class Stuck:
    """A model whose solver calls never return; it records when they start and are cancelled."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()

    async def __call__(self, request: ModelRequest) -> str:
        if request.tags.role != "solver":
            return reply(request)
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")
