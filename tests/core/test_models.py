"""The model seam: test models, the request switch, and litellm against a real local HTTP server."""

from __future__ import annotations

import pytest

from tests.core.fake_openai import fake_openai_server
from xolver.errors import ModelRequestsBlocked, PermanentModelError, TransientModelError, UserError
from xolver.models import allow_model_requests, resolve_model
from xolver.models.base import CallTags, Message, ModelRequest, ModelSettings
from xolver.models.litellm import LiteLLMModel
from xolver.models.retry import RetryPolicy
from xolver.models.testing import FunctionModel, ScriptedModel

REQUEST = ModelRequest(messages=[Message("user", "hi")], settings=ModelSettings(temperature=0.0, max_tokens=5))
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


async def test_scripted_model_keyed_by_role() -> None:
    model = ScriptedModel({"judge": ["J"], "solver": ["S1", "S2"]})
    solver = ModelRequest(messages=[Message("user", "x y")], tags=CallTags(role="solver"))
    judge = ModelRequest(messages=[Message("user", "x")], tags=CallTags(role="judge"))
    assert (await model.complete(judge)).text == "J"
    first = await model.complete(solver)
    assert first.text == "S1" and first.usage.prompt_tokens == 2 and first.usage.completion_tokens == 1
    assert model.remaining == 1


async def test_function_model_sync_and_async() -> None:
    async def handler(request: ModelRequest) -> str:
        return request.messages[0].content.upper()

    assert (await FunctionModel(handler).complete(REQUEST)).text == "HI"
    assert (await FunctionModel(lambda r: "ok").complete(REQUEST)).text == "ok"


async def test_real_requests_are_blocked_in_tests() -> None:
    model = LiteLLMModel("openai/gpt-4o-mini")
    with pytest.raises(ModelRequestsBlocked):
        await model.complete(REQUEST)


async def test_litellm_against_an_openai_compatible_server() -> None:
    with fake_openai_server(lambda body: (200, "hello there")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY)
        response = await model.complete(REQUEST)
    assert response.text == "hello there"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 7)
    assert response.cost == 0.0  # an unknown model has no price: 0, not an error
    (sent,) = requests
    assert sent["model"] == "tiny" and sent["temperature"] == 0.0 and sent["max_tokens"] == 5
    assert sent["messages"] == [{"role": "user", "content": "hi"}]


async def test_rate_limit_then_success_is_retried() -> None:
    replies = iter([(429, "slow down"), (503, "overloaded"), (200, "fine")])
    with fake_openai_server(lambda body: next(replies)) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY)
        response = await model.complete(REQUEST)
    assert response.text == "fine"
    assert len(requests) == 3 and model.retries == 2


async def test_retries_are_bounded() -> None:
    with fake_openai_server(lambda body: (429, "slow down")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY)
        with pytest.raises(TransientModelError, match="RateLimitError"):
            await model.complete(REQUEST)
    assert len(requests) == 3


@pytest.mark.parametrize(
    ("status", "hint"), [(401, "authentication failed"), (404, "model not found"), (400, "rejected")]
)
async def test_permanent_errors_are_not_retried(status: int, hint: str) -> None:
    with fake_openai_server(lambda body: (status, "nope")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY)
        with pytest.raises(PermanentModelError, match=hint):
            await model.complete(REQUEST)
    assert len(requests) == 1


def test_resolve_model_strings() -> None:
    assert isinstance(resolve_model("openai/gpt-4o-mini"), LiteLLMModel)
    with pytest.raises(UserError, match="provider prefix"):
        resolve_model("gpt4")
    with pytest.raises(UserError, match="not found"):
        resolve_model("local//no/such/file.gguf")
    model = FunctionModel(lambda r: "x")
    assert resolve_model(model) is model


async def test_litellm_streams_text_pieces_and_usage() -> None:
    pieces: list[str] = []
    with fake_openai_server(lambda body: (200, "the answer is 42")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY)
        response = await model.complete_streaming(REQUEST, pieces.append)
    assert requests[0]["stream"] is True
    assert len(pieces) > 1 and "".join(pieces) == response.text == "the answer is 42"
    assert response.usage.completion_tokens > 0
