"""The model seam: what every model backend takes and returns.

Agents never talk to a provider library. They build a `ModelRequest` and await
`Model.complete(request)`; backends (`LiteLLMModel`, `LlamaCppModel`, the test models) implement that
one method.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "CallTags",
    "ImagePart",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "StreamingModel",
    "TextSink",
    "ToolInvocation",
    "ToolSpec",
    "Usage",
    "allow_model_requests",
    "model_requests_allowed",
    "supports_function_calling",
    "supports_vision",
]

Role = Literal["system", "user", "assistant", "tool"]
AgentKind = Literal["planner", "solver", "judge", "verifier", "learner", "retriever", "other"]


@dataclass(frozen=True)
class ToolInvocation:
    """A native tool call the model asked for (OpenAI's ``tool_calls`` entry).

    Attributes:
        id: the provider's id of the call; the tool's reply names it.
        name: the tool's name.
        arguments: the arguments as the model wrote them (JSON text, not yet validated).
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to a model that calls tools natively: a name, what it does, a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_openai(self) -> dict[str, Any]:
        """The tool as an OpenAI ``tools`` entry (litellm translates it for other providers)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class ImagePart:
    """An image that goes with a message's text (OpenAI's ``image_url`` content part).

    Attributes:
        url: an ``https://`` address or a ``data:image/...;base64,...`` URL.
        detail: OpenAI's ``detail`` (``low``, ``high``, ``auto``); None: the provider's default.
    """

    url: str
    detail: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """The image as an OpenAI ``image_url`` content part (litellm translates it for other providers)."""
        image: dict[str, Any] = {"url": self.url}
        if self.detail is not None:
            image["detail"] = self.detail
        return {"type": "image_url", "image_url": image}


@dataclass(frozen=True)
class Message:
    """One chat message.

    An assistant message may carry the native tool calls the model made (`tool_calls`); the reply to
    each is a ``tool`` message naming the call it answers (`tool_call_id`). A user message may carry
    `images`, sent after its text; only a model that `supports_vision` is sent any.
    """

    role: Role
    content: str
    tool_calls: tuple[ToolInvocation, ...] = ()
    tool_call_id: str | None = None
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True)
class ModelSettings:
    """Per-call generation settings; `None` leaves the backend's default."""

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    timeout: float | None = None
    reasoning_effort: str | None = None
    """For reasoning models: ``"low"``, ``"medium"`` or ``"high"``; other models ignore it."""

    def greedy(self) -> ModelSettings:
        """These settings at temperature 0 (checks and extraction are not creative acts)."""
        return replace(self, temperature=0.0)


@dataclass(frozen=True)
class CallTags:
    """Who is calling: used by the ledger, the events and `ScriptedModel`'s per-role queues."""

    role: AgentKind = "other"
    agent: int | None = None
    round: int | None = None
    purpose: str = "answer"


@dataclass(frozen=True)
class ModelRequest:
    """Everything a backend needs for one completion.

    `tools` are offered as native tool definitions; only backends that call tools natively
    (`supports_function_calling`) are sent any.
    """

    messages: Sequence[Message]
    settings: ModelSettings = field(default_factory=ModelSettings)
    tags: CallTags = field(default_factory=CallTags)
    tools: tuple[ToolSpec, ...] = ()


@dataclass(frozen=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ModelResponse:
    """What a model returned: the reply, its thinking, usage, and cost in US dollars (0 when unknown).

    Attributes:
        text: the visible reply, never containing ``<think>`` blocks; this is all agents see.
        reasoning: the model's thinking, from the provider's reasoning field and from think tags
            in the reply ("" when there was none or the provider hides it).
        finish_reason: why generation stopped, as the provider says: ``"stop"``, ``"length"`` (the
            token cap), ``"content_filter"``, ...; None when unknown.
        cached: whether the reply came from the model-call cache (`xolver.models.cache`) instead of
            the provider; a cached reply costs nothing.
        tool_calls: native tool calls the model made instead of (or with) its text.
    """

    text: str
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    model: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    cached: bool = False
    tool_calls: tuple[ToolInvocation, ...] = ()

    @property
    def truncated(self) -> bool:
        """Whether the reply was cut off by the completion-token cap."""
        return self.finish_reason == "length"


@runtime_checkable
class Model(Protocol):
    """An async chat model.

    Implementations must be safe to call concurrently from one event loop; a backend that is not
    (llama.cpp) serialises calls itself.
    """

    @property
    def name(self) -> str:
        """A human-readable model id, e.g. ``openai/gpt-4o-mini`` or ``local/smollm2``."""
        ...

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer one request or raise a `ModelError`."""
        ...


def supports_function_calling(model: object, role: str | None = None) -> bool:
    """Whether `model` (the model of `role`, for a per-role model) takes native tool definitions.

    A backend says so with a ``supports_function_calling`` attribute (a bool, or a property that
    may consult the provider's model table); a backend without one gets fenced blocks instead.
    """
    try:
        for_role = getattr(model, "for_role", None)
        if role is not None and callable(for_role):
            model = for_role(role)
        return getattr(model, "supports_function_calling", False) is True
    except Exception:  # a capability lookup must never fail a solve
        return False


def supports_vision(model: object) -> bool:
    """Whether `model` takes images with a message (`Message.images`).

    A backend says so with a ``supports_vision`` attribute (`LiteLLMModel` asks litellm's model
    table); a backend without one, or whose lookup fails, is text-only.
    """
    try:
        return getattr(model, "supports_vision", False) is True
    except Exception:  # a capability lookup must never fail a request
        return False


TextSink = Callable[[str], None]


@runtime_checkable
class StreamingModel(Model, Protocol):
    """A model that can also report its text as it is generated.

    `complete_streaming` returns the same `ModelResponse` as `complete` and calls `on_text` with
    each new piece of text (on the event loop's thread) while the model generates.
    """

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse: ...


# Real (network) model requests can be switched off process-wide, so a test suite can prove it never
# reaches a provider. The env var lets a subprocess (the CLI under test) inherit the switch.
_ALLOW_ENV = "XOLVER_ALLOW_MODEL_REQUESTS"
_allow_override: bool | None = None


def model_requests_allowed() -> bool:
    """Whether backends that reach a provider may send requests."""
    if _allow_override is not None:
        return _allow_override
    return os.environ.get(_ALLOW_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


@contextlib.contextmanager
def allow_model_requests(allow: bool = True) -> Iterator[None]:
    """Temporarily allow (or block) real model requests in this process."""
    global _allow_override
    previous = _allow_override
    _allow_override = allow
    try:
        yield
    finally:
        _allow_override = previous


def set_model_requests_allowed(allow: bool | None) -> None:
    """Allow or block real model requests for the rest of the process (`None`: follow the env)."""
    global _allow_override
    _allow_override = allow
