"""An ``openai/`` model at a server on this machine is called over HTTP directly, without litellm,
and behaves as the litellm path does: same request, reply, reasoning, streaming and errors."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Literal

import pytest

from tests._support import REPO
from tests._support.fake_openai import FakeReply, fake_openai_server
from xolver.errors import PermanentModelError, TransientModelError, UserError
from xolver.models import allow_model_requests
from xolver.models.base import ImagePart, Message, ModelRequest, ModelSettings
from xolver.models.litellm import LiteLLMModel
from xolver.models.retry import RetryPolicy

REQUEST = ModelRequest(
    messages=[Message("system", "be brief"), Message("user", "hi")],
    settings=ModelSettings(temperature=0.0, max_tokens=5, seed=3, stop=("\n\n",)),
)
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)
TRANSPORTS = pytest.mark.parametrize("transport", ["litellm", "http"])
Transport = Literal["litellm", "http"]


def test_the_transport_is_http_only_for_a_server_on_this_machine() -> None:
    assert LiteLLMModel("openai/tiny", api_base="http://127.0.0.1:8080/v1")._direct
    assert LiteLLMModel("openai/tiny", api_base="http://localhost:1234/v1")._direct
    assert not LiteLLMModel("openai/tiny", api_base="https://api.example.com/v1")._direct
    assert not LiteLLMModel("openai/gpt-4o-mini")._direct
    assert not LiteLLMModel("ollama_chat/qwen2.5", api_base="http://127.0.0.1:11434")._direct
    assert not LiteLLMModel("openai/tiny", api_base="http://127.0.0.1:8080/v1", transport="litellm")._direct
    assert LiteLLMModel("openai/tiny", api_base="https://api.example.com/v1", transport="http")._direct
    with pytest.raises(UserError, match="transport 'http'"):
        LiteLLMModel("openai/gpt-4o-mini", transport="http")


@TRANSPORTS
async def test_same_request_and_reply(transport: Transport) -> None:
    with fake_openai_server(lambda body: (200, "hello there")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY, transport=transport)
        response = await model.complete(REQUEST)
    assert (response.text, response.model, response.cost, response.finish_reason) == (
        "hello there",
        "openai/tiny",
        0.0,
        "stop",
    )
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 7)
    (sent,) = requests
    assert sent["model"] == "tiny" and sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert (sent["temperature"], sent["max_tokens"], sent["seed"], sent["stop"]) == (0.0, 5, 3, ["\n\n"])
    assert sent["_auth"] == "Bearer sk-no-key-required"  # a placeholder: the server ignores it


@TRANSPORTS
async def test_reasoning_apart_inline_and_truncated(transport: Transport) -> None:
    replies = iter(
        [
            FakeReply("The answer is 5.", reasoning_content="2 + 3 = 5"),
            FakeReply("  <think>\ncarry the one\n</think>\n\nFinal answer: 12"),
            FakeReply("", reasoning_content="first I need to", finish_reason="length"),
        ]
    )
    with fake_openai_server(lambda body: (200, next(replies))) as (base, _), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY, transport=transport)
        separate, inline, cut = [await model.complete(REQUEST) for _ in range(3)]
    assert (separate.text, separate.reasoning) == ("The answer is 5.", "2 + 3 = 5")
    assert (inline.text, inline.reasoning) == ("Final answer: 12", "carry the one")
    assert cut.truncated and (cut.text, cut.reasoning) == ("", "first I need to")


@TRANSPORTS
@pytest.mark.parametrize(
    ("model_name", "reply"),
    [
        ("openai/tiny", FakeReply("Final answer: 9", reasoning_content="the sum is 9")),
        ("openai/qwen3-8b", FakeReply("the sum is 9\n</think>\n\nFinal answer: 9")),  # template-opened block
    ],
)
async def test_streams_only_the_reply(transport: Transport, model_name: str, reply: FakeReply) -> None:
    pieces: list[str] = []
    with fake_openai_server(lambda body: (200, reply)) as (base, requests), allow_model_requests():
        model = LiteLLMModel(model_name, api_base=base, retry=FAST_RETRY, transport=transport)
        response = await model.complete_streaming(REQUEST, pieces.append)
    assert requests[0]["stream"] is True
    assert response.text == "Final answer: 9" and response.reasoning == "the sum is 9"
    assert "".join(pieces) == "Final answer: 9" and len(pieces) > 1
    assert response.finish_reason == "stop" and response.usage.completion_tokens > 0


@TRANSPORTS
async def test_errors_sort_the_same(transport: Transport) -> None:
    replies = iter([(429, "slow down"), (503, "overloaded"), (200, "fine")])
    with fake_openai_server(lambda body: next(replies)) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY, transport=transport)
        assert (await model.complete(REQUEST)).text == "fine"
    assert len(requests) == 3 and model.retries == 2
    context = "This model's maximum context length is 4096 tokens. However, your messages resulted in 5000 tokens."
    for status, said, hint, kind in [
        (401, "nope", "authentication failed", "auth"),
        (404, "nope", "model not found", "not_found"),
        (400, "nope", "rejected", "bad_request"),
        (400, context, "context window", "context_window"),
    ]:

        def refuse(body: dict[str, object], status: int = status, said: str = said) -> tuple[int, str]:
            return status, said

        with fake_openai_server(refuse) as (base, requests), allow_model_requests():
            model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY, transport=transport)
            with pytest.raises(PermanentModelError, match=hint) as refused:
                await model.complete(REQUEST)
        assert len(requests) == 1
        assert (refused.value.kind, refused.value.status) == (kind, status)
    with fake_openai_server(lambda body: (429, "slow down")) as (base, _), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=RetryPolicy(max_attempts=1), transport=transport)
        with pytest.raises(TransientModelError) as limited:
            await model.complete(REQUEST)
    assert limited.value.kind == "rate_limit"
    with fake_openai_server(lambda body: (200, "late"), delay=0.5) as (base, _), allow_model_requests():
        no_retry = RetryPolicy(max_attempts=1)
        model = LiteLLMModel("openai/tiny", api_base=base, timeout=0.2, retry=no_retry, transport=transport)
        with pytest.raises(TransientModelError, match="Timeout") as late:
            await model.complete(REQUEST)
    assert late.value.kind == "timeout"


@TRANSPORTS
async def test_images_go_out_as_openai_content_parts(transport: Transport) -> None:
    image = ImagePart("data:image/png;base64,iVBORw0KGgo=", detail="low")
    request = ModelRequest(messages=[Message("system", "be brief"), Message("user", "what is this?", images=(image,))])
    with fake_openai_server(lambda body: (200, "a dot")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY, transport=transport, vision=True)
        assert model.supports_vision
        assert (await model.complete(request)).text == "a dot"
    (sent,) = requests
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            ],
        },
    ]


def test_vision_is_what_litellms_model_table_says() -> None:
    assert LiteLLMModel("openai/gpt-4o").supports_vision
    assert not LiteLLMModel("openai/gpt-3.5-turbo").supports_vision
    assert not LiteLLMModel("openai/no-such-model-anywhere").supports_vision  # unknown: text-only
    # A server on this machine serves whatever it serves: text-only unless said otherwise.
    assert not LiteLLMModel("openai/gpt-4o", api_base="http://127.0.0.1:8080/v1").supports_vision
    assert LiteLLMModel("openai/tiny", api_base="http://127.0.0.1:8080/v1", vision=True).supports_vision


async def test_an_unreachable_server_is_a_transient_failure() -> None:
    with allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base="http://127.0.0.1:9/v1", retry=RetryPolicy(max_attempts=1))
        with pytest.raises(TransientModelError, match="APIConnectionError"):
            await model.complete(REQUEST)


def test_a_solve_against_a_server_on_this_machine_never_imports_litellm() -> None:
    probe = (
        "import sys\n"
        "from tests._support.fake_openai import fake_openai_server\n"
        "from xolver import Xolver\n"
        "reply = 'Thought: 6 * 7\\nResponse: 42\\nFinal answer: \\\\boxed{42}'\n"
        "with fake_openai_server(lambda body: (200, reply)) as (base, _):\n"
        "    xo = Xolver('openai/tiny', api_base=base, agents=1, rounds=0, methods=['reasoning'], memory=None)\n"
        "    print(xo.solve('What is 6 * 7?').answer, 'litellm' in sys.modules)\n"
    )
    env = {**os.environ, "XOLVER_ALLOW_MODEL_REQUESTS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["42", "False"]


TOOL_CALL = {
    "id": "call_7",
    "type": "function",
    "function": {"name": "python", "arguments": '{"code": "print(6 * 7)"}'},
}


@TRANSPORTS
@pytest.mark.parametrize("stream", [False, True])
async def test_native_tool_calls_go_out_and_come_back(transport: Transport, stream: bool) -> None:
    from xolver.models.base import ToolInvocation, ToolSpec

    spec = ToolSpec("python", "Run Python.", {"type": "object", "properties": {"code": {"type": "string"}}})
    history = [
        Message("user", "compute"),
        Message("assistant", "", tool_calls=(ToolInvocation("call_1", "python", '{"code": "1"}'),)),
        Message("tool", "1", tool_call_id="call_1"),
    ]
    request = ModelRequest(messages=history, tools=(spec,))
    reply = FakeReply("", finish_reason="tool_calls", tool_calls=[TOOL_CALL])
    with fake_openai_server(lambda body: (200, reply)) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY, transport=transport)
        assert not model.supports_function_calling  # a local server: off unless the user turns it on
        assert LiteLLMModel("openai/tiny", api_base=base, function_calling=True).supports_function_calling
        if stream:
            response = await model.complete_streaming(request, lambda text: None)
        else:
            response = await model.complete(request)
    assert response.tool_calls == (ToolInvocation("call_7", "python", '{"code": "print(6 * 7)"}'),)
    (sent,) = requests
    assert sent["tools"] == [spec.to_openai()]
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "python", "arguments": '{"code": "1"}'}
    assert sent["messages"][2] == {"role": "tool", "content": "1", "tool_call_id": "call_1"}
