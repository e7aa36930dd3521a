"""Models made of models: one per role (`RoleModels`), fallbacks on provider failure (`FallbackModel`),
and a model whose every call carries a request's images (`ImageAttachingModel`).

Both are ordinary `Model`s, so the agents, the runner and the ledger see one model: a call's
`CallTags.role` picks the role's model, and the `ModelResponse.model` of each call names the model
that answered it (the ledger records that name).

    >>> judge = FallbackModel([resolve_model("openai/gpt-4o"), resolve_model("anthropic/claude-3-5-haiku-latest")])
    >>> team = RoleModels(resolve_model("openai/gpt-4o-mini"), {"judge": judge})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from xolver.errors import ModelError, UserError
from xolver.models.base import (
    ImagePart,
    Model,
    ModelRequest,
    ModelResponse,
    StreamingModel,
    TextSink,
    supports_function_calling,
    supports_vision,
)

__all__ = ["FallbackModel", "ImageAttachingModel", "RoleModels", "close_model"]


def close_model(model: object) -> None:
    """Close a model that has a ``close`` method (the in-process backend frees its weights)."""
    close = getattr(model, "close", None)
    if callable(close):
        close()


async def _complete(model: Model, request: ModelRequest, on_text: TextSink | None) -> ModelResponse:
    if on_text is not None and isinstance(model, StreamingModel):
        return await model.complete_streaming(request, on_text)
    return await model.complete(request)


def _reasoning(models: Sequence[Model]) -> bool:
    # `completion_cap` raises a role's cap for a reasoning model: any reasoning member needs it.
    return any(getattr(m, "reasoning", False) is True for m in models)


class FallbackModel:
    """The first model that answers, in order: each next one is tried when the one before fails with
    a `ModelError` (after that model's own retries: a rate limit, an outage, an unknown model, a
    refused request). When every model fails, the last failure is raised.

    Args:
        models: the primary model first, then its fallbacks.
    """

    def __init__(self, models: Sequence[Model]) -> None:
        if not models:
            raise UserError("FallbackModel needs at least one model")
        self.models: tuple[Model, ...] = tuple(models)
        self.fallbacks_used = 0
        """Calls a fallback answered because the model before it failed."""

    @property
    def name(self) -> str:
        return self.models[0].name

    @property
    def reasoning(self) -> bool:
        return _reasoning(self.models)

    @property
    def supports_function_calling(self) -> bool:
        """Only when every model does: a fallback must be able to read the same request."""
        return all(supports_function_calling(m) for m in self.models)

    @property
    def supports_vision(self) -> bool:
        """Only when every model does: a fallback must be able to read the same request."""
        return all(supports_vision(m) for m in self.models)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._first(request, None)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        return await self._first(request, on_text)

    async def _first(self, request: ModelRequest, on_text: TextSink | None) -> ModelResponse:
        failure: ModelError | None = None
        for index, model in enumerate(self.models):
            try:
                response = await _complete(model, request, on_text)
            except ModelError as e:
                failure = e
                continue
            self.fallbacks_used += index > 0
            return response
        assert failure is not None  # the loop ran at least once
        raise failure

    def close(self) -> None:
        for model in self.models:
            close_model(model)


class RoleModels:
    """A model per role: a call goes to the model of its `CallTags.role`, else to `default`.

    Args:
        default: the model of every role not in `by_role` (its name is this model's name).
        by_role: role (``"judge"``, ``"solver"``, ...) -> its model.
    """

    def __init__(self, default: Model, by_role: Mapping[str, Model]) -> None:
        self.default = default
        self.by_role = dict(by_role)

    @property
    def name(self) -> str:
        return self.default.name

    @property
    def reasoning(self) -> bool:
        return _reasoning([self.default, *self.by_role.values()])

    @property
    def supports_function_calling(self) -> bool:
        """Whether the default model does (`supports_function_calling` with a role asks that role's)."""
        return supports_function_calling(self.default)

    @property
    def supports_vision(self) -> bool:
        """Only when every role's model does: every role reads the problem, images included."""
        return all(supports_vision(m) for m in [self.default, *self.by_role.values()])

    def for_role(self, role: str) -> Model:
        """The model that answers `role`'s calls."""
        return self.by_role.get(role, self.default)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self.for_role(request.tags.role).complete(request)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        return await _complete(self.for_role(request.tags.role), request, on_text)

    def close(self) -> None:
        seen: set[int] = set()
        for model in [self.default, *self.by_role.values()]:
            if id(model) not in seen:
                seen.add(id(model))
                close_model(model)


class ImageAttachingModel:
    """`model`, with `images` added to the first user message of every call.

    A solve's problem is text, and every role (planner, solvers, judge, verifier) reads it in the
    first user message of its calls; the images of the problem (an OpenAI client's ``image_url``
    parts) go there too, so each role sees what the client sent. Build it only on a model that
    `supports_vision`; it does not check. It does not own `model`: closing it is the caller's.

    Args:
        model: the vision model that answers.
        images: the images, in the order the client sent them.
    """

    def __init__(self, model: Model, images: Sequence[ImagePart]) -> None:
        self.model = model
        self.images = tuple(images)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def reasoning(self) -> bool:
        return getattr(self.model, "reasoning", False) is True

    @property
    def supports_function_calling(self) -> bool:
        return supports_function_calling(self.model)

    @property
    def supports_vision(self) -> bool:
        return supports_vision(self.model)

    def for_role(self, role: str) -> Model:
        """The model that answers `role`'s calls (for names and capabilities; calls go through here)."""
        for_role = getattr(self.model, "for_role", None)
        return for_role(role) if callable(for_role) else self.model

    def attach(self, request: ModelRequest) -> ModelRequest:
        """`request` with the images on its first user message (unchanged when it has none)."""
        messages = list(request.messages)
        for i, message in enumerate(messages):
            if message.role == "user":
                messages[i] = replace(message, images=(*message.images, *self.images))
                return replace(request, messages=tuple(messages))
        return request

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self.model.complete(self.attach(request))

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        return await _complete(self.model, self.attach(request), on_text)
