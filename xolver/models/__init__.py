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

    Raises:
        UserError: as `resolve_model`.
    """
    return resolve_model(
        config.model,
        api_base=config.api_base,
        api_key=config.api_key,
        timeout=config.request_timeout,
        reasoning=config.reasoning,
        reasoning_effort=config.reasoning_effort,
        max_concurrency=config.max_concurrency,
    )
