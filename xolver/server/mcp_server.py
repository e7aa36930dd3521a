"""The MCP server (official ``mcp`` SDK, v2 `MCPServer`), by the specification.

Tools: ``solve``, ``memory_search`` and ``memory_add``; every parameter has a description and its
bounds in the input schema, and every tool carries annotations (``solve`` may write verified
experience back to memory, ``memory_search`` only reads, ``memory_add`` writes). ``memory_add`` is
only offered when writes are allowed (``xolver mcp --allow-memory-writes``): a host's model should
not be able to fill a shared memory unless the operator says so. Every tool takes an optional
``namespace``; the server's default namespace (``--namespace``) applies when it is left out, and
``--lock-namespace`` refuses any other.

``solve`` reports progress with a total fixed when it starts and values that only increase
(`SolveProgress`). Resources are real: the solves this server finished (``xolver://solutions/recent``),
the memory's counts (``xolver://memory/stats``) and any memory record by namespace and id; the
prompts ``solve_problem`` and ``recall`` ask the host's model to use the tools.

No ``from __future__ import annotations`` here: the SDK reads the tools' signatures at run time,
and their bounds (the server's limits) are local values that a string annotation could not see.
"""

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from xolver._version import __version__
from xolver.errors import XolverError
from xolver.events import SolveFinished
from xolver.memory.records import ExperienceRecord
from xolver.server.progress import SolveProgress, describe_event, short_trace
from xolver.server.service import SolveOptions, SolveService
from xolver.solution import Solution

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_PROBLEM_CHARS",
    "MAX_SOLUTION_CHARS",
    "MemoryHit",
    "SolveResult",
    "create_mcp_server",
]

RECENT_SOLUTIONS = 20

# The longest strings the tools take, in characters (advertised as maxLength, and enforced). A
# problem or record of 20,000 characters is already a long competition statement or a full worked
# solution; a longer one is more likely a runaway paste than a problem, and every role's prompt
# repeats it.
MAX_PROBLEM_CHARS = 20_000
"""`solve`'s problem, the text searched for, a stored record's text (and the prompts' arguments)."""
MAX_SOLUTION_CHARS = 50_000
"""A stored worked solution or code fragment."""
MAX_ANSWER_CHARS = 2_000
"""A stored final answer."""
"""Finished solves the ``xolver://solutions/recent`` resource lists (the most recent)."""

Kind = Literal["problem", "strategy", "code"]

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
    """An MCP server exposing `service` as tools, resources and prompts.

    Args:
        service: the model, memory and config every tool call shares.
        allow_memory_writes: also register ``memory_add``.

    Example:
        >>> server = create_mcp_server(service)
        >>> server.run("stdio")  # or server.run("streamable-http", host="127.0.0.1", port=8765)
    """
    server: MCPServer[Any] = MCPServer("xolver", instructions=_INSTRUCTIONS, version=__version__)
    max_agents = service.max_agents or 16
    max_rounds = service.max_rounds if service.max_rounds is not None else 20
    recent: deque[dict[str, Any]] = deque(maxlen=RECENT_SOLUTIONS)
    learns = service.config.memory_mode == "learn" and service.memory is not None
    namespace_doc = f"Memory namespace (tenant) to use; default {service.config.namespace!r}" + (
        " (the only one this server serves)." if service.lock_namespace else "."
    )
    Namespace = Annotated[str | None, Field(min_length=1, max_length=200, description=namespace_doc)]

    @server.tool(
        description="Solve a problem with a team of agents and return the answer, whether an executed check "
        "agreed with it, and a short trace. Reports progress while the team works. "
        + ("Verified solutions are written back to the experience memory." if learns else ""),
        annotations=ToolAnnotations(
            title="Solve with a team of agents",
            read_only_hint=not learns,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    async def solve(
        problem: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_PROBLEM_CHARS,
                description="The full problem statement, with everything needed to solve it.",
            ),
        ],
        ctx: Context,
        agents: Annotated[
            int | None,
            Field(ge=1, le=max_agents, description=f"Solver agents in the team; default {service.config.agents}."),
        ] = None,
        rounds: Annotated[
            int | None,
            Field(
                ge=0,
                le=max_rounds,
                description=f"Rounds after the first, run while the agents disagree; default {service.config.rounds}.",
            ),
        ] = None,
        namespace: Namespace = None,
    ) -> SolveResult:
        with _reported():
            xolver = service.xolver(SolveOptions(agents=agents, rounds=rounds, namespace=namespace))
            progress = SolveProgress(xolver.config.total_rounds)
            solution: Solution | None = None
            async for event in xolver.astream(problem):
                if isinstance(event, SolveFinished):
                    solution = event.solution
                line = describe_event(event)
                if line is None:
                    continue
                value = progress.advance(event)
                if value is not None:
                    await ctx.report_progress(value, progress.total, line)
        if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
            raise ToolError("the solve ended without a solution")
        totals = solution.usage.totals
        result = SolveResult(
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
        recent.appendleft({"problem": problem, **result.model_dump()})
        return result

    @server.tool(
        description="Search the experience memory: past solved problems, strategies and code fragments.",
        annotations=ToolAnnotations(
            title="Search the experience memory",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def memory_search(
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_PROBLEM_CHARS,
                description="What to look for, in words (a problem, a method).",
            ),
        ],
        kind: Annotated[Kind | None, Field(description="Only records of this kind; default all kinds.")] = None,
        k: Annotated[int, Field(ge=1, le=50, description="Number of hits to return.")] = 5,
        namespace: Namespace = None,
    ) -> list[MemoryHit]:
        store = service.memory
        if store is None:
            raise ToolError("this server runs without an experience memory")
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
            description="Add a record to the experience memory (a duplicate of a stored record is not added again).",
            annotations=ToolAnnotations(
                title="Add to the experience memory",
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        )
        async def memory_add(
            text: Annotated[
                str,
                Field(
                    min_length=1,
                    max_length=MAX_PROBLEM_CHARS,
                    description="kind 'problem': the problem; 'strategy': a reusable reasoning pattern; "
                    "'code': what the fragment does.",
                ),
            ],
            kind: Annotated[Kind, Field(description="What the record is.")] = "strategy",
            solution: Annotated[
                str, Field(max_length=MAX_SOLUTION_CHARS, description="For a problem: its verified worked solution.")
            ] = "",
            answer: Annotated[
                str, Field(max_length=MAX_ANSWER_CHARS, description="For a problem: its verified final answer.")
            ] = "",
            code: Annotated[
                str, Field(max_length=MAX_SOLUTION_CHARS, description="For kind 'code': the fragment itself.")
            ] = "",
            domain: Annotated[
                str, Field(min_length=1, max_length=100, description="Subject area, e.g. 'algebra', 'graphs'.")
            ] = "general",
            namespace: Namespace = None,
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

    @server.resource(
        "xolver://solutions/recent",
        name="recent_solutions",
        title="Recent solutions",
        description=f"The last {RECENT_SOLUTIONS} solves this server finished, newest first: problem, answer, "
        "whether a check agreed, trace.",
        mime_type="application/json",
    )
    def recent_solutions() -> str:
        return json.dumps(list(recent), ensure_ascii=False)

    if service.memory is not None:

        @server.resource(
            "xolver://memory/stats",
            name="memory_stats",
            title="Experience memory counts",
            description="How many records the experience memory holds, by kind, namespace, domain and source.",
            mime_type="application/json",
        )
        async def memory_stats() -> str:
            store = service.memory
            assert store is not None
            ns = None if not service.lock_namespace else service.config.namespace
            stats = await asyncio.to_thread(store.stats, namespace=ns)
            return stats.model_dump_json()

        @server.resource(
            "xolver://memory/{namespace}/{record_id}",
            name="memory_record",
            title="An experience record",
            description="One record of the experience memory, by namespace and id (ids come from memory_search).",
            mime_type="application/json",
        )
        async def memory_record(namespace: str, record_id: str) -> str:
            store = service.memory
            assert store is not None
            try:
                ns = service.namespace(namespace)
            except XolverError as e:
                raise ResourceError(str(e)) from e
            found = [r for r in await asyncio.to_thread(store.get, [record_id]) if r.namespace == ns]
            if not found:
                raise ResourceError(f"no record {record_id!r} in namespace {ns!r}")
            return found[0].model_dump_json()

    @server.prompt(
        name="solve_problem",
        title="Solve with xolver",
        description="Ask for a problem to be solved by the xolver team and the result explained.",
    )
    def solve_problem(
        problem: Annotated[str, Field(max_length=MAX_PROBLEM_CHARS, description="The full problem statement.")],
    ) -> str:
        return (
            "Solve the following problem with the xolver `solve` tool, passing the full statement. Then give "
            "the answer, say whether an executed check agreed with it (the `checked` and `check` fields), and "
            f"summarise the trace in a sentence or two.\n\nProblem:\n{problem}"
        )

    if service.memory is not None:

        @server.prompt(
            name="recall",
            title="Recall past experience",
            description="Ask for what the experience memory knows about a topic.",
        )
        def recall(
            topic: Annotated[
                str, Field(max_length=MAX_PROBLEM_CHARS, description="The topic or kind of problem to recall.")
            ],
        ) -> str:
            return (
                "Search the xolver experience memory with the `memory_search` tool for past problems, strategies "
                f"and code fragments about: {topic}\n\nList what is relevant, most useful first, and say how "
                "each could help."
            )

    return server
