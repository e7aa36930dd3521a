"""``xolver mcp`` by the specification, through the SDK's own client: in-process and over streamable HTTP.

The stdio transport (a real ``python -m xolver mcp`` child) is tested in test_mcp.py.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent, TextResourceContents

from tests.server.helpers import reply, running
from xolver.config import XolverConfig
from xolver.events import Event, RolesPlanned, RoundFinished, SolveFinished, SolveStarted
from xolver.memory import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord
from xolver.models.testing import FunctionModel
from xolver.server.mcp_server import MAX_ANSWER_CHARS, MAX_PROBLEM_CHARS, MAX_SOLUTION_CHARS, create_mcp_server
from xolver.server.progress import SolveProgress
from xolver.server.service import SolveService
from xolver.solution import Solution

PROBLEM = "What is 17 * 23?"
# No early stop and the paper's refinement: every round runs and the judge gives its opinions.
EVERY_ROUND = {"early_stop": False, "later_rounds": "refine", "judge_opinions": "always"}


def _service(*, memory: bool = True, **config: Any) -> SolveService:
    cfg = XolverConfig(**{"agents": 2, "rounds": 2, "memory_mode": "learn" if memory else "off", **config})
    store = InMemoryExperienceStore() if memory else None
    return SolveService(FunctionModel(reply), config=cfg, memory=store, max_agents=4, max_rounds=3)


Note = tuple[float, float | None, str | None]


async def _solve(client: Client, **arguments: Any) -> tuple[dict[str, Any], list[Note]]:
    notes: list[Note] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    result = await client.call_tool("solve", {"problem": PROBLEM, **arguments}, progress_callback=on_progress)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content, notes


def _assert_monotonic(notes: list[Note], total: float) -> None:
    values = [n[0] for n in notes]
    assert len(values) > 3
    assert all(b > a for a, b in itertools.pairwise(values)), values
    assert {n[1] for n in notes} == {total}
    assert values[0] == 0.0 and values[-1] == total
    assert (notes[-1][2] or "").startswith("Answer: 391")


@pytest.mark.parametrize(("config", "total"), [(EVERY_ROUND, 5.0), ({}, 5.0)])
async def test_progress_increases_with_a_stable_total(config: dict[str, Any], total: float) -> None:
    # Every round (3 rounds: a total of 5), and an early stop after the first round (same total, a jump to it).
    async with Client(create_mcp_server(_service(**config))) as client:
        data, notes = await _solve(client)
    assert data["answer"] == "391"
    _assert_monotonic(notes, total)
    if not config:
        assert data["stop_reason"] == "agreement" and not any("Round 2" in (n[2] or "") for n in notes)


def test_solve_progress_never_goes_back_on_stragglers() -> None:
    progress = SolveProgress(rounds=2)
    events: list[Event] = [
        SolveStarted(problem="p", model="m", agents=1, rounds=2),
        RoundFinished(round=1, best_score=None),
        RoundFinished(round=0, best_score=None),  # a straggler from an earlier stage
        RolesPlanned(roles=[]),
        *[RoundFinished(round=1, best_score=None) for _ in range(2000)],  # more events than floats can split
        SolveFinished(solution=Solution(problem="p", answer="1")),
    ]
    values = [v for v in (progress.advance(e) for e in events) if v is not None]
    assert all(b > a for a, b in itertools.pairwise(values)) and values[-1] == progress.total == 4.0
    assert all(v < 3 for v in values[:-1])


async def test_every_parameter_is_described_and_bounded_and_tools_are_annotated() -> None:
    async with Client(create_mcp_server(_service(), allow_memory_writes=True)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"solve", "memory_search", "memory_add"}
    for tool in tools.values():
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"
    solve = tools["solve"].input_schema["properties"]
    agents = next(s for s in solve["agents"]["anyOf"] if s.get("type") == "integer")
    rounds = next(s for s in solve["rounds"]["anyOf"] if s.get("type") == "integer")
    assert (agents["minimum"], agents["maximum"]) == (1, 4)  # the server's --max-agents
    assert (rounds["minimum"], rounds["maximum"]) == (0, 3)
    assert solve["problem"]["minLength"] == 1
    k = tools["memory_search"].input_schema["properties"]["k"]
    assert (k["minimum"], k["maximum"]) == (1, 50)
    # Every string has a length bound, and the long texts have theirs.
    lengths = {}
    for tool in tools.values():
        for name, schema in tool.input_schema["properties"].items():
            for string in [s for s in [schema, *schema.get("anyOf", [])] if s.get("type") == "string"]:
                assert "maxLength" in string or "enum" in string, f"{tool.name}.{name} has no maxLength"
                lengths[f"{tool.name}.{name}"] = string.get("maxLength")
    assert lengths == {
        "solve.problem": MAX_PROBLEM_CHARS,
        "solve.namespace": 200,
        "memory_search.query": MAX_PROBLEM_CHARS,
        "memory_search.kind": None,  # an enum
        "memory_search.namespace": 200,
        "memory_add.text": MAX_PROBLEM_CHARS,
        "memory_add.kind": None,
        "memory_add.solution": MAX_SOLUTION_CHARS,
        "memory_add.answer": MAX_ANSWER_CHARS,
        "memory_add.code": MAX_SOLUTION_CHARS,
        "memory_add.domain": 100,
        "memory_add.namespace": 200,
    }
    assert MAX_PROBLEM_CHARS == 20_000

    hints = {
        name: (t.annotations.read_only_hint, t.annotations.destructive_hint, t.annotations.idempotent_hint)
        for name, t in tools.items()
        if t.annotations is not None
    }
    assert hints == {
        "solve": (False, False, False),  # writes verified solves back to memory (memory_mode learn)
        "memory_search": (True, False, True),
        "memory_add": (False, False, True),  # a duplicate is not added twice
    }

    async with Client(create_mcp_server(_service(memory=False))) as client:
        (solve_tool,) = [t for t in (await client.list_tools()).tools if t.name == "solve"]
    assert solve_tool.annotations is not None and solve_tool.annotations.read_only_hint is True


async def test_out_of_bounds_arguments_are_refused() -> None:
    service = _service()
    async with Client(create_mcp_server(service, allow_memory_writes=True)) as client:
        result = await client.call_tool("solve", {"problem": PROBLEM, "agents": 9})
        assert result.is_error and "less than or equal to 4" in str(result.content)
        too_long = await client.call_tool("solve", {"problem": "x" * (MAX_PROBLEM_CHARS + 1)})
        assert too_long.is_error and f"at most {MAX_PROBLEM_CHARS} characters" in str(too_long.content)
        written = await client.call_tool("memory_add", {"text": "a strategy", "answer": "1" * (MAX_ANSWER_CHARS + 1)})
        assert written.is_error and f"at most {MAX_ANSWER_CHARS} characters" in str(written.content)
    model = service.model
    assert isinstance(model, FunctionModel) and model.requests == []  # refused before any solve
    assert service.memory is not None and service.memory.count() == 0


async def test_resources_are_real_recent_solutions_memory_counts_and_records() -> None:
    service = _service()
    async with Client(create_mcp_server(service)) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert uris == {"xolver://solutions/recent", "xolver://memory/stats"}
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert templates == ["xolver://memory/{namespace}/{record_id}"]

        def text(contents: Any) -> Any:
            (content,) = contents.contents
            assert isinstance(content, TextResourceContents) and content.mime_type == "application/json"
            return json.loads(content.text)

        assert text(await client.read_resource("xolver://solutions/recent")) == []
        await _solve(client, namespace="alice")
        (recent,) = text(await client.read_resource("xolver://solutions/recent"))
        assert recent["problem"] == PROBLEM and recent["answer"] == "391" and recent["namespace"] == "alice"

        stats = text(await client.read_resource("xolver://memory/stats"))
        assert stats["by_namespace"] == {"alice": 1}

        hits = await client.call_tool("memory_search", {"query": "17 * 23", "namespace": "alice"})
        assert hits.structured_content is not None
        record_id = hits.structured_content["result"][0]["id"]
        record = text(await client.read_resource(f"xolver://memory/alice/{record_id}"))
        assert record["answer"] == "391" and record["namespace"] == "alice"
        with pytest.raises(Exception, match="no record"):
            await client.read_resource(f"xolver://memory/bob/{record_id}")


async def test_prompts_are_real() -> None:
    async with Client(create_mcp_server(_service())) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"solve_problem", "recall"}
        assert all(a.description for p in prompts.values() for a in p.arguments or [])
        got = await client.get_prompt("solve_problem", {"problem": PROBLEM})
        (message,) = got.messages
        assert message.role == "user" and isinstance(message.content, TextContent)
        assert "`solve` tool" in message.content.text and PROBLEM in message.content.text
    async with Client(create_mcp_server(_service(memory=False))) as client:
        assert [p.name for p in (await client.list_prompts()).prompts] == ["solve_problem"]
        assert [str(r.uri) for r in (await client.list_resources()).resources] == ["xolver://solutions/recent"]


async def test_streamable_http_with_the_sdk_client() -> None:
    store = InMemoryExperienceStore([ExperienceRecord(text="Multiply by splitting 23 = 20 + 3", kind="strategy")])
    cfg = XolverConfig(agents=2, rounds=2, memory_mode="off", **EVERY_ROUND)
    server = create_mcp_server(SolveService(FunctionModel(reply), config=cfg, memory=store))
    with running(server.streamable_http_app(), lifespan="on") as url:
        async with Client(url.removesuffix("/v1") + "/mcp", read_timeout_seconds=60) as client:
            assert {t.name for t in (await client.list_tools()).tools} == {"solve", "memory_search"}
            data, notes = await _solve(client)
            hits = await client.call_tool("memory_search", {"query": "multiply", "kind": "strategy"})
    assert data["answer"] == "391" and data["checked"]
    _assert_monotonic(notes, 5.0)
    assert hits.structured_content is not None and len(hits.structured_content["result"]) == 1
