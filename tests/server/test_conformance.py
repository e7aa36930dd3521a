"""The official `openai` client's features, one by one, against `xolver serve` (a real uvicorn on 127.0.0.1).

Each test is a row of the conformance table in docs/serve.md: what the client does, and what
xolver answers. Clients are the stock ones (``OpenAI()`` with its default two retries) wherever
retries matter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, cast, get_args

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam
from pydantic import BaseModel

from tests.server.helpers import reply, running
from xolver.config import XolverConfig
from xolver.errors import PermanentFailure, PermanentModelError, TransientFailure, TransientModelError
from xolver.models.base import ImagePart, ModelRequest
from xolver.models.testing import FunctionModel
from xolver.server.failures import reply_for
from xolver.server.openai_app import ServerSettings, create_app
from xolver.server.service import SolveService

QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is 17 * 23?"}]
Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class CountingPosts:
    """ASGI wrapper that counts the POST requests reaching the server (retries included)."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.posts = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            self.posts += 1
        await self.app(scope, receive, send)


def _app(model: FunctionModel, settings: ServerSettings | None = None, **config: Any) -> Any:
    cfg = XolverConfig(**{"agents": 2, "rounds": 0, "memory_mode": "off", **config})
    return create_app(SolveService(model, config=cfg, memory=None), settings or ServerSettings(request_timeout=60))


@contextmanager
def _served(
    model: FunctionModel, settings: ServerSettings | None = None, **config: Any
) -> Iterator[tuple[str, CountingPosts]]:
    counted = CountingPosts(_app(model, settings, **config))
    with running(counted) as url:
        yield url, counted


def _planner_calls(model: FunctionModel) -> int:
    return sum(r.tags.role == "planner" for r in model.requests)


# ----------------------------------------------------------------------------- a failed solve runs once


# The messages say nothing about what failed: the status comes from the error's kind alone.
@pytest.mark.parametrize(
    ("error", "exception", "status", "code", "retry_after"),
    [
        (
            PermanentModelError("openai/tiny: refused (4096)", status=400, kind="context_window"),
            openai.BadRequestError,
            400,
            "context_length_exceeded",
            None,
        ),
        (
            PermanentModelError("openai/tiny: refused", status=404, kind="not_found"),
            openai.BadRequestError,
            400,
            "model_not_found",
            None,
        ),
        (
            PermanentModelError("openai/tiny: the context window is fine, the request is not", kind="bad_request"),
            openai.BadRequestError,
            400,
            "backbone_rejected",
            None,
        ),
        (
            PermanentModelError("openai/tiny: refused", kind="budget"),
            openai.BadRequestError,
            400,
            "budget_exhausted",
            None,
        ),
        (
            PermanentModelError("openai/tiny: refused", status=401, kind="auth"),
            openai.APIStatusError,
            502,
            "backbone_auth_failed",
            None,
        ),
        (
            TransientModelError("openai/tiny: slow down", kind="rate_limit"),
            openai.RateLimitError,
            429,
            "rate_limit_exceeded",
            "30",
        ),
        (
            TransientModelError("openai/tiny: ratelimit exceeded, HTTP 429", status=503, kind="server_error"),
            openai.InternalServerError,
            503,
            "backbone_unavailable",
            "10",
        ),
    ],
    ids=["context_window", "not_found", "bad_request", "budget", "auth", "rate_limit", "server_error"],
)
def test_a_failed_solve_is_attempted_once_by_the_stock_client(
    error: Exception, exception: type[openai.APIStatusError], status: int, code: str, retry_after: str | None
) -> None:
    def failing(request: ModelRequest) -> str:
        raise error

    model = FunctionModel(failing)
    with _served(model) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")  # the default: max_retries=2
        with pytest.raises(exception) as info:
            client.chat.completions.create(model="xolver", messages=QUESTION)
    assert counted.posts == 1 and _planner_calls(model) == 1
    response = info.value.response
    assert response.status_code == status and response.headers["x-should-retry"] == "false"
    assert response.headers.get("retry-after") == retry_after
    assert info.value.code == code and isinstance(info.value.body, dict) and info.value.body["message"]


@pytest.mark.parametrize("kind", get_args(PermanentFailure))
def test_every_permanent_kind_has_its_status(kind: PermanentFailure) -> None:
    reply = reply_for(PermanentModelError("refused", kind=kind))
    assert reply.code and reply.retry_after is None
    assert reply.status == (502 if kind == "auth" else 503 if kind == "unavailable" else 400)


@pytest.mark.parametrize("kind", get_args(TransientFailure))
def test_every_transient_kind_has_its_status(kind: TransientFailure) -> None:
    reply = reply_for(TransientModelError("failed", kind=kind))
    assert reply.status == (429 if kind == "rate_limit" else 503) and reply.retry_after


def test_a_spent_budget_with_no_answer_is_a_400_sent_once() -> None:
    model = FunctionModel(reply)
    with _served(model, max_calls=1) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")
        with pytest.raises(openai.BadRequestError, match="calls budget was spent") as info:
            client.chat.completions.create(model="xolver", messages=QUESTION)
    assert info.value.code == "budget_exhausted" and counted.posts == 1


def test_a_timeout_is_not_retried_by_the_client() -> None:
    async def slow(request: ModelRequest) -> str:
        if request.tags.role == "solver":
            await asyncio.sleep(30)
        return reply(request)

    model = FunctionModel(slow)
    with _served(model, ServerSettings(request_timeout=0.3)) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")
        with pytest.raises(openai.APIStatusError, match="did not finish") as info:
            client.chat.completions.create(model="xolver", messages=QUESTION)
    assert info.value.status_code == 504 and counted.posts == 1


# ----------------------------------------------------------------------------- n, conversation, formats


def test_n_returns_independent_solves() -> None:
    model = FunctionModel(reply)
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        response = client.chat.completions.create(model="xolver", messages=QUESTION, n=2)
        assert [c.index for c in response.choices] == [0, 1]
        assert [c.message.content for c in response.choices] == ["391", "391"]
        assert _planner_calls(model) == 2
        extra = response.model_extra or {}
        assert extra["xolver"]["calls"] == len(model.requests) == sum(c["calls"] for c in extra["xolver"]["choices"])
        assert response.usage is not None and response.usage.prompt_tokens > 0

        stream = client.chat.completions.create(model="xolver", messages=QUESTION, n=2, stream=True)
        content: dict[int, str] = {0: "", 1: ""}
        finished = set()
        for chunk in stream:
            for choice in chunk.choices:
                content[choice.index] += choice.delta.content or ""
                if choice.finish_reason == "stop":
                    finished.add(choice.index)
        assert content == {0: "391", 1: "391"} and finished == {0, 1}
        assert _planner_calls(model) == 4

        with pytest.raises(openai.BadRequestError, match="n must be at most 4"):
            client.chat.completions.create(model="xolver", messages=QUESTION, n=5)


def test_system_message_and_earlier_turns_are_part_of_the_problem() -> None:
    model = FunctionModel(reply)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Answer with a plain number."},
        {"role": "user", "content": "What is 17 * 23?"},
        {"role": "assistant", "content": "391"},
        {"role": "user", "content": "Now double that number."},
    ]
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="xolver", messages=messages)
    problem = next(r for r in model.requests if r.tags.role == "planner").messages[-1].content
    assert "Instructions: Answer with a plain number." in problem
    assert "Q: What is 17 * 23?\nA: 391" in problem
    assert "Follow-up question (answer this one): Now double that number." in problem


def test_a_developer_message_is_an_instruction_like_a_system_message() -> None:
    model = FunctionModel(reply)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "developer", "content": "Answer with a plain number."},
        {"role": "user", "content": "What is 17 * 23?"},
    ]
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        assert client.chat.completions.create(model="xolver", messages=messages).choices[0].message.content == "391"
    problem = next(r for r in model.requests if r.tags.role == "planner").messages[-1].content
    assert "Instructions: Answer with a plain number.\n\nWhat is 17 * 23?" in problem


def test_fields_that_tune_one_call_are_accepted_and_not_applied() -> None:
    model = FunctionModel(reply)
    with _served(model, agents=3) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        response = client.chat.completions.create(
            model="xolver",
            messages=QUESTION,
            max_tokens=7,
            max_completion_tokens=9,
            top_p=0.3,
            seed=12345,
            stop=["END"],
            frequency_penalty=0.5,
            presence_penalty=0.5,
        )
    assert response.choices[0].message.content == "391"
    assert model.requests
    for request in model.requests:  # every call has the server's settings, none of the client's
        settings = request.settings
        assert settings.max_tokens not in (7, 9), request.tags
        assert (settings.top_p, settings.seed, settings.stop) == (None, None, ()), request.tags


def test_temperature_is_the_solvers_sampling_temperature() -> None:
    model = FunctionModel(reply)
    # Three seats: a program and a chain of thought (each method's first, greedy), then a second
    # chain of thought, which samples.
    with _served(model, agents=3, temperature=0.2) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="xolver", messages=QUESTION, temperature=1.3)
    solvers = sorted(r.settings.temperature or 0.0 for r in model.requests if r.tags.role == "solver")
    assert solvers == [0.0, 0.0, 1.3]
    planner = next(r for r in model.requests if r.tags.role == "planner")
    assert planner.settings.temperature == 0.2  # the server's: not a solver's sample


def test_an_error_in_the_middle_of_a_stream_raises_in_the_client() -> None:
    def planner_only(request: ModelRequest) -> str:
        if request.tags.role == "planner":
            return reply(request)
        raise PermanentModelError("openai/tiny: refused", kind="context_window")

    model = FunctionModel(planner_only)
    with _served(model, ServerSettings(request_timeout=120)) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")  # the stock client: two retries
        stream = client.chat.completions.create(model="xolver", messages=QUESTION, stream=True)
        seen: list[Any] = []
        with pytest.raises(openai.APIError, match="context window") as info:
            for chunk in stream:
                seen.append(chunk)
    # The stream had started (the role chunk, the team's progress) when the solve failed; the
    # error is the solve's own, not a timeout, and the client did not send the request again.
    assert seen[0].choices[0].delta.role == "assistant"
    assert any((c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in seen if c.choices)
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "context_length_exceeded"
    assert counted.posts == 1 and _planner_calls(model) == 1


class Product(BaseModel):
    factors: list[int]
    value: int


def _shaping(first: str, then: str = "") -> Callable[[ModelRequest], str]:
    def respond(request: ModelRequest) -> str:
        if request.tags.purpose == "response_format":
            return first
        if request.tags.purpose == "response_format_repair":
            return then
        return reply(request)

    return respond


def test_response_format_json_schema_through_parse() -> None:
    model = FunctionModel(_shaping('```json\n{"factors": [17, 23], "value": 391}\n```'))
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        completion = client.chat.completions.parse(model="xolver", messages=QUESTION, response_format=Product)
    parsed = completion.choices[0].message.parsed
    assert parsed == Product(factors=[17, 23], value=391)
    shaping = next(r for r in model.requests if r.tags.purpose == "response_format")
    prompt = shaping.messages[-1].content
    assert "The team's final answer: 391" in prompt and '"factors"' in prompt
    extra = completion.model_extra or {}
    assert extra["xolver"]["calls"] == len(model.requests)


def test_response_format_is_repaired_a_bounded_number_of_times() -> None:
    # The first reply misses a required field; the repair sees the validator's message.
    model = FunctionModel(_shaping('{"value": 391}', '{"factors": [17, 23], "value": 391}'))
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        completion = client.chat.completions.parse(model="xolver", messages=QUESTION, response_format=Product)
        assert completion.choices[0].message.parsed == Product(factors=[17, 23], value=391)
        repair = next(r for r in model.requests if r.tags.purpose == "response_format_repair")
        assert "'factors' is a required property" in repair.messages[-1].content

        never = FunctionModel(_shaping("391", "still not json"))
    with _served(never) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")
        with pytest.raises(
            openai.APIStatusError, match="could not be written in the requested response_format"
        ) as info:
            client.chat.completions.parse(model="xolver", messages=QUESTION, response_format=Product)
    assert info.value.status_code == 502 and counted.posts == 1
    assert sum(r.tags.purpose.startswith("response_format") for r in never.requests) == 3


def test_response_format_json_object() -> None:
    model = FunctionModel(_shaping('Sure: {"answer": 391}'))
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        completion = client.chat.completions.create(
            model="xolver", messages=QUESTION, response_format={"type": "json_object"}
        )
        assert json.loads(completion.choices[0].message.content or "") == {"answer": 391}
        bad_schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}
        with pytest.raises(openai.BadRequestError, match="not a valid JSON Schema"):
            client.chat.completions.create(
                model="xolver", messages=QUESTION, extra_body={"response_format": bad_schema}
            )


# ----------------------------------------------------------------------------- refused, never dropped


_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": "calc", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tools": [_TOOL]}, "tools are not supported"),
        ({"tools": [_TOOL], "tool_choice": "required"}, "tools are not supported"),
        ({"tool_choice": {"type": "function", "function": {"name": "calc"}}}, "'calc' asks for a tool call"),
        ({"logprobs": True}, "logprobs are not supported"),
        ({"modalities": ["text", "audio"]}, "only text output"),
    ],
)
def test_what_cannot_be_honoured_is_a_400_that_names_it(fields: dict[str, Any], message: str) -> None:
    model = FunctionModel(reply)
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError, match=message) as info:
            client.chat.completions.create(model="xolver", messages=QUESTION, extra_body=fields)
    assert info.value.code == "unsupported_parameter" and model.requests == []


def test_tools_with_tool_choice_none_are_fine() -> None:
    model = FunctionModel(reply)
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        response = client.chat.completions.create(
            model="xolver",
            messages=QUESTION,
            tools=[_TOOL],
            tool_choice="none",
        )
    assert response.choices[0].message.content == "391" and not response.choices[0].message.tool_calls


def test_image_parts_and_tool_messages_are_refused() -> None:
    model = FunctionModel(reply)
    image: list[ChatCompletionMessageParam] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ]
    tool_turn: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "What is 17 * 23?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "391"},
        {"role": "user", "content": "And?"},
    ]
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        with pytest.raises(
            openai.BadRequestError, match=r"messages\[0\]\.content\[1\] is an image, but the backbone model 'function'"
        ):
            client.chat.completions.create(model="xolver", messages=image)
        with pytest.raises(openai.BadRequestError, match=r"messages\[1\] is a tool call"):
            client.chat.completions.create(model="xolver", messages=tool_turn)
        text_parts: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": [{"type": "text", "text": "What is 17 * 23?"}]}
        ]
        assert client.chat.completions.create(model="xolver", messages=text_parts).choices[0].message.content == "391"
    assert _planner_calls(model) == 1


_IMAGE = "data:image/png;base64,iVBORw0KGgo="


def _asking_with(*parts: Any) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": [{"type": "text", "text": "What is 17 * 23, as in the picture?"}, *parts]}]


def _image(url: str = _IMAGE, detail: str = "low") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def test_image_parts_for_a_text_only_backbone_are_a_400_naming_the_model() -> None:
    model = FunctionModel(reply, name="openai/text-only")
    with _served(model) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")
        with pytest.raises(
            openai.BadRequestError, match="backbone model 'openai/text-only' does not take images"
        ) as info:
            client.chat.completions.create(model="xolver", messages=_asking_with(_image()))
    assert info.value.code == "unsupported_content" and info.value.param == "messages.0.content.1"
    assert counted.posts == 1 and model.requests == []


def test_image_parts_reach_every_role_of_a_vision_backbone() -> None:
    model = FunctionModel(reply, vision=True)
    second = "https://example.com/grid.png"
    with _served(model, early_stop=False, judge_opinions="always") as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        response = client.chat.completions.create(
            model="xolver", messages=_asking_with(_image(), _image(second, "high"))
        )
        assert response.choices[0].message.content == "391"
        roles = {r.tags.role for r in model.requests}
        assert {"planner", "solver", "judge"} <= roles
        for request in model.requests:
            first_user = next(m for m in request.messages if m.role == "user")
            assert first_user.images == (ImagePart(_IMAGE, "low"), ImagePart(second, "high")), request.tags
            assert all(not m.images for m in request.messages if m is not first_user)
        asked = next(r for r in model.requests if r.tags.role == "planner").messages[-1].content
        assert "What is 17 * 23, as in the picture?" in asked
        # Still refused for a vision backbone: other parts, an image without an address, an image
        # outside a user message.
        audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
        with pytest.raises(openai.BadRequestError, match="is a 'input_audio' part"):
            client.chat.completions.create(model="xolver", messages=_asking_with(audio))
        with pytest.raises(openai.BadRequestError, match="no usable image address") as bad:
            client.chat.completions.create(model="xolver", messages=_asking_with(_image("file:///etc/passwd")))
        assert bad.value.code == "invalid_value"
        # The client's types allow no image in a system message; the server must still refuse one.
        in_system = [{"role": "system", "content": [_image()]}, *QUESTION]
        with pytest.raises(openai.BadRequestError, match="images go in user messages"):
            client.chat.completions.create(model="xolver", messages=cast("list[ChatCompletionMessageParam]", in_system))


# ----------------------------------------------------------------------------- HTTP surface


def test_malformed_bodies_are_400() -> None:
    model = FunctionModel(reply)
    with _served(model) as (url, _):
        for content in (b"{not json", b"[]", b'{"model": "xolver"}'):
            bad = httpx.post(f"{url}/chat/completions", content=content, headers={"Content-Type": "application/json"})
            assert bad.status_code == 400, content
            assert bad.headers["x-should-retry"] == "false"
            assert bad.json()["error"]["type"] == "invalid_request_error"


def test_cors_preflight_without_a_key_and_headers_on_responses() -> None:
    model = FunctionModel(reply)
    settings = ServerSettings(api_key="s3cret", cors_origins=("http://app.example",), request_timeout=60)
    preflight = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with _served(model, settings) as (url, _):
        answer = httpx.options(f"{url}/chat/completions", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://app.example"
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        refused = httpx.get(f"{url}/models", headers={"Origin": "http://app.example"})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "http://app.example"
        body = {"model": "xolver", "messages": QUESTION}
        ok = httpx.post(
            f"{url}/chat/completions",
            json=body,
            headers={"Origin": "http://app.example", "Authorization": "Bearer s3cret"},
            timeout=60,
        )
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://app.example"
        other = httpx.options(f"{url}/chat/completions", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with _served(model) as (url, _):  # no --cors-origin: no CORS headers at all
        plain = httpx.options(f"{url}/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in plain.headers


def test_other_routes_are_openai_shaped_404s() -> None:
    model = FunctionModel(reply)
    with _served(model) as (url, counted):
        client = openai.OpenAI(base_url=url, api_key="unused")
        with pytest.raises(openai.NotFoundError, match="serves /v1/chat/completions") as info:
            client.responses.create(model="xolver", input="What is 17 * 23?")
        assert info.value.response.headers["x-should-retry"] == "false" and counted.posts == 1
        with pytest.raises(openai.NotFoundError, match="not served here"):
            client.chat.completions.create(model="gpt-4o", messages=QUESTION)


def test_responses_are_the_openai_types_with_raw_headers() -> None:
    model = FunctionModel(reply)
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="xolver", messages=QUESTION)
        completion = raw.parse()
    assert raw.headers["x-request-id"] == completion.id and completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion" and completion.choices[0].message.role == "assistant"
    data = raw.http_response.json()
    assert data["choices"][0]["logprobs"] is None and data["choices"][0]["message"]["refusal"] is None


def test_response_format_in_a_stream() -> None:
    model = FunctionModel(_shaping('{"answer": 391}'))
    with _served(model) as (url, _):
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        stream = client.chat.completions.create(
            model="xolver", messages=QUESTION, stream=True, response_format={"type": "json_object"}
        )
        content = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert json.loads(content) == {"answer": 391}
