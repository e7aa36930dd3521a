"""``xolver mcp`` over stdio, through the MCP SDK's own client.

The server is a real child process (``python -m xolver mcp``) whose backbone is a fake
OpenAI-compatible server on 127.0.0.1, so the whole path (CLI, litellm, MCP) runs without network.
"""

from __future__ import annotations

import itertools
import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import respond_391

pytestmark = pytest.mark.slow


def _server(api_base: str, *extra: str) -> StdioServerParameters:
    args = ["-m", "xolver", "mcp", "--model", "openai/tiny", "--api-base", api_base, "--api-key", "test-key"]
    env = {**os.environ, "XOLVER_ALLOW_MODEL_REQUESTS": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return StdioServerParameters(command=sys.executable, args=[*args, *extra], env=env)


async def test_list_and_call_solve_and_search_memory() -> None:
    with fake_openai_server(respond_391) as (base, requests):
        params = _server(base, "--store", "chroma", "--embedder", "hash", "--agents", "2", "--rounds", "1")
        async with Client(params, read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"solve", "memory_search"}  # memory_add needs --allow-memory-writes
            assert {"problem", "agents", "rounds", "namespace"} <= set(tools["solve"].input_schema["properties"])
            assert tools["solve"].input_schema["properties"]["problem"]["maxLength"] == 20_000  # as advertised

            notes: list[str] = []
            values: list[tuple[float, float | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                notes.append(message or "")
                values.append((progress, total))

            result = await client.call_tool(
                "solve",
                {"problem": "What is 17 * 23?", "agents": 1, "namespace": "alice"},
                progress_callback=on_progress,
            )
            assert not result.is_error, result.content
            data = result.structured_content
            assert data is not None
            assert data["answer"] == "391"
            assert data["namespace"] == "alice"
            assert data["trace"][0] == "team: Calculator"
            # planner and one (reasoning) solver, whose answer the exact arithmetic check confirms: no
            # blind check, no judge opinion, no second round, and no distillation (contrast
            # distillation learns only from disagreement)
            assert data["calls"] == len(requests) == 2
            assert data["stop_reason"] == "agreement" and data["checked"] and data["check"]
            assert notes[-1].startswith("Answer: 391 (from ") and "Checked: " in notes[-1]
            # The specification: progress increases with every notification; the total stays (2 rounds + 2).
            assert all(b[0] > a[0] for a, b in itertools.pairwise(values)), values
            assert {t for _, t in values} == {4.0} and values[-1][0] == 4.0
            assert all(r["_auth"] == "Bearer test-key" for r in requests)

            # The verified solve was written back to alice's memory, and only hers.
            hits = await client.call_tool("memory_search", {"query": "17 * 23", "namespace": "alice"})
            found = hits.structured_content
            assert found is not None and [h["answer"] for h in found["result"]] == ["391"]
            other = await client.call_tool("memory_search", {"query": "17 * 23", "kind": "problem"})
            assert other.structured_content == {"result": []}

            bad = await client.call_tool("memory_search", {"query": "x", "k": 0})
            assert bad.is_error and "greater than or equal to 1" in str(bad.content)  # the schema's bound


async def test_memory_add_only_behind_the_flag() -> None:
    with fake_openai_server(respond_391) as (base, requests):
        params = _server(base, "--store", "memory", "--allow-memory-writes", "--namespace", "team")
        async with Client(params, read_timeout_seconds=120) as client:
            assert "memory_add" in {t.name for t in (await client.list_tools()).tools}
            added = await client.call_tool(
                "memory_add", {"text": "Multiply by splitting: 17 * 23 = 17 * 20 + 17 * 3.", "kind": "strategy"}
            )
            assert added.structured_content is not None
            assert added.structured_content["namespace"] == "team"
            assert len(added.structured_content["written"]) == 1
            hits = await client.call_tool("memory_search", {"query": "multiply splitting", "kind": "strategy"})
            assert hits.structured_content is not None
            assert [h["kind"] for h in hits.structured_content["result"]] == ["strategy"]
    assert requests == []
