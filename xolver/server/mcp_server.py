"""The MCP server (official ``mcp`` SDK, v2 `MCPServer`): tools ``solve``, ``memory_search``, ``memory_add``.

``memory_add`` is only offered when writes are allowed (``xolver mcp --allow-memory-writes``): a
host's model should not be able to fill a shared memory unless the operator says so. Every tool
takes an optional ``namespace``; the server's default namespace (``--namespace``) applies when it
is left out, and ``--lock-namespace`` refuses any other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from xolver._version import __version__
from xolver.errors import XolverError
from xolver.events import SolveFinished
from xolver.memory.records import ExperienceRecord
from xolver.server.progress import describe_event, short_trace
from xolver.server.service import SolveOptions, SolveService
from xolver.solution import Solution

__all__ = ["MemoryHit", "SolveResult", "create_mcp_server"]

_INSTRUCTIONS = """\
xolver solves hard reasoning problems (math, logic, code) with a team of LLM agents that answer in
parallel, are scored by a judge, refine over rounds, and draw on a memory of past solved problems.
Call `solve` with the full problem statement; it returns the team's final answer, whether an
executed check (a program, a SymPy substitution, tests) agreed with it, and a short trace. Use
`memory_search` to look up past problems, strategies and code fragments."""


class SolveResult(BaseModel):
    """What the ``solve`` tool returns."""

    answer: str = Field(description="The team's final answer ('' when none could be extracted).")
    checked: bool = Field(
        False, description="Whether an executed check agreed with the answer (never a mere agreement of words)."
    )
    check: str = Field("", description="Which check agreed and how, e.g. the judge's blind program printed it.")
    trace: list[str] = Field(description="How the answer was reached: team, scores per round, stop reason.")
    stop_reason: str
    namespace: str
    calls: int = Field(description="Model calls the solve made.")
    prompt_tokens: int
    completion_tokens: int
    cost: float = Field(description="US dollars, 0 when the provider's prices are unknown.")


class MemoryHit(BaseModel):
    """One ``memory_search`` result."""

    id: str
    kind: str
    score: float
    text: str
    solution: str = ""
    answer: str = ""
    code: str = ""


class MemoryWriteResult(BaseModel):
    """What the ``memory_add`` tool returns."""

    written: list[str] = Field(description="Ids of the records stored; empty when it was a duplicate.")
    namespace: str


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Turn our errors into tool errors, whose message the calling model sees.

    Other exceptions stay crashes: the SDK logs them and shows the client only a generic message.
    """
    try:
        yield
    except XolverError as e:
        raise ToolError(str(e)) from e


def create_mcp_server(service: SolveService, *, allow_memory_writes: bool = False) -> MCPServer[Any]:
    """An MCP server exposing `service` as tools.

    Args:
        service: the model, memory and config every tool call shares.
        allow_memory_writes: also register ``memory_add``.

    Example:
        >>> server = create_mcp_server(service)
        >>> server.run("stdio")  # or server.run("streamable-http", host="127.0.0.1", port=8765)
    """
    server: MCPServer[Any] = MCPServer("xolver", instructions=_INSTRUCTIONS, version=__version__)

    @server.tool(
        description="Solve a problem with a team of agents and return the answer, whether an executed check "
        "agreed with it, and a short trace. "
        "agents: team size (default from the server); rounds: refinement rounds after the first; "
        "namespace: whose memory to use."
    )
    async def solve(
        problem: str,
        ctx: Context,
        agents: int | None = None,
        rounds: int | None = None,
        namespace: str | None = None,
    ) -> SolveResult:
        with _reported():
            xolver = service.xolver(SolveOptions(agents=agents, rounds=rounds, namespace=namespace))
            total = xolver.config.total_rounds
            solution: Solution | None = None
            async for event in xolver.astream(problem):
                if isinstance(event, SolveFinished):
                    solution = event.solution
                line = describe_event(event)
                if line is not None:
                    done = getattr(event, "round", None)
                    progress = total if solution is not None else (done + 1 if isinstance(done, int) else 0)
                    await ctx.report_progress(float(progress), float(total), line)
        if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
            raise ToolError("the solve ended without a solution")
        totals = solution.usage.totals
        return SolveResult(
            answer=solution.answer,
            checked=solution.checked,
            check=solution.check,
            trace=short_trace(solution),
            stop_reason=solution.stop_reason,
            namespace=xolver.config.namespace,
            calls=totals.calls,
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            cost=totals.cost,
        )

    @server.tool(
        description="Search the experience memory: past solved problems, strategies and code fragments. "
        "kind: 'problem', 'strategy' or 'code' (default all); k: number of hits (1-50)."
    )
    async def memory_search(
        query: str,
        kind: Literal["problem", "strategy", "code"] | None = None,
        k: int = 5,
        namespace: str | None = None,
    ) -> list[MemoryHit]:
        store = service.memory
        if store is None:
            raise ToolError("this server runs without an experience memory")
        if not 1 <= k <= 50:
            raise ToolError(f"k must be between 1 and 50, got {k}")
        with _reported():
            ns = service.namespace(namespace)
            # Stores are synchronous (disk, embeddings): keep them off the event loop.
            hits = await asyncio.to_thread(store.search, query, k=k, kind=kind, namespace=ns)
        return [
            MemoryHit(
                id=h.record.id,
                kind=h.record.kind,
                score=h.score,
                text=h.record.text,
                solution=h.record.solution,
                answer=h.record.answer,
                code=h.record.code,
            )
            for h in hits
        ]

    if allow_memory_writes:

        @server.tool(
            description="Add a record to the experience memory. kind 'problem': text is the problem, "
            "solution and answer its verified solution; 'strategy': text is a reusable reasoning pattern; "
            "'code': text says what the fragment does, code is the fragment."
        )
        async def memory_add(
            text: str,
            kind: Literal["problem", "strategy", "code"] = "strategy",
            solution: str = "",
            answer: str = "",
            code: str = "",
            domain: str = "general",
            namespace: str | None = None,
        ) -> MemoryWriteResult:
            store = service.memory
            if store is None:
                raise ToolError("this server runs without an experience memory")
            if not text.strip():
                raise ToolError("text must not be empty")
            with _reported():
                ns = service.namespace(namespace)
                record = ExperienceRecord(
                    kind=kind,
                    namespace=ns,
                    domain=domain,
                    text=text.strip(),
                    solution=solution,
                    answer=answer,
                    code=code,
                    source="mcp",
                )
                written = await asyncio.to_thread(store.add, [record])
            return MemoryWriteResult(written=written, namespace=ns)

    return server
