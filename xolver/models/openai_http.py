"""The chat-completions call of an OpenAI-compatible server on this machine, made with httpx directly.

`LiteLLMModel` sends an ``openai/<name>`` model whose `api_base` is a loopback URL (llama.cpp's
server, vLLM, LM Studio, Ollama's ``/v1``) here instead of through litellm. For such a server
litellm's provider routing, parameter mapping and price table add nothing, and importing litellm
(about 2,500 modules) is most of what the first solve of a process costs: about 2.5 s on two
cores, against a few milliseconds for httpx, which LangGraph's dependencies load anyway.

What it does not do: translate parameters per provider or drop the ones a server rejects (the
request carries what `LiteLLMModel` chose; these servers ignore fields they do not know), price a
call (a server on this machine costs nothing), or retry (the model's retry policy does that).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ChatReply", "EndpointError", "chat_completion"]

DeltaSink = Callable[[Literal["content", "reasoning"], str], None]

# HTTP status -> the name litellm gives the failure, so one table (`litellm._classify`) sorts both.
_BY_STATUS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    408: "Timeout",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "Timeout",
}
_CONTEXT_WINDOW = re.compile(r"context (length|size|window)|too many tokens|prompt is too long", re.IGNORECASE)


@dataclass(frozen=True)
class ChatReply:
    """What the server returned: the reply, its separate reasoning, why it stopped, token counts."""

    content: str
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[tuple[str, str, str], ...] = ()
    """Native tool calls as ``(id, name, arguments JSON)``."""


class EndpointError(Exception):
    """A failed call; `kind` is litellm's name for the failure (``RateLimitError``, ``Timeout``, ...)."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status_code = status


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every call: building one (httpx does per client) takes ~40 ms."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _failure(status: int, text: str) -> EndpointError:
    detail = text.strip()
    try:
        error = json.loads(text).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            detail = message
    except (ValueError, AttributeError):
        pass
    detail = detail.splitlines()[0][:300] if detail else f"HTTP {status}"
    kind = _BY_STATUS.get(status, "InternalServerError" if status >= 500 else "APIError")
    if status == 400 and _CONTEXT_WINDOW.search(detail):
        kind = "ContextWindowExceededError"
    return EndpointError(kind, detail, status=status)


def _reasoning_of(message: Mapping[str, Any]) -> str | None:
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) and value else None


def _tokens(usage: Any) -> tuple[int, int]:
    if not isinstance(usage, dict):
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _reply(data: Any) -> ChatReply:
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError, AttributeError) as e:
        raise EndpointError("InternalServerError", "the response had no choices") from e
    prompt, completion = _tokens(data.get("usage"))
    return ChatReply(
        content=message.get("content") or "",
        reasoning=_reasoning_of(message),
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=prompt,
        completion_tokens=completion,
        tool_calls=_tool_calls(message.get("tool_calls")),
    )


def _tool_calls(raw: Any) -> tuple[tuple[str, str, str], ...]:
    """OpenAI ``tool_calls`` entries as ``(id, name, arguments)``; malformed entries are skipped."""
    found: list[tuple[str, str, str]] = []
    for i, call in enumerate(raw or []):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not function.get("name"):
            continue
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        found.append((str(call.get("id") or f"call_{i}"), str(function["name"]), text))
    return tuple(found)


async def _read_stream(lines: Any, on_delta: DeltaSink) -> ChatReply:
    content: list[str] = []
    reasoning: list[str] = []
    finish: str | None = None
    prompt = completion = 0
    calls: dict[int, dict[str, Any]] = {}  # streamed tool calls arrive in pieces, by index
    async for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        try:
            chunk = json.loads(payload)
        except ValueError as e:
            raise EndpointError("InternalServerError", f"unreadable stream chunk {payload[:80]!r}") from e
        if chunk.get("usage"):
            prompt, completion = _tokens(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            thought = _reasoning_of(delta)
            if thought:
                reasoning.append(thought)
                on_delta("reasoning", thought)
            if delta.get("content"):
                content.append(delta["content"])
                on_delta("content", delta["content"])
            for piece in delta.get("tool_calls") or []:
                slot = calls.setdefault(int(piece.get("index", len(calls))), {"function": {"arguments": ""}})
                if piece.get("id"):
                    slot["id"] = piece["id"]
                function = piece.get("function") or {}
                if function.get("name"):
                    slot["function"]["name"] = function["name"]
                slot["function"]["arguments"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    tool_calls = _tool_calls([calls[i] for i in sorted(calls)])
    return ChatReply("".join(content), "".join(reasoning) or None, finish, prompt, completion, tool_calls)


async def chat_completion(
    api_base: str,
    body: Mapping[str, Any],
    *,
    api_key: str | None,
    timeout: float,
    on_delta: DeltaSink | None = None,
) -> ChatReply:
    """POST `body` to ``<api_base>/chat/completions`` and read the reply (streamed when `on_delta`
    is given, which then receives each piece of content and of separate reasoning).

    Args:
        api_base: the server's base URL, e.g. ``http://127.0.0.1:8080/v1``.
        body: the request: ``model``, ``messages`` and sampling parameters.
        api_key: sent as a bearer token when given.
        timeout: seconds for the whole attempt, connection to last byte.
        on_delta: called with ``("content", text)`` or ``("reasoning", text)`` while it streams.

    Raises:
        EndpointError: the server answered with an error status, could not be reached, did not
            finish within `timeout`, or sent something unreadable.
    """
    import httpx

    url = api_base.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def call() -> ChatReply:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=_tls()) as client:
            if on_delta is None:
                response = await client.post(url, json=dict(body), headers=headers)
                if response.status_code >= 400:
                    raise _failure(response.status_code, response.text)
                try:
                    data = response.json()
                except ValueError as e:
                    raise EndpointError("InternalServerError", "the response was not JSON") from e
                return _reply(data)
            streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
            async with client.stream("POST", url, json=streamed, headers=headers) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _failure(response.status_code, response.text)
                return await _read_stream(response.aiter_lines(), on_delta)

    try:
        return await asyncio.wait_for(call(), timeout)
    except (asyncio.TimeoutError, httpx.TimeoutException) as e:
        raise EndpointError("Timeout", f"no complete reply within {timeout:g} s") from e
    except httpx.TransportError as e:
        raise EndpointError("APIConnectionError", f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from e
