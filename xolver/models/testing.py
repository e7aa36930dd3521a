"""Models for tests: `ScriptedModel` (a queue of replies) and `FunctionModel` (a function of the request).

Both count tokens as whitespace-separated words, so budgets and ledgers behave as with a real model,
and take ``<think>`` blocks out of a reply into `ModelResponse.reasoning` as the real backends do
(script ``"<think>...</think>Final answer: 5"`` to test a reasoning model). They never touch the
network, so they work while real requests are blocked.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from types import TracebackType

from xolver.models.base import ModelRequest, ModelResponse, TextSink, ToolInvocation, Usage
from xolver.models.reasoning import split_reasoning

__all__ = ["FunctionModel", "Reply", "ScriptExhausted", "ScriptedModel", "UnusedScript", "tool_call"]

Reply = str | ModelResponse | BaseException


_call_ids = itertools.count(1)


def tool_call(name: str, text: str = "", /, **arguments: object) -> ModelResponse:
    """A scripted reply that calls tool `name` natively with `arguments` (and says `text`).

    Example:
        >>> tool_call("python", code="print(6 * 7)").tool_calls[0].name
        'python'
    """
    call = ToolInvocation(id=f"call_{next(_call_ids)}", name=name, arguments=json.dumps(arguments))
    return ModelResponse(text=text, tool_calls=(call,), finish_reason="tool_calls")


class ScriptExhausted(AssertionError):
    """A `ScriptedModel` was asked for more replies than it was given."""


class UnusedScript(AssertionError):
    """A `ScriptedModel` ended with replies nobody asked for."""


def _usage(request: ModelRequest, text: str) -> Usage:
    prompt = sum(len(m.content.split()) for m in request.messages)
    return Usage(prompt_tokens=prompt, completion_tokens=len(text.split()))


async def _replay(text: str, on_text: TextSink) -> None:
    for piece in re.findall(r"\S+\s*|\s+", text):
        on_text(piece)
        await asyncio.sleep(0)


def _as_response(request: ModelRequest, reply: str | ModelResponse, name: str) -> ModelResponse:
    """A reply as a real backend would return it: think blocks moved to `reasoning`, usage counted.

    A string counts all its words (thinking included) as completion tokens and finishes with
    ``"stop"``. A `ModelResponse` is kept as given (so a test can set ``finish_reason="length"``),
    except that think tags still in its text are split off when it has no `reasoning`, zero usage
    is filled in by counting words, and an empty model name becomes this model's.
    """
    if isinstance(reply, ModelResponse):
        text, reasoning = reply.text, reply.reasoning
        if not reasoning:
            text, reasoning = split_reasoning(text)
        usage = reply.usage if reply.usage != Usage() else _usage(request, reply.text + " " + reply.reasoning)
        return replace(reply, text=text, reasoning=reasoning, usage=usage, model=reply.model or name)
    text, reasoning = split_reasoning(reply)
    return ModelResponse(
        text=text, usage=_usage(request, reply), cost=0.0, model=name, reasoning=reasoning, finish_reason="stop"
    )


class ScriptedModel:
    """Answers from a fixed script and fails the test when the script and the calls disagree.

    Args:
        replies: either one sequence of replies used in call order, or a mapping from the caller's
            role (``"planner"``, ``"solver"``, ``"judge"``, ``"verifier"``, ...) to its own queue.
            A reply is a string, a `ModelResponse`, or an exception instance to raise.
        name: the model name reported in responses.

    Use it as a context manager (or call `assert_used_up()`) to fail when replies are left unused;
    a call after the script ran out raises `ScriptExhausted`.

    With ``function_calling=True`` it reports native tool calling, so solvers offer it tools as
    definitions (`ModelRequest.tools`); script a `ModelResponse` with `tool_calls` (see `tool_call`)
    to answer with calls, as an OpenAI-style model does. With ``vision=True`` it reports that it takes
    images (`Message.images`), as a vision model does.
    """

    def __init__(
        self,
        replies: Iterable[Reply] | Mapping[str, Iterable[Reply]],
        *,
        name: str = "scripted",
        function_calling: bool = False,
        vision: bool = False,
    ) -> None:
        self._name = name
        self.supports_function_calling = function_calling
        self.supports_vision = vision
        self._queues: dict[str | None, deque[Reply]]
        if isinstance(replies, Mapping):
            self._queues = {role: deque(items) for role, items in replies.items()}
        else:
            self._queues = {None: deque(replies)}
        self.requests: list[ModelRequest] = []

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        key: str | None = None if None in self._queues else request.tags.role
        queue = self._queues.get(key)
        if not queue:
            where = "" if key is None else f" for role {key!r}"
            raise ScriptExhausted(f"ScriptedModel ran out of replies{where} at call {len(self.requests)}")
        reply = queue.popleft()
        await asyncio.sleep(0)  # a real model always yields to the loop
        if isinstance(reply, BaseException):
            raise reply
        return _as_response(request, reply, self._name)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        """`complete`, reporting the reply word by word."""
        response = await self.complete(request)
        await _replay(response.text, on_text)
        return response

    @property
    def remaining(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def assert_used_up(self) -> None:
        """Raise `UnusedScript` if any scripted reply was never requested."""
        left = {k or "*": len(q) for k, q in self._queues.items() if q}
        if left:
            raise UnusedScript(f"ScriptedModel has unused replies: {left}")

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.assert_used_up()


Handler = Callable[[ModelRequest], Reply | Awaitable[Reply]]


class FunctionModel:
    """Answers each request with `function(request)`, sync or async.

    The function may return a string or `ModelResponse` (e.g. with ``finish_reason="length"`` for a
    truncated reply), or raise; this is how tests build models that sleep (concurrency), fail on the
    n-th call (retries), or answer by role. ``function_calling`` and ``vision`` are as for `ScriptedModel`.
    """

    def __init__(
        self, function: Handler, *, name: str = "function", function_calling: bool = False, vision: bool = False
    ) -> None:
        self._function = function
        self._name = name
        self.supports_function_calling = function_calling
        self.supports_vision = vision
        self.requests: list[ModelRequest] = []

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        result = self._function(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, BaseException):
            raise result
        return _as_response(request, result, self._name)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        """`complete`, reporting the reply word by word."""
        response = await self.complete(request)
        await _replay(response.text, on_text)
        return response
