"""The OpenAI-compatible endpoint, through the official `openai` client against a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.server.helpers import Rendezvous, Stuck, reply, running
from xolver.config import XolverConfig
from xolver.memory import InMemoryExperienceStore
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.server.openai_app import ServerSettings, create_app
from xolver.server.service import SolveService

QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "How many pens in 17 boxes of 23?"}]


def _service(model: FunctionModel, **config: Any) -> SolveService:
    cfg = XolverConfig(**{"agents": 3, "rounds": 1, "memory_mode": "off", **config})
    return SolveService(model, config=cfg, memory=None)


@pytest.fixture
def model() -> FunctionModel:
    return FunctionModel(reply, name="function")


@pytest.fixture
def base(model: FunctionModel) -> Iterator[str]:
    with running(create_app(_service(model), ServerSettings(request_timeout=60))) as url:
        yield url


def _prompt_tokens(model: FunctionModel) -> int:
    return sum(len(m.content.split()) for r in model.requests for m in r.messages)


def test_completion_returns_the_answer_and_counts_every_internal_call(model: FunctionModel) -> None:
    # No early stop, so every kind of internal call is made: 1 planner + 3 solvers, the judge's blind
    # check, 1 judge opinion (one distinct answer), then 3 solvers of the last round (not judged);
    # the verifier reads the answer without a call.
    with running(
        create_app(
            _service(model, early_stop=False, later_rounds="refine", judge_opinions="always"),
            ServerSettings(request_timeout=60),
        )
    ) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        response = client.chat.completions.create(model="xolver", messages=QUESTION)
    assert response.choices[0].message.content == "391"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    extra = response.model_extra or {}
    assert extra["xolver"]["calls"] == len(model.requests) == 9
    assert [r.tags.purpose for r in model.requests if r.tags.role == "judge"] == ["blind_check", "answer"]
    assert response.usage.prompt_tokens == _prompt_tokens(model)
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert extra["xolver"]["stop_reason"] == "max_rounds" and extra["xolver"]["check_kind"] == "checker"
    trace = (response.choices[0].message.model_extra or {})["reasoning_content"]
    assert "Team: Calculator, Checker, Modeler." in trace and "scored 1.00" in trace
    assert "Answer: 391 (from " in trace and "Checked: " in trace


def test_agreeing_methods_stop_without_a_judge(base: str, model: FunctionModel) -> None:
    client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
    response = client.chat.completions.create(model="xolver", messages=QUESTION)
    assert response.choices[0].message.content == "391"
    # Reasoning and the program seat agree in the first round: 1 planner + 3 solvers, no judge.
    assert [r.tags.role for r in model.requests] == ["planner", "solver", "solver", "solver"]
    extra = response.model_extra or {}
    assert extra["xolver"]["calls"] == 4 and extra["xolver"]["stop_reason"] == "agreement"
    assert extra["xolver"]["checked"] and extra["xolver"]["check_kind"] == "program"
    trace = (response.choices[0].message.model_extra or {})["reasoning_content"]
    assert "stopping: independent methods agreed" in trace and "Answer: 391 (from " in trace and "Checked: " in trace
    assert "scored" not in trace


def test_per_request_team_options_through_extra_body(base: str, model: FunctionModel) -> None:
    client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
    response = client.chat.completions.create(
        model="xolver/function",
        messages=QUESTION,
        extra_body={"agents": 1, "rounds": 0},
    )
    assert response.choices[0].message.content == "391"
    assert [r.tags.role for r in model.requests] == ["planner", "solver", "judge"]


def test_models_list(base: str) -> None:
    client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["xolver", "xolver/function"]


def test_streaming_carries_progress_while_the_solve_runs_then_the_answer() -> None:
    # The judge waits until the client has seen an agent's answer: a server that buffered the
    # stream until the end would never let it go on. No early stop, so the judge is called.
    seen_answer = threading.Event()

    async def model_fn(request: ModelRequest) -> str:
        if request.tags.role == "judge":
            assert await asyncio.to_thread(seen_answer.wait, 30), "no progress reached the client"
        return reply(request)

    model = FunctionModel(model_fn, name="function")
    with running(create_app(_service(model, early_stop=False, later_rounds="refine", judge_opinions="always"))) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        stream = client.chat.completions.create(
            model="xolver",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
        reasoning, content, usage, order = [], [], None, []
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            thought = (delta.model_extra or {}).get("reasoning_content")
            if thought:
                reasoning.append(thought)
                order.append("reasoning")
                if "gave answer 391" in thought:
                    seen_answer.set()
            if delta.content:
                content.append(delta.content)
                order.append("content")
    assert "".join(content) == "391"
    assert order[-1] == "content" and order.count("content") == 1
    text = "".join(reasoning)
    assert "Team: Calculator, Checker, Modeler." in text
    assert "Round 1 done: best judge score 1.00" in text
    assert text.rstrip().splitlines()[-1].startswith("Answer: 391 (from ")
    assert usage is not None and usage.prompt_tokens == _prompt_tokens(model)


def test_streaming_progress_as_sse_comments(base: str) -> None:
    body = {"model": "xolver", "messages": QUESTION, "stream": True, "progress": "comments"}
    with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line]
    comments = [line for line in lines if line.startswith(":")]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    assert any("Team:" in c for c in comments)
    assert not any("reasoning_content" in d["choices"][0]["delta"] for d in data if d["choices"])
    assert "".join(d["choices"][0]["delta"].get("content") or "" for d in data if d["choices"]) == "391"
    assert lines[-1] == "data: [DONE]"


async def test_concurrent_requests_are_solved_concurrently() -> None:
    rendezvous = Rendezvous(parties=3)
    model = FunctionModel(rendezvous, name="function")
    with running(create_app(_service(model, agents=1, rounds=0), ServerSettings(request_timeout=60))) as url:
        client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=90)
        responses = await asyncio.gather(
            *(client.chat.completions.create(model="xolver", messages=QUESTION) for _ in range(3))
        )
    assert [r.choices[0].message.content for r in responses] == ["391"] * 3
    assert rendezvous.most_in_flight == 3


def test_api_key_required_when_configured(model: FunctionModel) -> None:
    with running(create_app(_service(model), ServerSettings(api_key="s3cret"))) as url:
        for key in ("wrong", "s3cret-but-longer"):
            client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
            with pytest.raises(openai.AuthenticationError, match="API key") as info:
                client.chat.completions.create(model="xolver", messages=QUESTION)
            assert info.value.code == "invalid_api_key"
            assert info.value.response.headers["x-should-retry"] == "false"
            with pytest.raises(openai.AuthenticationError):
                client.models.list()
        assert httpx.get(f"{url}/models").status_code == 401  # no Authorization header at all
        good = openai.OpenAI(base_url=url, api_key="s3cret", max_retries=0)
        assert good.chat.completions.create(model="xolver", messages=QUESTION).choices[0].message.content == "391"
    assert len(model.requests) == 4  # one solve (planner, 3 solvers): refused requests never reached the model


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "the last message must come from the user"),
        ({"messages": [{"role": "user", "content": "   "}]}, "has no text"),
        ({"messages": QUESTION, "agents": 0}, "agents: Input should be greater than or equal to 1"),
        ({"messages": QUESTION, "rounds": "many"}, "rounds: Input should be a valid integer"),
        ({"messages": QUESTION, "n": 0}, "n: Input should be greater than or equal to 1"),
        ({"messages": QUESTION, "n": 5}, "n must be at most 4 on this server"),
    ],
)
def test_malformed_bodies_get_400_with_a_clear_message(base: str, body: dict[str, Any], message: str) -> None:
    client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
    known = {k: v for k, v in body.items() if k in {"messages", "n"}}
    extra = {k: v for k, v in body.items() if k not in known}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="xolver", **known, extra_body=extra)
    assert message in str(info.value)


def test_unknown_model_invalid_json_and_oversized_body(model: FunctionModel) -> None:
    with running(create_app(_service(model), ServerSettings(max_body_bytes=2_000))) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        with pytest.raises(openai.NotFoundError, match="not served here") as unknown:
            client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        assert (unknown.value.code, unknown.value.param) == ("model_not_found", "model")
        assert unknown.value.response.headers["x-should-retry"] == "false"
        bad = httpx.post(f"{url}/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "invalid request body" in bad.json()["error"]["message"]
        huge = {"model": "xolver", "messages": [{"role": "user", "content": "x" * 5_000}]}
        too_large = httpx.post(f"{url}/chat/completions", json=huge)
        assert too_large.status_code == 413 and too_large.headers["x-should-retry"] == "false"
        assert too_large.json()["error"]["code"] == "body_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
            yield json.dumps(huge).encode()

        assert httpx.post(f"{url}/chat/completions", content=chunks()).status_code == 413
    assert model.requests == []


def test_namespaces_keep_tenants_apart() -> None:
    store = InMemoryExperienceStore()
    model = FunctionModel(reply, name="function")
    cfg = XolverConfig(agents=1, rounds=0, memory_mode="learn")
    with running(create_app(SolveService(model, config=cfg, memory=store))) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="xolver", messages=QUESTION, extra_body={"namespace": "alice"})
        assert (store.count(namespace="alice"), store.count(namespace="bob")) == (1, 0)
        client.chat.completions.create(model="xolver", messages=QUESTION, extra_body={"namespace": "bob"})
        client.chat.completions.create(model="xolver", messages=QUESTION)
    solver_prompts = [r.messages[-1].content for r in model.requests if r.tags.role == "solver"]
    # alice's first solve saw no experience; bob's did not see alice's; the default tenant neither.
    assert store.count(namespace="bob") == 1 and store.count(namespace="default") == 1
    assert not any("17 * 23" in p.split("Problem:")[0] for p in solver_prompts)


def test_locked_namespace_refuses_others(model: FunctionModel) -> None:
    cfg = XolverConfig(agents=1, rounds=0, memory_mode="off", namespace="team-a")
    service = SolveService(model, config=cfg, memory=None, lock_namespace=True, max_agents=2)
    with running(create_app(service)) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="only serves namespace 'team-a'"):
            client.chat.completions.create(model="xolver", messages=QUESTION, extra_body={"namespace": "b"})
        with pytest.raises(openai.BadRequestError, match="agents must be at most 2"):
            client.chat.completions.create(model="xolver", messages=QUESTION, extra_body={"agents": 3})
        ok = client.chat.completions.create(model="xolver", messages=QUESTION, extra_body={"namespace": "team-a"})
        assert ok.choices[0].message.content == "391"


def _raw_post(url: str, body: dict[str, Any]) -> socket.socket:
    """Send a request on a raw socket, so the test decides exactly when the client goes away."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    data = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_cancels_the_solve(stream: bool) -> None:
    stuck = Stuck()
    model = FunctionModel(stuck, name="function")
    with running(create_app(_service(model, agents=2, rounds=0), ServerSettings(request_timeout=120))) as url:
        sock = _raw_post(url, {"model": "xolver", "messages": QUESTION, "stream": stream})
        assert stuck.started.wait(30), "the solve never reached the solver"
        sock.close()
        assert stuck.cancelled.wait(30), "the solve went on after the client left"


def test_request_timeout_cancels_the_solve() -> None:
    stuck = Stuck()
    model = FunctionModel(stuck, name="function")
    with running(create_app(_service(model, agents=1, rounds=0), ServerSettings(request_timeout=0.5))) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError, match=r"did not finish within 0\.5 seconds") as info:
            client.chat.completions.create(model="xolver", messages=QUESTION)
        assert info.value.status_code == 504
    assert stuck.cancelled.is_set()
