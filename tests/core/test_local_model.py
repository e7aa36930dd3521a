"""End to end with the real embedded SmolLM2-135M model (llama-cpp-python), through the CLI entry point.

A 135M model is often wrong, so these tests assert structure and completion, not the answer.
They are marked ``local_model``: they skip when the local extra is not installed, unless
XOLVER_REQUIRE_LOCAL_MODEL=1 (set by .ci/run), where a missing model is a failure (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from xolver.cli import main
from xolver.models.base import CallTags, Message, ModelRequest, ModelSettings

# Slow as well, and skipped (or failed under XOLVER_REQUIRE_LOCAL_MODEL=1) without the local
# extra: tests/conftest.py.
pytestmark = pytest.mark.local_model


async def test_local_model_answers_and_serialises_concurrent_calls() -> None:
    from xolver.models.local import LlamaCppModel

    model = LlamaCppModel(max_tokens=24)
    try:
        request = ModelRequest(
            messages=[Message("user", "Say hello.")],
            settings=ModelSettings(temperature=0.0, max_tokens=16, seed=1),
            tags=CallTags(role="solver"),
        )
        # Three concurrent callers on one llama.cpp context: all must come back intact.
        responses = await asyncio.gather(*(model.complete(request) for _ in range(3)))
        assert all(r.text.strip() for r in responses)
        # (Texts may differ slightly: llama.cpp reuses the cached prompt prefix between calls.)
        assert all(0 < r.usage.completion_tokens <= 16 for r in responses)
        assert all(r.cost == 0.0 and r.usage.completion_tokens > 0 for r in responses)
        assert model.name == "local/SmolLM2-135M-Instruct.Q4_1"
        pieces: list[str] = []
        streamed = await model.complete_streaming(request, pieces.append)
        assert len(pieces) > 1 and "".join(pieces) == streamed.text
        assert streamed.usage.completion_tokens == len(pieces) and streamed.usage.prompt_tokens > 0
    finally:
        model.close()
        model.close()  # idempotent


def test_cli_solve_on_the_local_model(capsys: pytest.CaptureFixture[str]) -> None:
    # A small team and short replies keep this under a minute on 2 cores; the default team is the
    # same code path with more calls.
    code = main(["solve", "What is 17 * 23?", "--json", "--agents", "2", "--rounds", "1", "--max-tokens", "96"])
    out, err = capsys.readouterr()
    assert code == 0, err
    solution = json.loads(out)
    assert solution["model"].startswith("local/")
    assert len(solution["roles"]) == 2
    assert 1 <= len(solution["rounds"]) <= 2
    assert solution["stop_reason"] in {"agreement", "max_rounds"}
    calls = solution["usage"]["calls"]
    # The judge is called only when the seats disagree.
    assert calls and {c["role"] for c in calls} >= {"planner", "solver"}
    if solution["stop_reason"] == "max_rounds":
        assert "judge" in {c["role"] for c in calls}
    # A program seat and a reasoning seat, and the program ran in the sandbox.
    methods = [t["method"] for t in solution["rounds"][0]["trajectories"]]
    assert methods == ["program", "reasoning"]
    assert all(c["cost"] == 0.0 for c in calls)
    for record in solution["rounds"]:
        for t in record["trajectories"]:
            assert t["score"] is None or 0.0 <= t["score"] <= 1.0


def test_local_model_streams_tokens_through_a_solve() -> None:
    from xolver import Xolver
    from xolver.events import AgentToken, SolveFinished

    with Xolver("local", agents=1, rounds=0, max_tokens=24, stream_tokens=True, memory=None) as xo:
        events = list(xo.stream("What is 2 + 2?"))
    tokens = [e for e in events if isinstance(e, AgentToken)]
    assert tokens and {t.role for t in tokens} >= {"solver"}
    assert isinstance(events[-1], SolveFinished)
