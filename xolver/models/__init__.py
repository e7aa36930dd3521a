"""Model backends behind one async protocol, and `resolve_model` to pick one from a string.

Model strings:
    ``local``                 the embedded SmolLM2-135M-Instruct GGUF (llama-cpp-python, offline)
    ``local/<path.gguf>``     any GGUF file, in-process
    anything else             a litellm model string: ``openai/gpt-4o-mini``, ``anthropic/...``,
                              ``ollama_chat/qwen2.5``, ``openai/<name>`` with an api_base, ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xolver.models.base import (
    CallTags,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    Usage,
    allow_model_requests,
    model_requests_allowed,
    set_model_requests_allowed,
)
from xolver.models.reasoning import REASONING_CAP_FLOOR, completion_cap, is_reasoning_model, split_reasoning

if TYPE_CHECKING:
    from xolver.config import XolverConfig

__all__ = [
    "REASONING_CAP_FLOOR",
    "CallTags",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "Usage",
    "allow_model_requests",
    "completion_cap",
    "is_reasoning_model",
    "model_from_config",
    "model_requests_allowed",
    "resolve_model",
    "set_model_requests_allowed",
    "split_reasoning",
]

LOCAL = "local"


def resolve_model(
    spec: str | Model,
    *,
    api_base: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
    reasoning: bool | None = None,
    reasoning_effort: str | None = None,
    max_concurrency: int | None = None,
) -> Model:
    """Turn a model string (or an existing `Model`) into a `Model`.

    Args:
        spec: a model string (see the module docstring) or a `Model`, returned as it is.
        api_base: base URL of the server (litellm models).
        api_key: the provider's key (litellm models).
        timeout: seconds per request attempt (litellm models).
        reasoning: whether it is a reasoning model; None detects it (`is_reasoning_model`).
        reasoning_effort: ``"low"``, ``"medium"`` or ``"high"`` for reasoning models (litellm models).
        max_concurrency: requests in flight at most (litellm models); None: 1 for a server on this
            machine, else no limit; 0: no limit. The in-process model runs one call at a time anyway.

    Raises:
        UserError: the string names no usable model, or the local backend is not installed.
    """
    if not isinstance(spec, str):
        return spec
    text = spec.strip()
    if text == LOCAL or text.startswith(LOCAL + "/"):
        from xolver.models.local import LlamaCppModel

        path = text[len(LOCAL) + 1 :] or None
        return LlamaCppModel(path, reasoning=reasoning)
    from xolver.models.litellm import LiteLLMModel

    return LiteLLMModel(
        text,
        api_base=api_base,
        api_key=api_key,
        timeout=timeout,
        reasoning=reasoning,
        reasoning_effort=reasoning_effort,
        max_concurrency=max_concurrency,
    )


def model_from_config(config: XolverConfig) -> Model:
    """The model an `XolverConfig` names, with its server, key, timeout, reasoning and concurrency
    settings: the one place every surface (API, CLI, chat, eval, server) builds its model from config.

    With ``models`` (a model per role), ``fallback_models`` or ``cache`` set, the result is made of
    models (`xolver.models.composite`, `xolver.models.cache`): each role's model, with the fallbacks
    after it, behind the model-call cache. One model string (with the same server and key) is built
    once, however many roles name it. Without them it is the plain backend.

    Raises:
        UserError: as `resolve_model`.
    """
    from xolver.config import RoleModel

    built: dict[tuple[str, str | None, str | None], Model] = {}

    def build(spec: str, api_base: str | None, api_key: str | None, *, main: bool = False) -> Model:
        key = (spec.strip(), api_base, api_key)
        if key not in built:
            built[key] = resolve_model(
                spec,
                api_base=api_base,
                api_key=api_key,
                timeout=config.request_timeout,
                reasoning=config.reasoning if main else None,
                reasoning_effort=config.reasoning_effort,
                max_concurrency=config.max_concurrency,
            )
        return built[key]

    primary = build(config.model, config.api_base, config.api_key, main=True)
    if not (config.models or config.fallback_models or config.cache):
        return primary

    from xolver.config import xolver_home
    from xolver.models.cache import CachedModel, ModelCallCache
    from xolver.models.composite import FallbackModel, RoleModels

    fallbacks = [build(spec, None, None) for spec in config.fallback_models]
    cache = ModelCallCache(config.cache_path or xolver_home() / "cache.sqlite") if config.cache else None

    def chain(model: Model, api_base: str | None) -> Model:
        others = [f for f in fallbacks if f is not model]
        out: Model = FallbackModel([model, *others]) if others else model
        if cache is not None:
            identity = f"{model.name}@{api_base}" if api_base else model.name
            out = CachedModel(out, cache, identity=identity, owns_cache=True)
        return out

    default = chain(primary, config.api_base)
    by_role: dict[str, Model] = {}
    for role, spec in config.models.items():
        if isinstance(spec, RoleModel):
            by_role[role] = chain(build(spec.model, spec.api_base, spec.api_key), spec.api_base)
        elif spec.strip() == config.model.strip():
            by_role[role] = default
        else:
            by_role[role] = chain(build(spec, None, None), None)
    return RoleModels(default, by_role) if by_role else default
