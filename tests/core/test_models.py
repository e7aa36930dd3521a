"""The model seam: test models, the request switch, and litellm against a real local HTTP server."""

from __future__ import annotations

import pytest

from tests._support.fake_openai import FakeReply, fake_openai_server
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


async def test_litellm_separates_reasoning_field_and_think_tags() -> None:
    replies = iter(
        [
            FakeReply("The answer is 5.", reasoning_content="2 + 3 = 5"),
            FakeReply("  <think>\ncarry the one\n</think>\n\nFinal answer: 12"),
            FakeReply("still counting</think>Final answer: 7"),
        ]
    )
    with fake_openai_server(lambda body: (200, next(replies))) as (base, _), allow_model_requests():
        model = LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY)
        separate, inline, opened_in_prompt = [await model.complete(REQUEST) for _ in range(3)]
    assert (separate.text, separate.reasoning) == ("The answer is 5.", "2 + 3 = 5")
    assert (inline.text, inline.reasoning) == ("Final answer: 12", "carry the one")
    assert (opened_in_prompt.text, opened_in_prompt.reasoning) == ("Final answer: 7", "still counting")
    assert separate.finish_reason == "stop" and not separate.truncated


async def test_litellm_reports_a_truncated_reply() -> None:
    reply = FakeReply("", reasoning_content="first I need to", finish_reason="length")
    with fake_openai_server(lambda body: (200, reply)) as (base, _), allow_model_requests():
        response = await LiteLLMModel("openai/tiny", api_base=base, retry=FAST_RETRY).complete(REQUEST)
    assert response.truncated and response.finish_reason == "length"
    assert response.text == "" and response.reasoning == "first I need to"


async def test_openai_reasoning_models_get_max_completion_tokens_and_no_sampling_params() -> None:
    settings = ModelSettings(temperature=0.2, top_p=0.9, max_tokens=300, seed=1)
    with fake_openai_server(lambda body: (200, "ok")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/o3-mini", api_base=base, retry=FAST_RETRY, reasoning_effort="low")
        assert model.reasoning
        await model.complete(ModelRequest(messages=[Message("user", "hi")], settings=settings))
        await model.complete(
            ModelRequest(messages=[Message("user", "hi")], settings=ModelSettings(reasoning_effort="high"))
        )
    first, second = requests
    assert first["max_completion_tokens"] == 300 and "max_tokens" not in first
    assert "temperature" not in first and "top_p" not in first
    assert first["reasoning_effort"] == "low" and second["reasoning_effort"] == "high"  # the request's wins
    assert "drop_params" not in first  # litellm's own option, not sent to the provider


async def test_other_models_keep_max_tokens_and_temperature() -> None:
    with fake_openai_server(lambda body: (200, "ok")) as (base, requests), allow_model_requests():
        model = LiteLLMModel("openai/qwen3-8b", api_base=base, retry=FAST_RETRY)
        assert model.reasoning  # a thinking model, but not an OpenAI one: it takes the usual params
        await model.complete(REQUEST)
    (sent,) = requests
    assert sent["max_tokens"] == 5 and sent["temperature"] == 0.0 and "reasoning_effort" not in sent


@pytest.mark.parametrize(
    ("model_name", "reply"),
    [
        ("openai/tiny", FakeReply("<think>the sum is 9</think>\nFinal answer: 9")),
        ("openai/tiny", FakeReply("Final answer: 9", reasoning_content="the sum is 9")),
        ("openai/qwen3-8b", FakeReply("the sum is 9\n</think>\n\nFinal answer: 9")),  # template-opened block
        ("openai/qwen3-8b", FakeReply("Final answer: 9", reasoning_content="the sum is 9")),
    ],
)
async def test_litellm_stream_shows_only_the_reply(model_name: str, reply: FakeReply) -> None:
    pieces: list[str] = []
    with fake_openai_server(lambda body: (200, reply)) as (base, _), allow_model_requests():
        model = LiteLLMModel(model_name, api_base=base, retry=FAST_RETRY)
        response = await model.complete_streaming(REQUEST, pieces.append)
    assert response.text == "Final answer: 9" and response.reasoning == "the sum is 9"
    assert "".join(pieces) == "Final answer: 9" and len(pieces) > 1  # live, not held to the end
    assert response.finish_reason == "stop"


def test_default_concurrency_limit() -> None:
    assert LiteLLMModel("openai/tiny", api_base="http://127.0.0.1:8080/v1").max_concurrency == 1
    assert LiteLLMModel("openai/tiny", api_base="http://localhost:1234/v1").max_concurrency == 1
    assert LiteLLMModel("openai/tiny", api_base="http://[::1]:8000").max_concurrency == 1
    assert LiteLLMModel("ollama_chat/qwen2.5").max_concurrency == 1
    assert LiteLLMModel("lm_studio/qwen2.5").max_concurrency == 1
    assert LiteLLMModel("openai/gpt-4o-mini").max_concurrency is None
    assert LiteLLMModel("openai/tiny", api_base="https://api.example.com/v1").max_concurrency is None
    assert LiteLLMModel("openai/tiny", api_base="http://127.0.0.1:8080/v1", max_concurrency=0).max_concurrency is None
    assert LiteLLMModel("openai/gpt-4o-mini", max_concurrency=4).max_concurrency == 4
    with pytest.raises(UserError, match="max_concurrency"):
        LiteLLMModel("openai/tiny", max_concurrency=-1)


async def _three_at_once(model: LiteLLMModel) -> list[object]:
    import asyncio

    return list(await asyncio.gather(*(model.complete(REQUEST) for _ in range(3)), return_exceptions=True))


async def test_one_slot_server_with_the_default_limit_never_times_out() -> None:
    # Each request takes 0.4 s and the server takes one at a time: the third finishes 1.2 s after
    # it was sent, past the 1 s per-attempt timeout, unless the model queues it on our side.
    no_retry = RetryPolicy(max_attempts=1)
    with (
        fake_openai_server(lambda body: (200, "ok"), one_at_a_time=True, delay=0.4) as (base, requests),
        allow_model_requests(),
    ):
        limited = LiteLLMModel("openai/tiny", api_base=base, timeout=1.0, retry=no_retry)
        assert limited.max_concurrency == 1
        results = await _three_at_once(limited)
        assert [getattr(r, "text", r) for r in results] == ["ok", "ok", "ok"]
        unlimited = LiteLLMModel("openai/tiny", api_base=base, timeout=1.0, retry=no_retry, max_concurrency=3)
        results = await _three_at_once(unlimited)
    assert len(requests) == 6  # one attempt each
    timed_out = [r for r in results if isinstance(r, TransientModelError)]
    assert timed_out and "Timeout" in str(timed_out[0])


def test_litellm_exceptions_map_to_a_typed_kind() -> None:
    # The kind comes from the exception's class, never from its message: the messages here say
    # nothing about what failed.
    from xolver.models.litellm import _classify, _import_litellm

    litellm = _import_litellm()
    said = {"message": "nope", "model": "tiny", "llm_provider": "openai"}
    cases = [
        (litellm.ContextWindowExceededError(**said), PermanentModelError, "context_window"),
        (litellm.ContentPolicyViolationError(**said), PermanentModelError, "content_policy"),
        (litellm.NotFoundError(**said), PermanentModelError, "not_found"),
        (litellm.AuthenticationError(**said), PermanentModelError, "auth"),
        (litellm.BadRequestError(**said), PermanentModelError, "bad_request"),
        (litellm.BudgetExceededError(current_cost=2.0, max_budget=1.0), PermanentModelError, "budget"),
        (litellm.RateLimitError(**said), TransientModelError, "rate_limit"),
        (litellm.Timeout(**said), TransientModelError, "timeout"),
        (litellm.APIConnectionError(**said), TransientModelError, "connection"),
        (litellm.InternalServerError(**said), TransientModelError, "server_error"),
    ]
    for exc, cls, kind in cases:
        error = _classify(exc, "openai/tiny")
        assert (type(error), error.kind) == (cls, kind), type(exc).__name__


def test_model_errors_default_their_kind_from_the_status() -> None:
    assert PermanentModelError("x").kind == "bad_request"
    assert PermanentModelError("x", status=401).kind == "auth"
    assert PermanentModelError("x", status=404).kind == "not_found"
    assert PermanentModelError("x", status=404, kind="context_window").kind == "context_window"
    assert TransientModelError("x", status=429).kind == "rate_limit"
    assert TransientModelError("x", status=503).kind == "server_error"
